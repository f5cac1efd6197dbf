"""A Fashion-MNIST feature extractor for FD on the quickstart's data (bench/fd_ema.sh).

Trains a small classifier on the Fashion-MNIST training set (IDX files, resized 28 -> 32 and
scaled to [-1, 1] as the packed 32x32 data set is) and saves its 128-wide penultimate layer as a
TorchScript extractor for dcgan-eval --features and dcgan-train --eval-features: float32
[N, 1, 32, 32] in [-1, 1] -> [N, 128]. Its FDs compare runs with each other; they are not FIDs.

  fashion_features.py IMAGES.gz LABELS.gz TEST_IMAGES.gz TEST_LABELS.gz OUT.pt [--epochs 8]
"""
import argparse
import gzip

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def images(path):
    x = torch.from_numpy(idx(path).copy()).float().div(255).unsqueeze(1)
    return F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False) * 2 - 1


def block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class Classifier(nn.Module):
    """Three stages of two 3x3 conv-BN-ReLU each (32, 64, 128 channels), pooled to 128 features."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            *block(1, 32), *block(32, 32), nn.MaxPool2d(2),       # 16
            *block(32, 64), *block(64, 64), nn.MaxPool2d(2),      # 8
            *block(64, 128), *block(128, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(128, 128), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, 10))

    def forward(self, x):
        return self.head(self.features(x))


def augment(x):
    """A random horizontal flip and a random shift of up to 2 pixels (zero-padded), per image."""
    flip = torch.rand(len(x)) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (2, 2, 2, 2), value=-1.0)
    dx, dy = torch.randint(0, 5, (2,))
    return padded[:, :, dy:dy + 32, dx:dx + 32]


class Extractor(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.features = features

    def forward(self, x):
        return self.features(x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("train_images")
    p.add_argument("train_labels")
    p.add_argument("test_images")
    p.add_argument("test_labels")
    p.add_argument("out")
    p.add_argument("--epochs", type=int, default=8)
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    x, y = images(a.train_images), torch.from_numpy(idx(a.train_labels).astype(np.int64))
    xt, yt = images(a.test_images), torch.from_numpy(idx(a.test_labels).astype(np.int64))
    net = Classifier()
    steps = a.epochs * ((len(x) + 127) // 128)
    opt = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 4e-3, total_steps=steps)
    for epoch in range(a.epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            b = order[i:i + 128]
            loss = F.cross_entropy(net(augment(x[b])), y[b], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            acc = sum((net(xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum().item()
                      for i in range(0, len(xt), 1000)) / len(xt)
        net.train()
        print(f"epoch {epoch + 1}: test accuracy {acc:.4f}", flush=True)
    extractor = torch.jit.script(Extractor(net.features).eval())
    extractor.save(a.out)
    print(f"saved {a.out}: [N, 1, 32, 32] -> [N, 128], test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
