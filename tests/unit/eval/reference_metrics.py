#!/usr/bin/env python3
"""Independent reference for FD and KID (test_metrics.cpp).

Reads DIR/features.pt (a state_dict file: real, fake float32 [N, D]) and DIR/config.json (seed,
subsets, subset_size), and writes DIR/results.json:
  fd   pytorch-fid's computation: numpy mean and np.cov, scipy.linalg.sqrtm(sigma1 @ sigma2)
       (real part), |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr(covmean)
  kid  torch-fidelity's: per subset, m = min(subset_size, N_real, N_fake) fake rows then real rows
       drawn as torch.randperm(n, generator)[:m] from one generator seeded `seed`; the cubic
       polynomial kernel (x.y / D + 1)^3; t = (sum(K_xx + K_yy) - trace) / (m - 1) - 2 sum(K_xy)
       / m; MMD = t / m; the mean and np.std (ddof 0) over subsets. numpy float64.
Usage: reference_metrics.py DIR   (run with the project's venv)
"""
import json
import os
import sys

import numpy as np
import scipy.linalg
import torch


def fd(real, fake):
    mu1, mu2 = real.mean(0), fake.mean(0)
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1.dot(s2))
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def kid(real, fake, seed, subsets, subset_size):
    d = real.shape[1]
    m = min(subset_size, len(real), len(fake))
    g = torch.Generator().manual_seed(seed)
    mmds = []
    for _ in range(subsets):
        x = fake[torch.randperm(len(fake), generator=g)[:m].numpy()]
        y = real[torch.randperm(len(real), generator=g)[:m].numpy()]
        a = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
        b = (x @ y.T / d + 1) ** 3
        t = (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
        mmds.append(t / m)
    return float(np.mean(mmds)), float(np.std(mmds))


def main(directory):
    tensors = torch.load(os.path.join(directory, "features.pt"))
    config = json.load(open(os.path.join(directory, "config.json")))
    real = tensors["real"].double().numpy()
    fake = tensors["fake"].double().numpy()
    k, k_std = kid(real, fake, config["seed"], config["subsets"], config["subset_size"])
    out = {"fd": fd(real, fake), "kid": k, "kid_std": k_std}
    with open(os.path.join(directory, "results.json"), "w") as f:
        json.dump(out, f)  # floats as repr: every digit


if __name__ == "__main__":
    main(sys.argv[1])
