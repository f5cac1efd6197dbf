#!/usr/bin/env bash
# CPU step time of the DCGAN step (64x64, nz 100, ngf/ndf 64, batch 32): the product's step
# (build/bin/bench_step, built on make_recipe: what dcgan-train runs) in three forms against the
# PyTorch tutorial's loop in Python (bench/bench_step.py) in two, with the same thread count:
#   C++ fp32, libtorch Adam    the product's step before the fast path (--optimizer torch)
#   C++ fp32, fused Adam       today's default
#   C++ fast                   --precision bf16 --channels-last, fused Adam
#   Python tutorial fp32       the tutorial as written
#   Python best                channels-last, bf16 autocast, Adam(fused=True)
# The five run one after another, round after round (--rounds), so load drift on a shared machine
# hits all alike. Each run reports its median wall ms/step and CPU ms/step (all threads). The table
# shows each form's best round (the least disturbed) and the median over rounds of each round's
# ratio to the Python forms, which cancels slow drifts of the machine's load. Targets (issue 11):
# C++ fast <= 0.60x Python tutorial fp32 and <= 1.0x Python best.
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
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) DCGAN_EXIT=2 dcgan_die "unknown flag $1 (see --help)" ;;
  esac
done
cpp="$DCGAN_BIN/bench_step"
py="$DCGAN_VENV/bin/python"
[ -x "$cpp" ] || dcgan_die "$cpp not built; HINT: cmake --build $DCGAN_BUILD_DIR --target bench_step"
[ -x "$py" ] || dcgan_die "$py missing; HINT: run launch/setup.sh"

args=(--threads "$threads" --batch "$batch" --steps "$steps" --warmup "$warmup")
# Every form gets exactly `threads` intra-op threads and nothing else in parallel.
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"
names=("C++ fp32, libtorch Adam" "C++ fp32, fused Adam" "C++ fast (bf16, channels-last)"
       "Python tutorial fp32" "Python best (cl, bf16, fused)")
commands=("$cpp ${args[*]} --optimizer torch" "$cpp ${args[*]}"
          "$cpp ${args[*]} --precision bf16 --channels-last"
          "$py $(dirname "$0")/bench_step.py ${args[*]} --form tutorial"
          "$py $(dirname "$0")/bench_step.py ${args[*]} --form best")
declare -A wall cpu  # [form,round]
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
for r in $(seq "$rounds"); do
  for i in "${!commands[@]}"; do
    line=$(${commands[$i]}); echo "round $r: $line" >&2
    wall[$i,$r]=$(field median_ms <<<"$line") cpu[$i,$r]=$(field cpu_ms <<<"$line")
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
best() { printf '%s\n' "$@" | sort -g | head -1; }
column() { local -n table=$1; local i=$2 r; for r in $(seq "$rounds"); do echo "${table[$i,$r]}"; done; }
ratio() {  # median over rounds of form $1's wall time / form $2's
  local r out=()
  for r in $(seq "$rounds"); do out+=("$(awk -v x="${wall[$1,$r]}" -v y="${wall[$2,$r]}" 'BEGIN { print x / y }')"); done
  median "${out[@]}"
}
torch_version=$("$py" -c 'import torch; print(torch.__version__)')
cpu_model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
bf16_isa=$(grep -o -w -E 'avx512_bf16|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')
echo
echo "DCGAN step on CPU: 64x64, nz 100, ngf/ndf 64, batch $batch, $threads threads, torch $torch_version"
echo "CPU: $cpu_model (${bf16_isa:-no AVX512-BF16/AMX})"
echo "$rounds rounds x $steps timed steps (after $warmup warm-up), median step of each run;"
echo "GFLOP/s counts the step's ~2.5 GFLOP per image (forward and backward, 64x64, ngf = ndf = 64)"
printf '%-32s %10s %10s %8s %8s %12s %10s\n' "" "wall ms" "CPU ms" "img/s" "GFLOP/s" "/ Py fp32" "/ Py best"
for i in "${!names[@]}"; do
  ms=$(best $(column wall "$i"))
  printf '%-32s %10.1f %10.1f %8.1f %8.1f %12.3f %10.3f\n' "${names[$i]}" "$ms" "$(best $(column cpu "$i"))" \
    "$(awk -v b="$batch" -v m="$ms" 'BEGIN { print b * 1000 / m }')" \
    "$(awk -v b="$batch" -v m="$ms" 'BEGIN { print 2.5 * b * 1000 / m }')" "$(ratio "$i" 3)" "$(ratio "$i" 4)"
done
echo "(ms: best round; ratios: median over rounds of the round's ratio; targets: C++ fast <= 0.60 / Py fp32, <= 1.0 / Py best)"
