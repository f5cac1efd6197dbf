#!/usr/bin/env bash
# FD over training steps of the quickstart's DCGAN (Fashion-MNIST 32x32, 2 CPU ranks, global
# batch 128, ngf = ndf = 32) with and without the generator EMA, at a fixed step count, measured
# during training (--eval-every) with a Fashion-MNIST classifier's features (fashion_features.py;
# its FDs compare these runs, they are not FIDs). Writes docs/figures/fd-ema-fashion.png and
# prints the table.
#   bench/fd_ema.sh [STEPS=1000] [EVERY=100] [SAMPLES=2000] [KIMGS=10,1]   (env: DCGAN_FD_DIR)
# KIMGS: the EMA half-lives to run, in thousands of images, besides the run without EMA.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../launch/common.sh"
"$DCGAN_ROOT/launch/setup.sh" >/dev/null
steps="${1:-1000}" every="${2:-100}" samples="${3:-2000}" kimgs="${4:-10,1}"
work="${DCGAN_FD_DIR:-$DCGAN_ROOT/runs/fd-ema}"
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
fast=(--precision fp32)
grep -q -w -E 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null && fast=(--precision bf16 --channels-last)
runs=(raw)
for k in ${kimgs//,/ }; do runs+=("ema-$k"); done
for run in "${runs[@]}"; do
  [ -d "$work/$run/checkpoints/$(printf 'step-%06d' "$steps")" ] && continue  # done already
  extra=()
  [ "$run" = raw ] || extra=(--ema-halflife-kimg "${run#ema-}")
  dcgan_mpirun -np 2 "$DCGAN_BIN/dcgan-train" --data "$work/data" --out "$work/$run" --overwrite \
    --device cpu --threads 1 --ngf 32 --ndf 32 --batch-size 64 --steps "$steps" "${fast[@]}" \
    --log-every "$every" --sample-every "$steps" --ckpt-every "$steps" --eval-every "$every" \
    --eval-features "$work/features.pt" --eval-samples "$samples" "${extra[@]}" >"$work/$run.log" 2>&1 \
    || { tail -5 "$work/$run.log"; dcgan_die "the $run run failed"; }
done
"$plot_py" - "$work" "$DCGAN_ROOT/docs/figures/fd-ema-fashion.png" "$samples" "${runs[@]}" <<'PYEOF'
import json, os, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
work, out, samples, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
curves = {}
for run in runs:
    rows = [json.loads(l) for l in open(os.path.join(work, run, "metrics.jsonl"))]
    curves[run] = [(r["step"], r["fd"]) for r in rows if "fd" in r]
label = {r: "G (the tutorial)" if r == "raw" else f"G EMA, half-life {r[4:]} kimg" for r in runs}
print("| step | " + " | ".join(f"FD, {label[r]}" for r in runs) + " |")
print("|---:|" + "---:|" * len(runs))
for i, (step, _) in enumerate(curves["raw"]):
    print(f"| {step} | " + " | ".join(f"{curves[r][i][1]:.2f}" for r in runs) + " |")
fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
for run, marker in zip(runs, "os^v"):
    ax.plot(*zip(*curves[run]), marker + "-", label=label[run])
ax.set_xlabel("step (global batch 128)")
ax.set_ylabel(f"FD ({samples} samples)")
ax.set_yscale("log")
ax.grid(True, alpha=0.3)
ax.legend()
ax.set_title("Quickstart DCGAN, Fashion-MNIST 32x32, 2 CPU ranks;\nFD with a Fashion-MNIST classifier's features", fontsize=9)
fig.tight_layout()
fig.savefig(out)
print("wrote", out)
PYEOF
