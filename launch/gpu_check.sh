#!/usr/bin/env bash
# One-shot check on a machine with one GPU, a preinstalled PyTorch and no package downloads:
# unpack the Debian packages made by launch/fetch_debs.sh into a private prefix (never into /),
# build the project against that prefix and the machine's torch, then run the unit tests on CUDA,
# a one-rank NCCL training of 200 steps on synthetic 64x64 data, and the benchmark table (the fast
# path's combinations against the PyTorch tutorial's loop on the same GPU). Prints a summary table;
# writes logs, summary.txt and bench_table.txt under $OUT when set. Budget: < 8 min (H100).
#
#   launch/gpu_check.sh DEBS_DIR            (DEBS_DIR: e.g. .debs/ from launch/fetch_debs.sh)
#
# Environment:
#   DCGAN_GPU_PYTHON   the Python that has torch (default: python3)
#   DCGAN_GPU_WORK     scratch folder: prefix, build, data, runs (default: .gpu/ in the repository)
#   DCGAN_GPU_CPU=1    no GPU here: unpack, configure and build a few targets, run them against
#                      the prefix, and skip the CUDA steps saying so (for testing this script)
#   DCGAN_GPU_TARGETS  targets to build (default: all; in CPU mode: dcgan-prep)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# ---------------------------------------------------------------------------------------------
# The prefix: Debian packages unpacked with dpkg -x (no maintainer scripts run, so the links
# that update-alternatives would make are made here, and the h5cc wrapper learns its new home).
MULTIARCH=x86_64-linux-gnu
# Support libraries that every image has in some version; the host's copy wins (mixing two
# copies of libssl or libkrb5 in one process is worse than a slightly older one).
HOST_PREFERRED_RE='^lib(ssl|crypto|krb5|k5crypto|krb5support|gssapi_krb5|com_err|keyutils|gnutls|nettle|hogweed|p11-kit|tasn1|idn2|unistring|ffi|brotli(common|dec|enc)|nghttp2|psl|rtmp|ssh2|ldap|lber|sasl2|curl|uuid|gfortran|numa|z)\.so\.'

unpack_deb() {  # unpack_deb DEB DIR: dpkg -x, or ar + tar where dpkg is missing
  if command -v dpkg >/dev/null; then dpkg -x "$1" "$2"; return; fi
  local t; t=$(mktemp -d)
  (cd "$t" && ar x "$1" && tar -xf data.tar.* -C "$2") ; local rc=$?
  rm -rf "$t"; return "$rc"
}

gpu_prefix_unpack() {  # gpu_prefix_unpack DEBS_DIR PREFIX
  local debs=$1 p=$2 deb l target lib name
  rm -rf "$p" && mkdir -p "$p" || return 1
  for deb in "$debs"/*.deb; do unpack_deb "$deb" "$p" || { echo "cannot unpack $deb"; return 1; }; done
  # Absolute links (/usr/...) would point back into the host: aim them into the prefix.
  while IFS= read -r l; do
    target=$(readlink "$l")
    [[ "$target" == /* ]] && [ -e "$p$target" ] && ln -sfn "$p$target" "$l"
  done < <(find "$p" -type l)
  # update-alternatives' links.
  for name in mpicc mpicxx mpic++ mpirun mpiexec; do
    [ -e "$p/usr/bin/$name.openmpi" ] && ln -sfn "$name.openmpi" "$p/usr/bin/$name"
  done
  # h5cc: its new home, and no static-link extras (-lcrypto -lcurl ...): libhdf5.so names its own
  # dependencies, and the GPU image has no development links for curl.
  [ -f "$p/usr/bin/h5cc" ] && sed -i -e "s|^prefix=\"/usr\"|prefix=\"$p/usr\"|" \
    -e 's|^H5BLD_LIBS=.*|H5BLD_LIBS=""|' "$p/usr/bin/h5cc"
  # Host-preferred libraries: drop the prefix's copy when the host has the same soname.
  local host_libs; host_libs=$(ldconfig -p 2>/dev/null | awk '{print $1}')
  for lib in "$p/usr/lib/$MULTIARCH"/lib*.so.*; do
    name=$(basename "$lib")
    [[ "$name" =~ $HOST_PREFERRED_RE ]] || continue
    local soname; soname=$(sed -E 's/^(.*\.so\.[0-9]+).*/\1/' <<<"$name")
    grep -qx "$soname" <<<"$host_libs" && { rm -f "$lib"; echo "host provides $soname"; }
  done
  echo "prefix $p: $(find "$p" -type f | wc -l) files"
}

