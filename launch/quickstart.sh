#!/usr/bin/env bash
# Set-up, then the main job on the embedded default data: Fashion-MNIST (Debian's
# dataset-fashion-mnist, installed by setup.sh) packed at 32x32 grey, a CPU DCGAN trained under
# `mpirun -np 2` for a few minutes, and a sample grid rendered from the last checkpoint.
# With DCGAN_QUICKSTART_MODEL=ae or vae, the autoencoder or the VAE instead, plus a grid of
# Fashion-MNIST test images (never trained on) over their reconstructions.
#
# Environment: DCGAN_QUICKSTART_MODEL (dcgan | ae | vae; default dcgan), DCGAN_QUICKSTART_DIR
# (default runs/quickstart, runs/quickstart-ae, runs/quickstart-vae), DCGAN_QUICKSTART_STEPS (1200).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$DCGAN_ROOT/launch/setup.sh"

model="${DCGAN_QUICKSTART_MODEL:-dcgan}"
case "$model" in
  dcgan) out="${DCGAN_QUICKSTART_DIR:-$DCGAN_ROOT/runs/quickstart}" ;;
  ae|vae) out="${DCGAN_QUICKSTART_DIR:-$DCGAN_ROOT/runs/quickstart-$model}" ;;
  *) DCGAN_EXIT=2 dcgan_die "DCGAN_QUICKSTART_MODEL must be dcgan, ae or vae, got '$model'" ;;
esac
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
if [ "$model" != dcgan ] && [ ! -f "$out/test/manifest.json" ]; then  # 10,000 test images
  "$DCGAN_BIN/dcgan-prep" pack --source idx --input "${images/train-images/t10k-images}" \
    --size 32 --channels 1 --out "$out/test" --overwrite --no-progress
fi

# 2. Train: 2 CPU ranks x 64 images = global batch 128, the tutorial's recipe at ngf/ndf 32 (the
#    AE and VAE: encoder D's trunk, decoder G, lr 1e-3). A rerun continues from the latest
#    checkpoint.
resume=()
[ -f "$out/run/checkpoints/latest" ] && resume=(--resume)
dcgan_mpirun -np 2 "$DCGAN_BIN/dcgan-train" --model "$model" --data "$out/data" --out "$out/run" \
  --device cpu --threads 1 --ngf 32 --ndf 32 --batch-size 64 --steps "$steps" \
  --log-every 100 --sample-every 400 --ckpt-every 400 "${resume[@]}"

# 3. Render a fresh grid from the final checkpoint: decoded N(0, 1) codes (for the AE, the
#    material's point: its code space is not N(0, 1)), and for the AE/VAE 32 test images over
#    their reconstructions.
"$DCGAN_BIN/dcgan-sample" --ckpt "$out/run" --out "$out/samples.png" --n 64 --seed 1
if [ "$model" != dcgan ]; then
  "$DCGAN_BIN/dcgan-sample" --ckpt "$out/run" --out "$out/reconstructions.png" --n 32 \
    --reconstruct "$out/test"
fi

shopt -s nullglob
grids=("$out"/run/samples/recon-*.png "$out"/run/samples/step-*.png)
last="${grids[${#grids[@]} - 1]}"
echo
echo "quickstart: data          $out/data"
echo "quickstart: run           $out/run (metrics.jsonl, config.toml, checkpoints/, logs/)"
echo "quickstart: training grid $last"
echo "quickstart: sample grid   $out/samples.png"
[ "$model" = dcgan ] || echo "quickstart: reconstructions $out/reconstructions.png (test images)"
