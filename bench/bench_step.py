"""Python side of bench_step.sh: the DCGAN step of bench_step.cpp in PyTorch, timed the same way.

The nets are the PyTorch DCGAN tutorial's (64x64); the step is the tutorial's: D on real, D on
fake.detach(), D update, then the G step through a frozen D; BCE, Adam(2e-4, (0.5, 0.999)).

--form tutorial: the tutorial as written (fp32, NCHW, torch.optim.Adam's default implementation).
--form best: the best plain PyTorch: channels-last nets and batch, bf16 autocast around the forward
passes, and Adam(fused=True).

--device cuda: the same on the GPU with the batch already there (launch/gpu_check.sh). TF32 is off
unless --tf32 (PyTorch allows it in cuDNN by default, so the tutorial as run gets it). BCELoss is
computed on float32 outside autocast, which refuses it on CUDA (on the CPU autocast runs it in
float32 anyway, so both forms compute the same loss as before).
"""
import contextlib
import argparse
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from dcgan_dist_models import Discriminator, Generator, weights_init  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--form", choices=("tutorial", "best"), default="tutorial")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--tf32", action="store_true", help="allow TF32 in cuDNN and matmuls (CUDA)")
    a = p.parse_args()
    dev = torch.device(a.device)
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    best = a.form == "best"
    nz, ngf, ndf, nc, size = 100, 64, 64, 3, 64

    torch.set_num_threads(a.threads)
    torch.manual_seed(999)
    g, d = Generator(nz, ngf, nc), Discriminator(ndf, nc)
    g.apply(weights_init)
    d.apply(weights_init)
    fmt = torch.channels_last if best else torch.contiguous_format
    g, d = g.to(dev, memory_format=fmt), d.to(dev, memory_format=fmt)
    adam = {"fused": True} if best else {}
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), **adam)
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), **adam)
    bce = nn.BCELoss()
    real = (torch.rand(a.batch, nc, size, size, device=dev) * 2 - 1).contiguous(memory_format=fmt)

    def autocast():
        if best:
            return torch.autocast(device_type=a.device, dtype=torch.bfloat16)
        return contextlib.nullcontext()
    sink = 0.0

    def step():
        nonlocal sink
        # D on real, then on fake.detach(), then the D update.
        d.zero_grad()
        with autocast():
            out = d(real)
        err_d_real = bce(out.float(), torch.full((a.batch,), 1.0, device=dev))
        err_d_real.backward()
        d_x = out.mean().item()
        with autocast():
            fake = g(torch.randn(a.batch, nz, 1, 1, device=dev))
            out = d(fake.detach())
        err_d_fake = bce(out.float(), torch.full((a.batch,), 0.0, device=dev))
        err_d_fake.backward()
        d_g_z1 = out.mean().item()
        opt_d.step()
        # G through the updated, frozen D.
        g.zero_grad()
        d.requires_grad_(False)
        with autocast():
            out = d(fake)
        err_g = bce(out.float(), torch.full((a.batch,), 1.0, device=dev))
        err_g.backward()
        d.requires_grad_(True)
        d_g_z2 = out.mean().item()
        opt_g.step()
        sink += (err_d_real + err_d_fake).item() + err_g.item() + d_x + d_g_z1 + d_g_z2

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    for _ in range(a.warmup):
        step()
    sync()
    wall_ms, cpu_ms = [], []
    for _ in range(a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        sync()
        cpu_ms.append((time.process_time() - c0) * 1000.0)
        wall_ms.append((time.perf_counter() - t0) * 1000.0)
    # Upper median, as bench_step.cpp takes it.
    med = lambda v: sorted(v)[len(v) // 2]
    print(f"python form={a.form} device={a.device} tf32={int(a.tf32)} median_ms={med(wall_ms):.2f} "
          f"min_ms={min(wall_ms):.2f} cpu_ms={med(cpu_ms):.2f} img_s={a.batch * 1000.0 / med(wall_ms):.1f} "
          f"threads={a.threads} batch={a.batch} size={size} torch={torch.__version__}")

if __name__ == "__main__":
    main()