gpu_prefix_env() {  # gpu_prefix_env PREFIX: the variables that make the prefix usable
  local p=$1 lib=$1/usr/lib/$MULTIARCH
  export PATH=$p/usr/bin:$PATH
  export LD_LIBRARY_PATH=$lib:$lib/openmpi/lib:$lib/pmix2/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  # Open MPI and PMIx were configured for /usr; these relocate their helpers, help texts and
  # plugins into the prefix.
  export OPAL_PREFIX=$p/usr PMIX_INSTALL_PREFIX=$lib/pmix2 PMIX_MCA_mca_base_component_path=$lib/pmix2/lib/pmix
  # .pc files say prefix=/usr: the sysroot puts the prefix in front of every path they give.
  export PKG_CONFIG_LIBDIR=$lib/pkgconfig:$p/usr/share/pkgconfig PKG_CONFIG_SYSROOT_DIR=$p
  GPU_PREFIX_CMAKE_ARGS=(-DMPI_C_COMPILER="$p/usr/bin/mpicc.openmpi"
    -DMPIEXEC_EXECUTABLE="$p/usr/bin/mpirun.openmpi" -DHDF5_C_COMPILER_EXECUTABLE="$p/usr/bin/h5cc"
    -DPKG_CONFIG_EXECUTABLE="$p/usr/bin/pkgconf")
  GPU_PREFIX_MPIRUN_FLAGS="--oversubscribe"
  [ "$(id -u)" = 0 ] && GPU_PREFIX_MPIRUN_FLAGS+=" --allow-run-as-root"
}

debs=${1:-}
[ -n "$debs" ] && [ -d "$debs" ] || { echo "usage: launch/gpu_check.sh DEBS_DIR (see launch/fetch_debs.sh)" >&2; exit 2; }
debs=$(cd "$debs" && pwd)
py=${DCGAN_GPU_PYTHON:-python3}
work=${DCGAN_GPU_WORK:-$DCGAN_ROOT/.gpu}
out=${OUT:-$work/out}
cpu_mode=${DCGAN_GPU_CPU:-0}
mkdir -p "$work" "$out"
prefix=$work/prefix build=$work/build
t_start=$SECONDS

rows=()  # summary rows: "step|status|seconds|detail"
row() { rows+=("$1|$2|$3|$4"); printf 'gpu_check: %-14s %-5s %5ss  %s\n' "$1" "$2" "$3" "$4"; }
fail=0
# run_step NAME LOGFILE CMD...: runs CMD with its output in LOGFILE (tail shown on failure).
run_step() {
  local name=$1 log=$2 t0=$SECONDS rc; shift 2
  "$@" > "$log" 2>&1; rc=$?
  if [ "$rc" = 0 ]; then step_status=ok; else step_status=FAIL; fail=1; tail -n 30 "$log" >&2; fi
  step_secs=$(( SECONDS - t0 ))
  return "$rc"
}

# ---------------------------------------------------------------------------------------------
# The CUDA steps.
gpu_unit_tests() {
  # Everything but the shell drills of launch/ and cluster/ (CPU mpirun and Slurm).
  if run_step unit-tests "$out/ctest.log" timeout 240 ctest --test-dir "$build" -j 8 --timeout 200 \
       --output-on-failure -E '^test_ops_'; then :; fi
  row unit-tests "$step_status" "$step_secs" "$(grep -E 'tests passed' "$out/ctest.log" | tail -n 1)"
}

