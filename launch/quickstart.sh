#!/usr/bin/env bash
# Set-up, then the main job on the embedded default data: Fashion-MNIST (Debian's
# dataset-fashion-mnist, installed by setup.sh) packed at 32x32 grey, a CPU DCGAN trained under
# `mpirun -np 2` for a few minutes, and a sample grid rendered from the last checkpoint.
#
# Environment: DCGAN_QUICKSTART_DIR (default runs/quickstart), DCGAN_QUICKSTART_STEPS (1200).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$DCGAN_ROOT/launch/setup.sh"

out="${DCGAN_QUICKSTART_DIR:-$DCGAN_ROOT/runs/quickstart}"
steps="${DCGAN_QUICKSTART_STEPS:-1200}"
images=$(dpkg -L dataset-fashion-mnist 2>/dev/null | grep 'train-images-idx3-ubyte.gz$' || true)
labels=$(dpkg -L dataset-fashion-mnist 2>/dev/null | grep 'train-labels-idx1-ubyte.gz$' || true)
[ -f "$images" ] || DCGAN_EXIT=3 dcgan_die "Fashion-MNIST not found (Debian package dataset-fashion-mnist); run launch/setup.sh as root"
mkdir -p "$out"

# 1. Pack once: 60,000 images -> one verified HDF5 shard (a few seconds).
if [ ! -f "$out/data/manifest.json" ]; then
  "$DCGAN_BIN/dcgan-prep" pack --source idx --input "$images" --labels "$labels" \
    --size 32 --channels 1 --out "$out/data" --overwrite --no-progress
fi
"$DCGAN_BIN/dcgan-prep" verify "$out/data"

# 2. Train: 2 CPU ranks x 64 images = global batch 128, the tutorial's recipe at ngf/ndf 32.
#    A rerun continues from the latest checkpoint.
resume=()
[ -f "$out/run/checkpoints/latest" ] && resume=(--resume)
dcgan_mpirun -np 2 "$DCGAN_BIN/dcgan-train" --data "$out/data" --out "$out/run" \
  --device cpu --threads 1 --ngf 32 --ndf 32 --batch-size 64 --steps "$steps" \
  --log-every 100 --sample-every 400 --ckpt-every 400 "${resume[@]}"

# 3. Render a fresh grid from the final checkpoint.
"$DCGAN_BIN/dcgan-sample" --ckpt "$out/run" --out "$out/samples.png" --n 64 --seed 1

last=$(ls "$out"/run/samples/step-*.png | tail -n 1)
echo
echo "quickstart: data          $out/data"
echo "quickstart: run           $out/run (metrics.jsonl, config.toml, checkpoints/, logs/)"
echo "quickstart: training grid $last"
echo "quickstart: sample grid   $out/samples.png"
