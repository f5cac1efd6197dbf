#!/usr/bin/env bash
# Packing and reading speed of dcgan-prep next to a PIL + h5py reference, on one generated
# CelebA-shaped folder (178x218 JPEGs). Usage: bench/bench_prep.sh [COUNT] [WORK_DIR]
# Env: DCGAN_BIN_DIR (default build/bin), DCGAN_PYTHON (default: the project venv's python).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../launch/common.sh"
count="${1:-2000}"
work="${2:-$(mktemp -d)}"
bin="${DCGAN_BIN_DIR:-$DCGAN_BIN}"
py="${DCGAN_PYTHON:-$DCGAN_VENV/bin/python}"
echo "bench_prep: $count JPEGs in $work, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/bench_prep" --work "$work" --count "$count" 2>/dev/null
echo "avg JPEG size: $(du -sb "$work/celeba/img_align_celeba" | cut -f1 | awk -v n="$count" '{printf "%.0f bytes", $1 / n}')"
echo "Python reference (PIL $("$py" -c 'import PIL; print(PIL.__version__)'), h5py $("$py" -c 'import h5py; print(h5py.__version__)'))"
"$py" "$(dirname "${BASH_SOURCE[0]}")/prep_reference.py" "$work/celeba" "$work/reference.h5" 20000
