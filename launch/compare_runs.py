"""Compares the parameters and buffers of two runs' latest checkpoints.

    python3 launch/compare_runs.py RUN_A RUN_B [--rtol 1e-4]

Loads every module file of each checkpoint (generator.pt, discriminator.pt, or encoder.pt and
decoder.pt; torch.jit archives as dcgan-train writes them) and prints one line: for each module,
the relative L2 distance ||a - b|| / ||b|| over all its floating tensors (parameters and BN
statistics, as one vector), the largest of them, and the largest absolute difference of any one
element. Whole modules, not tensor by tensor: a BN bias starts at zero and stays near it, and
Adam's first updates are lr * sign(g), so float rounding that flips a near-zero gradient moves a
weight by 2 lr; per tensor that reads as a large relative error of a tiny tensor, per module it
is rounding (a 2-rank sync-BN run against 1 rank at twice the batch: about 4e-5; without sync-BN:
about 1e-2). Exit 0 when the largest module distance is at most --rtol, 1 when it is not or the
checkpoints hold different tensors, 3 when a checkpoint is missing. Only needs torch
(launch/gpu_check.sh runs it on the device machine's own Python).
"""
import argparse
import os
import sys

import torch

MODULE_FILES = ("generator.pt", "discriminator.pt", "encoder.pt", "decoder.pt")


def latest(run):
    """The step directory that RUN/checkpoints/latest names (a link or a file holding a name)."""
    ckpts = os.path.join(run, "checkpoints")
    link = os.path.join(ckpts, "latest")
    if os.path.islink(link):
        return os.path.realpath(link)
    if os.path.isfile(link):
        with open(link) as fh:
            return os.path.join(ckpts, os.path.basename(fh.read().strip()))
    if os.path.isfile(os.path.join(run, "checkpoint.toml")):
        return run
    print(f"compare_runs: error: {run} has no checkpoints/latest", file=sys.stderr)
    sys.exit(3)


def tensors(step_dir):
    out = {}
    for f in MODULE_FILES:
        path = os.path.join(step_dir, f)
        if os.path.exists(path):
            for k, v in torch.jit.load(path, map_location="cpu").state_dict().items():
                out[f"{f[:-3]}.{k}"] = v
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--rtol", type=float, default=1e-4)
    a = p.parse_args()
    ta, tb = tensors(latest(a.run_a)), tensors(latest(a.run_b))
    if not ta or sorted(ta) != sorted(tb):
        print(f"compare_runs: FAIL: the checkpoints hold different tensors ({len(ta)} against {len(tb)})")
        return 1
    worst_rel, worst_rel_name, worst_abs, worst_abs_name = 0.0, "", 0.0, ""
    for module in sorted({name.split(".", 1)[0] for name in ta}):
        names = [n for n in ta if n.startswith(module + ".") and ta[n].is_floating_point()]
        for n in names:
            if ta[n].shape != tb[n].shape:
                print(f"compare_runs: FAIL: {n} is {tuple(ta[n].shape)} against {tuple(tb[n].shape)}")
                return 1
            diff = (ta[n].double() - tb[n].double()).abs()
            if diff.numel() and diff.max().item() > worst_abs:
                worst_abs, worst_abs_name = diff.max().item(), n
        x = torch.cat([ta[n].double().flatten() for n in names])
        y = torch.cat([tb[n].double().flatten() for n in names])
        rel = ((x - y).norm() / y.norm().clamp_min(1e-30)).item()
        print(f"compare_runs: {module}: {len(names)} tensors, relative L2 difference {rel:.3g}")
        if rel > worst_rel or rel != rel:
            worst_rel, worst_rel_name = rel, module
    ok = worst_rel <= a.rtol
    print(f"compare_runs: {'ok' if ok else 'FAIL'}: {len(ta)} tensors, largest relative difference "
          f"{worst_rel:.3g} ({worst_rel_name or '-'}), largest absolute {worst_abs:.3g} "
          f"({worst_abs_name or '-'}), tolerance {a.rtol:g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
