#!/usr/bin/env python3
"""Independent reference for one DCGAN training step (test_gan_step.cpp, PythonReference).

The C++ test exports, into DIR, the initial weights of G and D (raw little-endian float32, in
parameter order), a real batch and the latent batch, plus manifest.json with the shapes and the
hyperparameters. This script rebuilds the PyTorch tutorial's networks from those shapes with
torch.nn (ConvTranspose2d/BatchNorm2d/ReLU/Tanh and Conv2d/LeakyReLU/BatchNorm2d/Sigmoid, bias-free
convs), runs the tutorial's step verbatim (D on real, D on detached fake, optD.step, G on D(fake),
optG.step, torch.optim.Adam) and writes results.json (losses and D outputs) and the updated
parameters and BN running statistics as out_<net>_<i>.bin, for the C++ test to compare.

Usage: reference_step.py DIR   (run with the torch of the project's venv)
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn


def load(directory, name, shape):
    data = np.fromfile(os.path.join(directory, name), dtype="<f4")
    return torch.from_numpy(data.reshape(shape).copy())


def save(directory, name, tensor):
    tensor.detach().cpu().contiguous().numpy().astype("<f4").tofile(os.path.join(directory, name))


def build_generator(conv_shapes):
    layers = []
    for i, shape in enumerate(conv_shapes):  # ConvTranspose2d weight: [in, out, 4, 4]
        first, last = i == 0, i == len(conv_shapes) - 1
        layers.append(nn.ConvTranspose2d(shape[0], shape[1], 4, 1 if first else 2, 0 if first else 1,
                                         bias=False))
        layers += [nn.Tanh()] if last else [nn.BatchNorm2d(shape[1]), nn.ReLU(True)]
    return nn.Sequential(*layers)


def build_discriminator(conv_shapes):
    layers = []
    for i, shape in enumerate(conv_shapes):  # Conv2d weight: [out, in, 4, 4]
        first, last = i == 0, i == len(conv_shapes) - 1
        layers.append(nn.Conv2d(shape[1], shape[0], 4, 1 if last else 2, 0 if last else 1, bias=False))
        if last:
            layers.append(nn.Sigmoid())
        else:
            if not first:
                layers.append(nn.BatchNorm2d(shape[0]))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


def fill(net, directory, prefix, shapes):
    params = list(net.parameters())
    assert [list(p.shape) for p in params] == shapes, (prefix, shapes)
    with torch.no_grad():
        for i, (p, shape) in enumerate(zip(params, shapes)):
            p.copy_(load(directory, f"{prefix}_{i}.bin", shape))


def running_stats(net):
    return [b for name, b in net.named_buffers() if name.endswith(("running_mean", "running_var"))]


def main(directory):
    with open(os.path.join(directory, "manifest.json")) as f:
        m = json.load(f)
    torch.set_num_threads(1)
    g_shapes, d_shapes = m["g_shapes"], m["d_shapes"]
    net_g = build_generator([s for s in g_shapes if len(s) == 4])
    net_d = build_discriminator([s for s in d_shapes if len(s) == 4])
    fill(net_g, directory, "g", g_shapes)
    fill(net_d, directory, "d", d_shapes)
    real = load(directory, "real.bin", m["real_shape"])
    noise = load(directory, "z.bin", m["z_shape"])
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(net_d.parameters(), lr=m["lr"], betas=(m["beta1"], m["beta2"]))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=m["lr"], betas=(m["beta1"], m["beta2"]))
    b = real.size(0)

    # The tutorial's step.
    net_d.zero_grad()
    label = torch.full((b,), m["real_label"], dtype=torch.float)
    output = net_d(real).view(-1)
    err_d_real = criterion(output, label)
    err_d_real.backward()
    d_x = output.mean().item()
    fake = net_g(noise)
    label.fill_(0.0)
    output = net_d(fake.detach()).view(-1)
    err_d_fake = criterion(output, label)
    err_d_fake.backward()
    d_g_z1 = output.mean().item()
    err_d = err_d_real + err_d_fake
    opt_d.step()
    net_g.zero_grad()
    label.fill_(m["real_label"])
    output = net_d(fake).view(-1)
    err_g = criterion(output, label)
    err_g.backward()
    d_g_z2 = output.mean().item()
    opt_g.step()

    results = {"loss_d": err_d.item(), "loss_g": err_g.item(), "d_x": d_x, "d_g_z1": d_g_z1,
               "d_g_z2": d_g_z2}
    with open(os.path.join(directory, "results.json"), "w") as f:
        json.dump(results, f)
    for prefix, net in (("g", net_g), ("d", net_d)):
        for i, p in enumerate(net.parameters()):
            save(directory, f"out_{prefix}_{i}.bin", p)
        for i, buf in enumerate(running_stats(net)):
            save(directory, f"out_{prefix}_stat_{i}.bin", buf)


if __name__ == "__main__":
    main(sys.argv[1])
