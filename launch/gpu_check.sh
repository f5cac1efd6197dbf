#!/usr/bin/env bash
# The second half of the device check: runs on a one-GPU machine over a bundle that
# launch/gpu_bundle.sh made elsewhere, and builds nothing. Six stages, each under its own
# `timeout -k 10` budget, each appending its row to SUMMARY the moment it ends, so a call killed
# at its limit still returns every finished stage:
#   1 env       GPU, driver, torch, cuDNN, NCCL; every bundled binary's libraries resolved (MPI
#               and HDF5 from the bundle, torch from this machine); synthetic 64x64 data packed
#   2 smoke     NCCL on one rank: all_reduce, broadcast, all_gather, barrier; the reducer's NCCL
#               path with overlap forced at world size 1; an all-reduce captured in a CUDA graph
#   3 cuda      the CUDA unit tests of test_train, with their largest differences
#   4 mpi2      two ranks with --backend mpi on the one GPU, 4 steps, --deterministic, without and
#               with --sync-bn; with sync-BN they equal one rank at twice the batch (rel. 1e-4)
#   5 train     a one-rank NCCL training of 200 steps
#   6 bench     the benchmark table: the Python tutorial's loop and the best plain PyTorch, then
#               the C++ forms one addition at a time (img/s, / tutorial, host waits and c10
#               syncs per step, share of the FLOP floor, peak MiB)
#
#   launch/gpu_check.sh [--cpu] BUNDLE_DIR
#
# --cpu: no GPU here; runs what needs none (stage 1, stage 2 over MPI at 2 ranks, stage 4 on the
# CPU, stage 5 with the MPI backend, the CPU rows of stage 6), small. tests/scripts/
# test_gpu_bundle.sh runs it with the system's copies of the bundled libraries hidden.
#
# Environment:
#   OUT                 where the logs go (at most 8 files): summary.txt env.txt smoke.log
#                       cuda_tests.log mpi2.log train.log bench.log bench_table.txt
#                       (default: $DCGAN_GPU_WORK/out)
#   DCGAN_GPU_PYTHON    the Python that has torch (default: $DCGAN_PYTHON, else python3)
#   DCGAN_GPU_WORK      scratch for data and runs (default: a new folder under /tmp)
# Exit: 0 every stage ok (or n/a); 1 a stage failed; 2 usage.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

cpu=0
[ "${1:-}" = --cpu ] && { cpu=1; shift; }
bundle=${1:-}
if [ -z "$bundle" ] || [ ! -f "$bundle/BUNDLE.txt" ]; then
  echo "usage: launch/gpu_check.sh [--cpu] BUNDLE_DIR (made by launch/gpu_bundle.sh)" >&2
  exit 2
fi
bundle=$(cd "$bundle" && pwd)
py=${DCGAN_GPU_PYTHON:-${DCGAN_PYTHON:-python3}}
work=${DCGAN_GPU_WORK:-$(mktemp -d /tmp/dcgan-gpu-check.XXXXXX)}
out=${OUT:-$work/out}
mkdir -p "$work" "$out"
work=$(cd "$work" && pwd)
summary=$out/summary.txt
t_start=$SECONDS
COMM_TIMEOUT=60

