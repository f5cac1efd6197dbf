#!/usr/bin/env bash
# CPU step time of the DCGAN step (64x64, nz 100, ngf/ndf 64, batch 32): C++ (build/bin/bench_step)
# against the same step in Python PyTorch of the venv, with the same thread count. The two run
# alternately for --rounds rounds so that load drift on a shared machine hits both alike. Each run
# reports its median wall ms/step and CPU ms/step (process CPU time, all threads). The table shows
# each side's best round (the least disturbed by other jobs) and the median over rounds of the
# paired C++/Python ratio of that round, which cancels slow drifts of the machine's load.
#
# usage: bench/bench_step.sh [--threads N] [--batch B] [--steps N] [--warmup N] [--rounds R]
set -euo pipefail
source "$(dirname "$0")/../launch/common.sh"

threads=2 batch=32 steps=10 warmup=3 rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) DCGAN_EXIT=2 dcgan_die "unknown flag $1 (see --help)" ;;
  esac
done
cpp="$DCGAN_BIN/bench_step"
py="$DCGAN_VENV/bin/python"
[ -x "$cpp" ] || dcgan_die "$cpp not built; HINT: cmake --build $DCGAN_BUILD_DIR --target bench_step"
[ -x "$py" ] || dcgan_die "$py missing; HINT: run launch/setup.sh"

args=(--threads "$threads" --batch "$batch" --steps "$steps" --warmup "$warmup")
# Both sides get exactly `threads` intra-op threads and nothing else in parallel.
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"
cpp_ms=() py_ms=() cpp_cpu=() py_cpu=()
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
for r in $(seq "$rounds"); do
  line=$("$cpp" "${args[@]}"); echo "round $r: $line" >&2
  cpp_ms+=("$(field median_ms <<<"$line")") cpp_cpu+=("$(field cpu_ms <<<"$line")")
  line=$("$py" "$(dirname "$0")/bench_step.py" "${args[@]}"); echo "round $r: $line" >&2
  py_ms+=("$(field median_ms <<<"$line")") py_cpu+=("$(field cpu_ms <<<"$line")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
best() { printf '%s\n' "$@" | sort -g | head -1; }
ratios() { local -n a=$1 b=$2; for i in "${!a[@]}"; do awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN { print x / y }'; done; }
mapfile -t wall_ratio < <(ratios cpp_ms py_ms)
mapfile -t cpu_ratio < <(ratios cpp_cpu py_cpu)
torch_version=$("$py" -c 'import torch; print(torch.__version__)')
echo
echo "DCGAN step on CPU: 64x64, nz 100, ngf/ndf 64, batch $batch, $threads threads, torch $torch_version"
echo "$rounds alternating rounds x $steps timed steps (after $warmup warm-up), median step of each run"
printf '%-30s %14s %14s\n' "" "wall ms/step" "CPU ms/step"
printf '%-30s %14.1f %14.1f\n' "C++ (libtorch), best round" "$(best "${cpp_ms[@]}")" "$(best "${cpp_cpu[@]}")"
printf '%-30s %14.1f %14.1f\n' "Python, best round" "$(best "${py_ms[@]}")" "$(best "${py_cpu[@]}")"
printf '%-30s %14.3f %14.3f   (< 1: C++ faster)\n' "C++ / Python, median of rounds" \
  "$(median "${wall_ratio[@]}")" "$(median "${cpu_ratio[@]}")"