gpu_train_nccl() {
  local run=$work/runs/nccl200
  rm -rf "$run"
  local last; last=step-$(printf %06d "$TRAIN_STEPS")
  run_step train-nccl "$out/train.log" timeout 180 mpirun $GPU_PREFIX_MPIRUN_FLAGS -np 1 -x NCCL_DEBUG=WARN \
    "$bin/dcgan-train" --data "$data" --out "$run" --steps "$TRAIN_STEPS" --backend "$BACKEND" \
    --device "$DEVICE" --batch-size "$BATCH" --log-every 50 --sample-every "$TRAIN_STEPS" \
    --ckpt-every "$TRAIN_STEPS"
  local detail="$BACKEND/$DEVICE, $TRAIN_STEPS steps: exit $? in ${step_secs}s"
  if [ "$step_status" = ok ]; then
    if [ -e "$run/checkpoints/latest" ] && [ -d "$run/checkpoints/$last" ]; then
      detail+=", checkpoint $last"
    else
      step_status=FAIL fail=1 detail+=", but no checkpoints/$last"
    fi
  fi
  row train-nccl "$step_status" "$step_secs" "$detail"
}

# The benchmark: dcgan-train --benchmark over the fast path's combinations, one added at a time
# (eager fp32 with libtorch's Adam, +fused Adam, +bf16, +channels-last, +data on the device, +the
# CUDA graph), then the tutorial's Python loop with its batch on the GPU (fp32 with TF32 off and
# on) and the best plain PyTorch (channels-last, bf16 autocast, fused Adam); the table gives each
# form's img/s and its ratio to the Python tutorial fp32 (TF32 off).
BENCH_FORMS=(
  "eager fp32|--optimizer torch --precision fp32"
  "+fused Adam|--optimizer fused --precision fp32"
  "+bf16|--optimizer fused --precision bf16"
  "+channels-last|--optimizer fused --precision bf16 --channels-last"
  "+device data|--optimizer fused --precision bf16 --channels-last --data-on-device"
  "+CUDA graph|--optimizer fused --precision bf16 --channels-last --data-on-device --cuda-graph"
)
PY_FORMS=(
  "Python tutorial fp32|--form tutorial"
  "Python tutorial tf32|--form tutorial --tf32"
  "Python best|--form best"
)
gpu_benchmark() {
  local log=$out/bench.log t0=$SECONDS i name flags line ips reference="" table=()
  : > "$log"
  local pyflags=(--device "$DEVICE" --batch "$BATCH" --steps "$BENCH_STEPS" --warmup 10)
  [ "$DEVICE" = cpu ] && pyflags=(--device cpu --batch "$BATCH" --steps 5 --warmup 2 --threads 2)
  for i in "${!PY_FORMS[@]}"; do
    IFS='|' read -r name flags <<<"${PY_FORMS[$i]}"
    [ "$DEVICE" = cpu ] && [[ "$flags" == *--tf32* ]] && continue
    line=$(timeout 120 "$py" "$DCGAN_ROOT/bench/bench_step.py" "${pyflags[@]}" $flags 2>>"$log" | tail -n 1)
    echo "$name: $line" >> "$log"
    ips=$(sed -n 's/.*img_s=\([0-9.]*\).*/\1/p' <<<"$line")
    [ -z "$reference" ] && reference=$ips
    table+=("$name|${ips:-FAIL}")
  done
  for i in "${!BENCH_FORMS[@]}"; do
    IFS='|' read -r name flags <<<"${BENCH_FORMS[$i]}"
    if [ "$DEVICE" = cpu ] && [[ "$flags" == *--cuda-graph* ]]; then
      table+=("$name|n/a on CPU"); continue
    fi
    local run=$work/runs/bench$i
    rm -rf "$run"
    # shellcheck disable=SC2086
    line=$(timeout 150 mpirun $GPU_PREFIX_MPIRUN_FLAGS -np 1 "$bin/dcgan-train" --data "$data" \
      --out "$run" --benchmark "$BENCH_STEPS" --device "$DEVICE" --backend "$BACKEND" \
      --batch-size "$BATCH" $flags 2>&1 | tee -a "$log" | grep -o 'benchmark: img_s=.*' | tail -n 1)
    ips=$(sed -n 's/.*img_s=\([0-9.]*\).*/\1/p' <<<"$line")
    table+=("$name|${ips:-FAIL}|$(sed -n 's/.* share=\([0-9.]*\) peak_mib=\([0-9.]*\).*/\1 \2/p' <<<"$line")")
  done
  {
    echo "benchmark on $DEVICE: 64x64, batch $BATCH per GPU, $BENCH_STEPS steps per form"
    printf '%-22s %12s %14s %12s %12s\n' form img/s "/ Py fp32" "peak share" "peak MiB"
    local row r_name r_ips r_rest share mib
    for row in "${table[@]}"; do
      IFS='|' read -r r_name r_ips r_rest <<<"$row"
      read -r share mib <<<"${r_rest:-}"
      printf '%-22s %12s %14s %12s %12s\n' "$r_name" "$r_ips" \
        "$(awk -v x="$r_ips" -v y="${reference:-0}" 'BEGIN { if (x+0 > 0 && y+0 > 0) printf "%.2f", x / y; else print "-" }')" \
        "$(awk -v s="${share:-}" 'BEGIN { if (s+0 > 0) printf "%.1f%%", 100 * s; else print "-" }')" "${mib:--}"
    done
  } | tee "$out/bench_table.txt"
  step_secs=$(( SECONDS - t0 ))
  if grep -q FAIL "$out/bench_table.txt"; then step_status=FAIL fail=1; else step_status=ok; fi
  row benchmark "$step_status" "$step_secs" "$(grep '+CUDA graph' "$out/bench_table.txt" | awk '{print $3 " img/s with everything on, " $4 "x the Python tutorial"}')"
}