# --- the loader: the bundle's libraries first, then this machine's torch and nvidia wheels ------
MULTIARCH=x86_64-linux-gnu
blib=$bundle/usr/lib/$MULTIARCH
site=$("$py" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))' 2>/dev/null)
[ -n "$site" ] || { echo "gpu_check: $py cannot import torch (set DCGAN_GPU_PYTHON)" >&2; exit 2; }
wheel_libs=$site/torch/lib
for d in "$site"/nvidia/*/lib; do [ -d "$d" ] && wheel_libs+=:$d; done
# Only the bundle's programs (and the ranks mpirun starts) get this path, through OURS: this
# machine's Python keeps its own libraries (two copies of libssl in one process are worse than
# an older one).
OUR_LD=$blib:$blib/openmpi/lib:$blib/pmix2/lib:$wheel_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# The bundle's libstdc++ only where this machine's is older than the binaries need.
# (grep -c reads all of ldd's output: with pipefail an early grep -q would fail on ldd's SIGPIPE)
if LD_LIBRARY_PATH=$OUR_LD ldd "$bundle/bin/dcgan-train" 2>&1 | grep -c "GLIBCXX_.* not found" >/dev/null; then
  OUR_LD=$bundle/compat:$OUR_LD
fi
OURS=(env "LD_LIBRARY_PATH=$OUR_LD")
export PATH=$bundle/usr/bin:$bundle/bin:$PATH
# Open MPI and PMIx were configured for /usr: these relocate their plugins, help texts, orted.
export OPAL_PREFIX=$bundle/usr PMIX_INSTALL_PREFIX=$blib/pmix2
export PMIX_MCA_mca_base_component_path=$blib/pmix2/lib/pmix
# One node, shared memory and TCP only (no fabric probing); no cross-memory attach, which
# sandboxes often refuse. A value set by the user wins.
export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1} OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader,tcp}
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
export DCGAN_NO_PROGRESS=1
MPIRUN=("${OURS[@]}" mpirun --oversubscribe)
[ "$(id -u)" = 0 ] && MPIRUN+=(--allow-run-as-root)

if [ "$cpu" = 1 ]; then
  DEVICE=cpu BACKEND=mpi COUNT=512 MPI2_BATCH=4 TRAIN_STEPS=20 TRAIN_BATCH=8 SMALL_NETS=(--ngf 16 --ndf 16)
  BENCH_BATCH=8 BENCH_STEPS=3 PY_BENCH=(--device cpu --threads 2 --warmup 1)
else
  DEVICE=cuda BACKEND=nccl COUNT=4096 MPI2_BATCH=32 TRAIN_STEPS=200 TRAIN_BATCH=128 SMALL_NETS=()
  BENCH_BATCH=128 BENCH_STEPS=200 PY_BENCH=(--device cuda --warmup 10)
fi
data=$work/data/synthetic64

# --- the summary: a row the moment each stage ends ---------------------------------------------
{
  echo "gpu_check on $(uname -n) at $(date -u +%FT%TZ)$([ "$cpu" = 1 ] && echo ' (--cpu: no GPU)')"
  sed 's/^/bundle: /' "$bundle/BUNDLE.txt"
  printf '%-6s %-6s %7s  %s\n' stage status seconds detail
} > "$summary"
fail=0
row() {  # row STAGE STATUS SECONDS DETAIL
  printf '%-6s %-6s %7s  %s\n' "$1" "$2" "$3" "$4" | tee -a "$summary"
  [ "$2" = FAIL ] && fail=1
  return 0
}
# bounded SECONDS LOG CMD...: CMD under timeout -k 10, its output appended to LOG.
bounded() {
  local budget=$1 log=$2; shift 2
  echo "\$ $*" >> "$log"
  timeout -k 10 "$budget" "$@" >> "$log" 2>&1
}

# --- 1. the environment ---------------------------------------------------------------------
stage_env() {
  local log=$out/env.txt t0=$SECONDS bad=0 detail exe missing mpi h5 torchlib
  : > "$log"
  {
    echo "== GPU"
    if [ "$cpu" = 1 ]; then echo "none (--cpu)"; else
      nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1; fi
    echo "== torch"
    "$py" - <<'EOF' 2>&1
import torch
print("torch", torch.__version__, "CUDA", torch.version.cuda, "available", torch.cuda.is_available())
print("cuDNN", torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else "none")
try:
    print("NCCL", ".".join(map(str, torch.cuda.nccl.version())))
except Exception as e:  # a CPU-only torch
    print("NCCL none:", e)
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(0), "capability", torch.cuda.get_device_capability(0))
EOF
    echo "== mpirun: $(command -v mpirun)"
    mpirun --version 2>&1 | head -n 1
    echo "== LD_LIBRARY_PATH of the bundle's programs: $OUR_LD"
  } >> "$log"
  local gpu torch_line
  gpu=$(sed -n '/^== GPU/{n;p}' "$log" | cut -d, -f1-2)
  torch_line=$(grep -E '^(torch|cuDNN|NCCL) ' "$log" | awk '{printf "%s%s %s", (NR>1?", ":""), $1, $2}')
  for exe in "$bundle"/bin/*; do
    echo "== ldd $(basename "$exe")" >> "$log"
    "${OURS[@]}" ldd "$exe" > "$work/ldd.txt" 2>&1
    cat "$work/ldd.txt" >> "$log"
    missing=$(grep -c 'not found' "$work/ldd.txt")
    mpi=$(awk '/libmpi\.so/{print $3}' "$work/ldd.txt")
    h5=$(awk '/libhdf5[_a-z]*\.so/{print $3; exit}' "$work/ldd.txt")
    torchlib=$(awk '/libtorch_cpu\.so/{print $3}' "$work/ldd.txt")
    if [ "$missing" != 0 ] || { [ -n "$mpi" ] && [[ "$mpi" != "$bundle"/* ]]; } ||
       { [ -n "$h5" ] && [[ "$h5" != "$bundle"/* ]]; } || { [ -n "$torchlib" ] && [[ "$torchlib" != "$site"/* ]]; }; then
      echo "!! $(basename "$exe"): $missing missing, MPI $mpi, HDF5 $h5, torch $torchlib" >> "$log"
      bad=$((bad + 1))
    fi
  done
  rm -rf "$data"
  bounded 60 "$log" "${MPIRUN[@]}" -np 2 dcgan-prep pack --source synthetic --count "$COUNT" --size 64 \
    --channels 3 --out "$data" || bad=$((bad + 1))
  detail="${gpu:-no GPU}; $torch_line; $(ls "$bundle/bin" | wc -l) binaries"
  if [ "$bad" = 0 ]; then
    row env ok $((SECONDS - t0)) "$detail, every library resolved (MPI, HDF5 bundled; torch $site); $COUNT images packed"
  else
    row env FAIL $((SECONDS - t0)) "$detail; $bad problem(s): see env.txt (lines with !!)"
  fi
}

# --- 2. the communicator on this device ----------------------------------------------------------
stage_smoke() {
  local log=$out/smoke.log t0=$SECONDS np=1 status=FAIL
  : > "$log"
  [ "$cpu" = 1 ] && np=2
  bounded 90 "$log" "${MPIRUN[@]}" -np "$np" device_smoke --device "$DEVICE" --comm-timeout "$COMM_TIMEOUT" \
    && grep -q 'device_smoke: all checks passed' "$log" && status=ok
  row smoke "$status" $((SECONDS - t0)) "$np rank(s) on $DEVICE: $(grep -c ': ok' "$log") checks ok, $(grep -c ': FAIL' "$log") failed$(grep -q 'backend nccl' "$log" && echo ' (NCCL)')"
}

# --- 3. the CUDA unit tests ------------------------------------------------------------------------
stage_cuda_tests() {
  local log=$out/cuda_tests.log t0=$SECONDS status=FAIL diffs
  : > "$log"
  if [ "$cpu" = 1 ]; then row cuda n/a 0 "needs a GPU"; return; fi
  DCGAN_SOURCE_DIR=$DCGAN_ROOT DCGAN_PYTHON=$py DCGAN_BIN_DIR=$bundle/bin \
    CUBLAS_WORKSPACE_CONFIG=:4096:8 bounded 150 "$log" "${OURS[@]}" test_train --gtest_filter='*Cuda*' && status=ok
  diffs=$(grep -o 'largest difference[^;]*' "$log" | head -n 4 | paste -sd ';' -)
  row cuda "$status" $((SECONDS - t0)) "$(grep -oE '\[  PASSED  \] [0-9]+ tests?' "$log" | tail -n 1)$(grep -oE '[0-9]+ FAILED TESTS?' "$log")${diffs:+; $diffs}"
}

# --- 4. two ranks over MPI on the one device -------------------------------------------------------
train_runs() {  # train_runs LOG BUDGET NP RUN_DIR ARGS...: dcgan-train under mpirun
  local log=$1 budget=$2 np=$3 run=$4; shift 4
  rm -rf "$run"
  bounded "$budget" "$log" "${MPIRUN[@]}" -np "$np" dcgan-train --data "$data" --out "$run" \
    --device "$DEVICE" --comm-timeout "$COMM_TIMEOUT" --sample-every 100000 "$@"
}
stage_mpi2() {
  local log=$out/mpi2.log t0=$SECONDS status=ok detail runs=$work/runs/mpi2
  : > "$log"
  # One CPU thread per rank in all three runs: the same summation order on the CPU.
  local common=(--backend mpi --steps 4 --deterministic --threads 1 --log-every 1 "${SMALL_NETS[@]}")
  train_runs "$log" 60 2 "$runs/plain" "${common[@]}" --batch-size "$MPI2_BATCH" || status=FAIL
  train_runs "$log" 60 2 "$runs/syncbn" "${common[@]}" --batch-size "$MPI2_BATCH" --sync-bn || status=FAIL
  train_runs "$log" 60 1 "$runs/one" "${common[@]}" --batch-size $((2 * MPI2_BATCH)) --sync-bn || status=FAIL
  # Sync-BN: 2 x b equals 1 x 2b up to rounding. Without it each rank normalises by its own
  # batch: the same comparison must fail, or it would prove nothing.
  local compare=("$py" "$DCGAN_ROOT/launch/compare_runs.py") same differs
  same=$(bounded 60 "$log" "${compare[@]}" "$runs/syncbn" "$runs/one" --rtol 1e-4; tail -n 1 "$log")
  [[ "$same" == "compare_runs: ok"* ]] || status=FAIL
  differs=$(bounded 60 "$log" "${compare[@]}" "$runs/plain" "$runs/one" --rtol 1e-4; tail -n 1 "$log")
  [[ "$differs" == "compare_runs: FAIL"* ]] || status=FAIL
  rel() { grep -o 'largest relative difference [^ ]*' <<<"$1" | awk '{print $NF}'; }
  detail="2 ranks x $MPI2_BATCH on one $DEVICE, 4 steps, against 1 rank x $((2 * MPI2_BATCH)): sync-BN $(rel "$same") (rel. L2, at most 1e-4), without sync-BN $(rel "$differs") (must differ)"
  row mpi2 "$status" $((SECONDS - t0)) "$detail"
}

# --- 5. one rank trains on the product's backend ---------------------------------------------------
stage_train() {
  local log=$out/train.log t0=$SECONDS status=FAIL run=$work/runs/train last ips
  : > "$log"
  last=step-$(printf %06d "$TRAIN_STEPS")
  train_runs "$log" 120 1 "$run" --backend "$BACKEND" --steps "$TRAIN_STEPS" --batch-size "$TRAIN_BATCH" \
    --log-every $((TRAIN_STEPS / 4)) --ckpt-every "$TRAIN_STEPS" "${SMALL_NETS[@]}" \
    && [ -d "$run/checkpoints/$last" ] && status=ok
  ips=$(tail -n 1 "$run/metrics.jsonl" 2>/dev/null | grep -o '"images_per_s": *[0-9.]*' | grep -o '[0-9.]*$')
  row train "$status" $((SECONDS - t0)) "$BACKEND on $DEVICE, $TRAIN_STEPS steps of $TRAIN_BATCH: $([ "$status" = ok ] && echo "checkpoint $last" || echo "no checkpoint $last"), ${ips:-?} img/s at the end"
}

# --- 6. the benchmark table --------------------------------------------------------------------------
PY_FORMS=(
  "Python tutorial fp32|--form tutorial"
  "Python tutorial tf32|--form tutorial --tf32"
  "Python best|--form best"
)
CXX_FORMS=(
  "eager fp32|--optimizer torch --precision fp32 --no-overlap"
  "+fused Adam|--optimizer fused --precision fp32 --no-overlap"
  "+bf16|--optimizer fused --precision bf16 --no-overlap"
  "+channels-last|--optimizer fused --precision bf16 --channels-last --no-overlap"
  "+device data|--optimizer fused --precision bf16 --channels-last --data-on-device --no-overlap"
  "+CUDA graph|--optimizer fused --precision bf16 --channels-last --data-on-device --cuda-graph --no-overlap"
  "+overlap|--optimizer fused --precision bf16 --channels-last --data-on-device --cuda-graph --overlap --debug-reduce-single-rank"
)
bench_line() {  # bench_line NAME IMG_S HOST_WAITS C10_SYNCS SHARE PEAK_MIB
  local ratio
  ratio=$(awk -v x="$2" -v y="${reference:-0}" 'BEGIN { if (x+0 > 0 && y+0 > 0) printf "%.2f", x / y; else print "-" }')
  printf '%-22s %10s %10s %11s %11s %11s %9s\n' "$1" "$2" "$ratio" "$3" "$4" "$5" "$6" | tee -a "$out/bench_table.txt"
}
stage_bench() {
  local log=$out/bench.log t0=$SECONDS status=ok i name flags line ips share mib waits syncs run
  : > "$log"
  reference=""
  {
    echo "benchmark on $DEVICE: 64x64 DCGAN, batch $BENCH_BATCH, $BENCH_STEPS timed steps per form"
    printf '%-22s %10s %10s %11s %11s %11s %9s\n' form img/s "/ tutorial" "host waits" "c10 syncs" "FLOP share" "peak MiB"
  } | tee "$out/bench_table.txt"
  local help; help=$("${OURS[@]}" dcgan-train --help 2>&1)
  for i in "${!PY_FORMS[@]}"; do
    IFS='|' read -r name flags <<<"${PY_FORMS[$i]}"
    [ "$cpu" = 1 ] && [[ "$flags" == *--tf32* ]] && continue
    # shellcheck disable=SC2086
    line=$(bounded 90 "$log" "$py" "$DCGAN_ROOT/bench/bench_step.py" "${PY_BENCH[@]}" --batch "$BENCH_BATCH" \
      --steps "$BENCH_STEPS" $flags; tail -n 1 "$log")
    ips=$(sed -n 's/.*img_s=\([0-9.]*\).*/\1/p' <<<"$line")
    [ -z "$ips" ] && { ips=FAIL; status=FAIL; }
    [ -z "$reference" ] && reference=$ips
    bench_line "$name" "$ips" - - - -
  done
  for i in "${!CXX_FORMS[@]}"; do
    IFS='|' read -r name flags <<<"${CXX_FORMS[$i]}"
    if [ "$cpu" = 1 ] && [[ "$flags" == *--cuda-graph* ]]; then bench_line "$name" "n/a on CPU" - - - -; continue; fi
    if [[ "$flags" == *--debug-reduce-single-rank* ]] && ! grep -q -- --debug-reduce-single-rank <<<"$help"; then
      bench_line "$name" "n/a" - - - -; continue
    fi
    run=$work/runs/bench$i
    rm -rf "$run"
    # shellcheck disable=SC2086
    bounded 90 "$log" "${MPIRUN[@]}" -np 1 dcgan-train --data "$data" --out "$run" --benchmark "$BENCH_STEPS" \
      --device "$DEVICE" --backend "$BACKEND" --comm-timeout "$COMM_TIMEOUT" --batch-size "$BENCH_BATCH" $flags
    line=$(grep -o 'benchmark: img_s=.*' "$log" | tail -n 1)
    grep -q 'benchmark: img_s=' <<<"$(tail -n 40 "$log")" || line=""
    ips=$(sed -n 's/.*img_s=\([0-9.]*\).*/\1/p' <<<"$line")
    share=$(sed -n 's/.* share=\([0-9.]*\).*/\1/p' <<<"$line")
    mib=$(sed -n 's/.* peak_mib=\([0-9.]*\).*/\1/p' <<<"$line")
    waits=$(sed -n 's/.* host_waits_per_step=\([0-9.]*\).*/\1/p' <<<"$line")
    syncs=$(sed -n 's/.* c10_syncs_per_step=\([0-9.]*\).*/\1/p' <<<"$line")
    [ -z "$ips" ] && { ips=FAIL; status=FAIL; }
    bench_line "$name" "$ips" "${waits:-n/a}" "${syncs:-n/a}" \
      "$(awk -v s="${share:-}" 'BEGIN { if (s+0 > 0) printf "%.1f%%", 100 * s; else print "-" }')" "${mib:--}"
  done
  row bench "$status" $((SECONDS - t0)) "$(grep -c . "$out/bench_table.txt" | awk '{print $1 - 2}') forms; see bench_table.txt"
}

stage_env
stage_smoke
stage_cuda_tests
stage_mpi2
stage_train
stage_bench
{
  echo
  cat "$out/bench_table.txt"
  echo "total $((SECONDS - t_start)) s; $([ "$fail" = 0 ] && echo 'every stage ok' || echo 'FAILED')"
} | tee -a "$summary"
exit "$fail"
