#!/usr/bin/env bash
# FD over wall-clock seconds of the quickstart's DCGAN under a few settings: what a new user's
# first run shows at the end of its time budget. Every setting keeps the tutorial's loss and step
# (BCE, D then G, Adam) and 2 CPU ranks under mpirun, on Fashion-MNIST packed at 32x32 grey, as
# launch/quickstart.sh trains it. Each setting trains for SECONDS (--time-limit) with a checkpoint
# every few hundred steps; afterwards each checkpoint is scored by dcgan-eval: FD of 1,024 samples (EMA
# weights where the run has them) against the training set, on the features of a Fashion-MNIST
# classifier (bench/fashion_features.py; its FDs compare these runs, they are not FIDs). The time
# of a checkpoint is the training time up to it, summed from metrics.jsonl's intervals.
# Prints a table (one row per setting: steps, ms/step, FD at a quarter, half and the whole budget)
# and writes docs/figures/fd-seconds-fashion.png.
#
#   bench/fd_recipes.sh [SECONDS=150] [SETTING...]   (default: every setting below)
# env: DCGAN_FD_DIR (work directory, default runs/fd-recipes), DCGAN_FD_PRECISION (fp32 | bf16;
# default fp32, the path of a CPU without AVX512-BF16).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../launch/common.sh"
"$DCGAN_ROOT/launch/setup.sh" >/dev/null

# name | flags after the common ones (2 ranks, 1 thread each; --ngf/--ndf/--batch-size per rank).
# --ckpt-every sets the points of the curve: about ten in 150 s at this CPU's fp32 speed.
declare -A SETTINGS=(
  [today]="--ngf 32 --ndf 32 --batch-size 64 --ckpt-every 200"
  [today-cl]="--ngf 32 --ndf 32 --batch-size 64 --channels-last --ckpt-every 200"
  [n16]="--ngf 16 --ndf 16 --batch-size 64 --ckpt-every 400"
  [n16-ema]="--ngf 16 --ndf 16 --batch-size 64 --ema-halflife-kimg 1 --ckpt-every 400"
  [n32-b32]="--ngf 32 --ndf 32 --batch-size 32 --ckpt-every 300"
  [n16-b32]="--ngf 16 --ndf 16 --batch-size 32 --ckpt-every 600"
  [n16-b32-ema]="--ngf 16 --ndf 16 --batch-size 32 --ema-halflife-kimg 1 --ckpt-every 600"
  [n16-b32-lr4]="--ngf 16 --ndf 16 --batch-size 32 --lr 4e-4 --ckpt-every 600"
  [n24-b32-ema]="--ngf 24 --ndf 24 --batch-size 32 --ema-halflife-kimg 1 --ckpt-every 400"
  [n16-b16]="--ngf 16 --ndf 16 --batch-size 16 --ckpt-every 1000"
  [n16-b32-lr4-ema]="--ngf 16 --ndf 16 --batch-size 32 --lr 4e-4 --ema-halflife-kimg 2 --ckpt-every 600"
  [n8-b32]="--ngf 8 --ndf 8 --batch-size 32 --ckpt-every 1000"
)
ORDER=(today today-cl n16 n16-ema n32-b32 n16-b32 n16-b32-ema n16-b32-lr4 n24-b32-ema n16-b16
       n16-b32-lr4-ema n8-b32)