# --- 1. the prefix -------------------------------------------------------------------------
t0=$SECONDS
if gpu_prefix_unpack "$debs" "$prefix" > "$out/unpack.log" 2>&1; then
  row unpack ok $(( SECONDS - t0 )) "$(ls "$debs"/*.deb | wc -l) packages into $prefix"
else
  row unpack FAIL $(( SECONDS - t0 )) "see $out/unpack.log"; tail -n 20 "$out/unpack.log" >&2
  exit 1
fi
gpu_prefix_env "$prefix"

# --- 2. configure and build ----------------------------------------------------------------
torch_prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)') \
  || { row configure FAIL 0 "$py cannot import torch (set DCGAN_GPU_PYTHON)"; exit 1; }
torch_version=$("$py" -c 'import torch; print(torch.__version__, torch.version.cuda or "cpu")')
nccl_root=$("$py" - <<'EOF' 2>/dev/null
import glob, os, sysconfig
roots = [sysconfig.get_paths()["purelib"]] + [p for p in __import__("sys").path if p.endswith("-packages")]
for r in roots:
    for h in sorted(glob.glob(os.path.join(r, "nvidia", "**", "include", "nccl.h"), recursive=True)):
        print(os.path.dirname(os.path.dirname(h))); raise SystemExit
EOF
)
cmake_args=(-S "$DCGAN_ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release
  "-DCMAKE_PREFIX_PATH=$torch_prefix;$prefix/usr" -DDCGAN_PYTHON="$(command -v "$py")"
  "${GPU_PREFIX_CMAKE_ARGS[@]}")
