"""Writes a small TorchScript feature extractor for the evaluator's tests (no Inception weights):
a seeded stride-4 conv, tanh, a global mean and a linear layer to 8 features; float32 NCHW in
[-1, 1] -> [N, 8], for any image size that is a multiple of 4.

  eval_features.py OUT.pt CHANNELS [--bad]   (--bad: returns [N, 8, 1] instead, to be refused)
"""
import sys

import torch
import torch.nn as nn


class Features(nn.Module):
    def __init__(self, channels: int, bad: bool):
        super().__init__()
        self.conv = nn.Conv2d(channels, 16, 4, 4)
        self.fc = nn.Linear(16, 8)
        self.bad = bad

    def forward(self, x):
        h = torch.tanh(self.conv(x)).mean((2, 3))
        f = self.fc(h)
        return f.unsqueeze(2) if self.bad else f


torch.manual_seed(3)
torch.jit.script(Features(int(sys.argv[2]), "--bad" in sys.argv).eval()).save(sys.argv[1])