seconds="${1:-150}"
[ $# -gt 0 ] && shift
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=("${ORDER[@]}")
for s in "${wanted[@]}"; do
  [ -n "${SETTINGS[$s]:-}" ] || DCGAN_EXIT=2 dcgan_die "unknown setting '$s' (one of: ${ORDER[*]})"
done
precision="${DCGAN_FD_PRECISION:-fp32}"
work="${DCGAN_FD_DIR:-$DCGAN_ROOT/runs/fd-recipes}"
fm=/usr/share/datasets/fashion-mnist
[ -f "$fm/train-images-idx3-ubyte.gz" ] || dcgan_die "Fashion-MNIST not found (Debian package dataset-fashion-mnist)"
plot_py=/usr/bin/python3  # Debian's, with Debian's matplotlib (a pyenv python3 may come first)
if ! "$plot_py" -c "import matplotlib" 2>/dev/null; then
  [ "$(id -u)" = 0 ] || dcgan_die "needs Debian's python3-matplotlib: apt-get install python3-matplotlib"
  apt-get install -y -q python3-matplotlib >/dev/null
fi

mkdir -p "$work"
[ -f "$work/data/manifest.json" ] || "$DCGAN_BIN/dcgan-prep" pack --source idx \
  --input "$fm/train-images-idx3-ubyte.gz" --labels "$fm/train-labels-idx1-ubyte.gz" --size 32 \
  --channels 1 --out "$work/data" --overwrite --no-progress
[ -f "$work/features.pt" ] || "$DCGAN_VENV/bin/python" "$DCGAN_ROOT/bench/fashion_features.py" \
  "$fm/train-images-idx3-ubyte.gz" "$fm/train-labels-idx1-ubyte.gz" \
  "$fm/t10k-images-idx3-ubyte.gz" "$fm/t10k-labels-idx1-ubyte.gz" "$work/features.pt"

for s in "${wanted[@]}"; do
  run="$work/$precision-${seconds}s/$s"
  mkdir -p "$(dirname "$run")"
  if [ ! -f "$run/fd.tsv" ]; then
    echo "fd_recipes: $s ($precision, $seconds s): ${SETTINGS[$s]}"
    extra=(--precision "$precision")
    [ "$precision" = bf16 ] && extra+=(--channels-last)
    # shellcheck disable=SC2086  # the setting's flags split on purpose
    dcgan_mpirun -np 2 "$DCGAN_BIN/dcgan-train" --data "$work/data" --out "$run" --overwrite \
      --device cpu --threads 1 --steps 1000000 --time-limit "$seconds" "${extra[@]}" \
      --log-every 50 --keep 100000 --sample-every 1000000 \
      ${SETTINGS[$s]} > "$run.log" 2>&1 || { tail -5 "$run.log"; dcgan_die "the $s run failed"; }
    : > "$run/fd.tsv.part"
    for ckpt in "$run"/checkpoints/step-*; do
      step=$((10#${ckpt##*step-}))
      fd=$("$DCGAN_BIN/dcgan-eval" --features "$work/features.pt" --real "$work/data" \
        --ckpt "$ckpt" --samples 1024 --metrics fd --device cpu 2>/dev/null | awk '$1 == "FD" {print $2}')
      [ -n "$fd" ] || dcgan_die "dcgan-eval failed on $ckpt"
      printf '%s\t%s\n' "$step" "$fd" >> "$run/fd.tsv.part"
    done
    mv "$run/fd.tsv.part" "$run/fd.tsv"
  fi
done

"$plot_py" - "$work/$precision-${seconds}s" "$DCGAN_ROOT/docs/figures/fd-seconds-fashion.png" \
  "$seconds" "$precision" "${wanted[@]}" <<'PYEOF'
import json, os, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
work, out, budget, precision, names = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5:]


def seconds_at(run):
    """Training seconds at each logged step, summed from the intervals' images/s."""
    config = open(os.path.join(run, "config.toml")).read()
    batch = int(next(l.split("=")[1] for l in config.splitlines() if l.startswith("batch-size")))
    t, last, at = 0.0, 0, {0: 0.0}
    for line in open(os.path.join(run, "metrics.jsonl")):
        row = json.loads(line)
        t += (row["step"] - last) * batch * 2 / row["images_per_s"]
        last = row["step"]
        at[last] = t
    at["rate"] = batch * 2 / row["images_per_s"]  # seconds per step of the last interval
    return at


def time_of(at, step):
    """The logged time of a step, or the last logged one's plus the last interval's rate."""
    if step in at:
        return at[step]
    logged = max(s for s in at if s != "rate" and s <= step)
    return at[logged] + (step - logged) * at["rate"]


def fd_at(points, s):
    """FD of the last checkpoint at or before s seconds of training."""
    before = [fd for t, fd in points if t <= s + 1e-6]
    return before[-1] if before else float("nan")


curves = {}
for name in names:
    run = os.path.join(work, name)
    at = seconds_at(run)
    rows = [l.split() for l in open(os.path.join(run, "fd.tsv"))]
    curves[name] = sorted((time_of(at, int(step)), float(fd)) for step, fd in rows)
    last_step = max(int(step) for step, _ in rows)
    curves[name + "/steps"] = last_step
    curves[name + "/ms"] = 1000 * time_of(at, last_step) / last_step
print(f"| setting ({precision}, {budget:.0f} s) | steps | ms/step | FD at {budget/4:.0f} s | FD at {budget/2:.0f} s | FD at the end |")
print("|---|---:|---:|---:|---:|---:|")
for name in names:
    pts = curves[name]
    print(f"| {name} | {curves[name + '/steps']} | {curves[name + '/ms']:.0f} | {fd_at(pts, budget / 4):.1f} | "
          f"{fd_at(pts, budget / 2):.1f} | {pts[-1][1]:.1f} |")
fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=120)
for name in names:
    ax.plot(*zip(*curves[name]), ".-", label=name)
ax.set_xlabel("seconds of training (2 CPU ranks)")
ax.set_ylabel("FD (1,024 samples)")
ax.set_yscale("log")
ax.grid(True, alpha=0.3)
ax.legend(fontsize=7)
ax.set_title(f"Quickstart DCGAN settings, Fashion-MNIST 32x32, {precision};\n"
             "FD with a Fashion-MNIST classifier's features", fontsize=9)
fig.tight_layout()
fig.savefig(out)
print("wrote", out)
PYEOF