[ -n "$nccl_root" ] && cmake_args+=(-DNCCL_ROOT="$nccl_root")
command -v ninja >/dev/null && [ ! -f "$build/CMakeCache.txt" ] && cmake_args+=(-G Ninja)
# find_package(Torch) with CUDA asks the GPU for its architecture unless told.
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
if run_step configure "$out/configure.log" cmake "${cmake_args[@]}"; then
  row configure ok "$step_secs" "torch $torch_version; $(grep -m1 -o 'NCCL backend.*' "$out/configure.log" | tr -s ' ' | cut -c1-60)"
else
  row configure FAIL "$step_secs" "see $out/configure.log"; exit 1
fi
targets=${DCGAN_GPU_TARGETS:-}
[ "$cpu_mode" = 1 ] && targets=${targets:-dcgan-prep}
target_args=()
for t in $targets; do target_args+=(--target "$t"); done
if run_step build "$out/build.log" cmake --build "$build" -j "$(nproc)" "${target_args[@]}"; then
  row build ok "$step_secs" "${targets:-all targets} in $build"
else
  row build FAIL "$step_secs" "see $out/build.log"; exit 1
fi
bin=$build/bin

# --- 3. the built programs resolve their libraries from the prefix ---------------------------
check_prefix_libs() {
  local exe=$1 missing mpi_lib h5_lib
  missing=$(ldd "$exe" | grep -c 'not found')
  mpi_lib=$(ldd "$exe" | awk '/libmpi\.so/{print $3}')
  h5_lib=$(ldd "$exe" | awk '/libhdf5[_a-z]*\.so/{print $3; exit}')
  echo "missing=$missing mpi=$mpi_lib hdf5=$h5_lib"
  [ "$missing" = 0 ] && [[ "$mpi_lib" == "$prefix"/* ]] && [[ "$h5_lib" == "$prefix"/* ]]
}
first_exe=$bin/dcgan-prep
if detail=$(check_prefix_libs "$first_exe"); then row libraries ok 0 "$(basename "$first_exe"): $detail"
else row libraries FAIL 0 "$(basename "$first_exe"): $detail"; fail=1; fi

# --- 4. data: synthetic 64x64, packed by 2 MPI ranks with the prefix's mpirun ----------------
data=$work/data/synthetic64
rm -rf "$data"
if run_step pack "$out/pack.log" mpirun $GPU_PREFIX_MPIRUN_FLAGS -np 2 "$bin/dcgan-prep" pack \
     --source synthetic --count 2048 --size 64 --channels 3 --out "$data"; then
  row pack ok "$step_secs" "2048 images 64x64 by 2 ranks -> $(ls "$data" | grep -c '\.h5$') shards"
else
  row pack FAIL "$step_secs" "see $out/pack.log"
fi

# --- 5. CUDA steps -------------------------------------------------------------------------
DEVICE=cuda BACKEND=nccl BATCH=128 TRAIN_STEPS=200 BENCH_STEPS=200
if [ "$cpu_mode" = 1 ]; then
  row unit-tests SKIP 0 "CPU mode (DCGAN_GPU_CPU=1): needs a GPU"
  if [ -x "$bin/dcgan-train" ]; then
    # The same steps on the CPU with the MPI backend, small, to exercise this script's logic.
    DEVICE=cpu BACKEND=mpi BATCH=8 TRAIN_STEPS=20 BENCH_STEPS=4
    gpu_train_nccl
    gpu_benchmark
  else
    for s in train-nccl benchmark; do row "$s" SKIP 0 "CPU mode (DCGAN_GPU_CPU=1): needs a GPU"; done
  fi
else
  gpu_unit_tests
  gpu_train_nccl
  gpu_benchmark
fi

# --- summary -------------------------------------------------------------------------------
{
  echo
  echo "gpu_check summary ($(hostname), $(date -u +%FT%TZ), total $(( SECONDS - t_start )) s)"
  printf '%-14s %-6s %7s  %s\n' step status seconds detail
  for r in "${rows[@]}"; do IFS='|' read -r a b c d <<<"$r"; printf '%-14s %-6s %7s  %s\n' "$a" "$b" "$c" "$d"; done
} | tee "$out/summary.txt"
exit "$fail"
