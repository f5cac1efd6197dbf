#!/usr/bin/env bash
# Set-up, then the main job on the embedded default data: Fashion-MNIST (Debian's
# dataset-fashion-mnist, installed by setup.sh) packed at 32x32 grey, a CPU DCGAN trained under
# `mpirun -np 2` for as many steps as fit in 150 s (--time-limit: every rank stops at the same
# step and saves), and a sample grid rendered from the last checkpoint (its generator EMA). On a
# CPU with AMX it trains in bf16 (--precision bf16), on one without bf16 in fp32, and on one with
# AVX512-BF16 alone in whichever a 200-step probe of each finds faster; all channels-last.
# With DCGAN_QUICKSTART_MODEL=ae or vae, the autoencoder or the VAE instead, plus a grid of
# Fashion-MNIST test images (never trained on) over their reconstructions.
#
# Environment: DCGAN_QUICKSTART_MODEL (dcgan | ae | vae; default dcgan), DCGAN_QUICKSTART_DIR
# (default runs/quickstart, runs/quickstart-ae, runs/quickstart-vae), DCGAN_QUICKSTART_SECONDS
# (training time budget; dcgan 150, ae/vae 0 = none), DCGAN_QUICKSTART_STEPS (the most steps;
# dcgan 100000, ae/vae 1200), DCGAN_QUICKSTART_PRECISION (fp32 | bf16; dcgan: as above; ae/vae:
# fp32).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# Only what the quickstart runs is compiled; ./tests/run.sh builds the rest in the same build/.
DCGAN_BUILD_TARGETS="dcgan-prep dcgan-train dcgan-sample" "$DCGAN_ROOT/launch/setup.sh"

model="${DCGAN_QUICKSTART_MODEL:-dcgan}"
case "$model" in
  dcgan) out="${DCGAN_QUICKSTART_DIR:-$DCGAN_ROOT/runs/quickstart}" ;;
  ae|vae) out="${DCGAN_QUICKSTART_DIR:-$DCGAN_ROOT/runs/quickstart-$model}" ;;
  *) DCGAN_EXIT=2 dcgan_die "DCGAN_QUICKSTART_MODEL must be dcgan, ae or vae, got '$model'" ;;
esac
# The DCGAN trains for a time budget with the setting that shows the lowest FD over the first
# minutes of a CPU without bf16 (bench/fd_recipes.sh; the figure is in docs/evaluation.md): the
# tutorial's loss and step at ngf = ndf = 16, 2 ranks x 32 images, lr 4e-4 and a generator EMA
# of 2 kimg, channels-last, in the precision chosen below. The AE and the VAE
# keep their measured 1,200 fp32 steps at ngf = ndf = 32, 2 ranks x 64 images.
if [ "$model" = dcgan ]; then
  steps="${DCGAN_QUICKSTART_STEPS:-100000}"
  seconds="${DCGAN_QUICKSTART_SECONDS:-150}"
  recipe=(--ngf 16 --ndf 16 --batch-size 32 --lr 4e-4 --ema-halflife-kimg 2 --channels-last
          --log-every 200 --sample-every 1000 --ckpt-every 1000)
  # bf16 where the CPU has AMX (1.4x fp32's steps in 150 s), fp32 where it has no bf16 at all.
  # With AVX512-BF16 alone it depends on the CPU (a 2-core Intel Xeon trained 0.79-0.87x fp32's
  # steps in bf16), so a probe of each decides once the data is packed.
  if [ -z "${DCGAN_QUICKSTART_PRECISION:-}" ]; then
    DCGAN_QUICKSTART_PRECISION=fp32
    if grep -q -w amx_bf16 /proc/cpuinfo 2>/dev/null; then
      DCGAN_QUICKSTART_PRECISION=bf16
    elif grep -q -w avx512_bf16 /proc/cpuinfo 2>/dev/null; then
      DCGAN_QUICKSTART_PRECISION=probe
    fi
  fi
else
  steps="${DCGAN_QUICKSTART_STEPS:-1200}"
  seconds="${DCGAN_QUICKSTART_SECONDS:-0}"
  recipe=(--ngf 32 --ndf 32 --batch-size 64 --log-every 100 --sample-every 500 --ckpt-every 500)
  DCGAN_QUICKSTART_PRECISION="${DCGAN_QUICKSTART_PRECISION:-fp32}"
fi
case "$DCGAN_QUICKSTART_PRECISION" in
  bf16|fp32|probe) ;;
  *) DCGAN_EXIT=2 dcgan_die "DCGAN_QUICKSTART_PRECISION must be fp32 or bf16, got '$DCGAN_QUICKSTART_PRECISION'" ;;
esac
images=$(dpkg -L dataset-fashion-mnist 2>/dev/null | grep 'train-images-idx3-ubyte.gz$' || true)
labels=$(dpkg -L dataset-fashion-mnist 2>/dev/null | grep 'train-labels-idx1-ubyte.gz$' || true)
[ -f "$images" ] || DCGAN_EXIT=3 dcgan_die "Fashion-MNIST not found (Debian package dataset-fashion-mnist); run launch/setup.sh as root"
mkdir -p "$out"

# 1. Pack once: 60,000 images -> one verified HDF5 shard (a few seconds).
if [ ! -f "$out/data/manifest.json" ]; then
  echo "quickstart: packing Fashion-MNIST's 60,000 training images at 32x32 (about 10 s)"
  "$DCGAN_BIN/dcgan-prep" pack --source idx --input "$images" --labels "$labels" \
    --size 32 --channels 1 --out "$out/data" --overwrite --no-progress
fi
"$DCGAN_BIN/dcgan-prep" verify "$out/data"
if [ "$model" != dcgan ] && [ ! -f "$out/test/manifest.json" ]; then  # 10,000 test images
  "$DCGAN_BIN/dcgan-prep" pack --source idx --input "${images/train-images/t10k-images}" \
    --size 32 --channels 1 --out "$out/test" --overwrite --no-progress
fi

# The probe: 200 steps of the recipe in each precision, in a scratch run directory; the mean of
# the trainer's img/s over steps 51-200 (three readings; the first 50 warm up) decides. It is
# meant for large gaps (bf16 at twice fp32's speed, or half); a near tie may go either way and
# costs little either way. A probe that fails counts as 0 img/s.
probe_rate() {  # probe_rate PRECISION: prints img/s
  local dir="$out/probe-$1" args=("${recipe[@]}") i
  for i in "${!args[@]}"; do [ "${args[$i]}" = --log-every ] && args[$((i + 1))]=50; done
  rm -rf "$dir"
  dcgan_mpirun -np 2 "$DCGAN_BIN/dcgan-train" --model "$model" --data "$out/data" --out "$dir" \
    --device cpu --threads 1 --steps 200 "${args[@]}" --precision "$1" > "$dir.log" 2>&1 || true
  grep -o '([0-9.]* img/s)' "$dir.log" | tr -d '(' \
    | awk 'NR > 1 { s += $1; n++ } END { printf "%.0f\n", n ? s / n : 0 }'
  rm -rf "$dir" "$dir.log"
}
if [ "$DCGAN_QUICKSTART_PRECISION" = probe ] && [ -f "$out/run/checkpoints/latest" ]; then
  # A rerun continues in the precision its run was started in.
  DCGAN_QUICKSTART_PRECISION=$(sed -n "s/^precision *= *['\"]\([a-z0-9]*\)['\"].*/\1/p" "$out/run/config.toml")
  DCGAN_QUICKSTART_PRECISION=${DCGAN_QUICKSTART_PRECISION:-fp32}
fi
if [ "$DCGAN_QUICKSTART_PRECISION" = probe ]; then
  echo "quickstart: this CPU has AVX512-BF16 without AMX: 200 steps in fp32 and in bf16 decide (about 15 s)"
  fp32_rate=$(probe_rate fp32)
  bf16_rate=$(probe_rate bf16)
  DCGAN_QUICKSTART_PRECISION=$(awk -v f="$fp32_rate" -v b="$bf16_rate" 'BEGIN { print (b > f ? "bf16" : "fp32") }')
  echo "quickstart: fp32 $fp32_rate img/s, bf16 $bf16_rate img/s: $DCGAN_QUICKSTART_PRECISION"
fi
case "$DCGAN_QUICKSTART_PRECISION" in
  bf16) fast=(--precision bf16 --channels-last) ;;
  *) fast=(--precision fp32) ;;
esac

# 2. Train on 2 CPU ranks ($recipe above; the AE and VAE: encoder D's trunk, decoder G, lr 1e-3)
#    for $seconds s of training (0: all $steps steps). A rerun continues from the latest checkpoint.
resume=()
[ -f "$out/run/checkpoints/latest" ] && resume=(--resume)
# Under mpirun rank 0's stderr is a pipe: ask for its progress line when ours is a terminal.
progress=()
[ -t 2 ] && progress=(--progress)
if [ "$seconds" != 0 ]; then
  echo "quickstart: training the $model on 2 CPU ranks for $seconds s ($DCGAN_QUICKSTART_PRECISION)"
else
  echo "quickstart: training the $model on 2 CPU ranks for $steps steps ($DCGAN_QUICKSTART_PRECISION; a few minutes)"
fi
dcgan_mpirun -np 2 "$DCGAN_BIN/dcgan-train" --model "$model" --data "$out/data" --out "$out/run" \
  --device cpu --threads 1 --steps "$steps" --time-limit "$seconds" "${recipe[@]}" "${fast[@]}" \
  "${resume[@]}" "${progress[@]}"

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
echo "quickstart: trained       $(cat "$out/run/checkpoints/latest") ($DCGAN_QUICKSTART_PRECISION$([ "$seconds" = 0 ] || echo ", ${seconds} s budget"))"
echo "quickstart: training grid $last"
echo "quickstart: sample grid   $out/samples.png"
[ "$model" = dcgan ] || echo "quickstart: reconstructions $out/reconstructions.png (test images)"
