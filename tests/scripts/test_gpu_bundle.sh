#!/usr/bin/env bash
# The device check, proven here: launch/gpu_bundle.sh fills a bundle of at most 48 MiB from this
# build, and launch/gpu_check.sh --cpu runs every stage that needs no GPU from that bundle alone.
# It runs in a private mount namespace where an empty file is bound over each system copy of a
# library the bundle carries (and over orterun and orted), and a tmpfs hides Open MPI's and PMIx's
# trees: a library the bundle forgot fails the check here, not on the GPU machine.
# Exits 77 (a skip) where mount namespaces cannot be made.
set -euo pipefail
root="${DCGAN_SOURCE_DIR:?set by ctest}"
bin="${DCGAN_BIN_DIR:?set by ctest}"
source "$root/tests/scripts/lib_cli.sh"
MULTIARCH=x86_64-linux-gnu

if [ "$(id -u)" != 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
  echo "SKIP: cannot make a mount namespace here (needs root)"; exit 77
fi
tmp=$(mktemp -d /tmp/dcgan-gpu-bundle.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# --- the bundle ---------------------------------------------------------------------------------
# The CUDA runtime is made to resolve outside /usr/local/cuda, through a directory of links put
# first on the loader's path, as a toolkit linked into /usr/local/lib does: it must stay behind
# by name wherever it resolves.
mkdir -p "$tmp/elsewhere"
while read -r lib; do ln -s "$lib" "$tmp/elsewhere/$(basename "$lib")"; done \
  < <(ldd "$bin/libdcgan_cuda.so" | awk '$1 ~ /^lib(cudart|nccl)\.so/ && $3 ~ /^\// {print $3}')
LD_LIBRARY_PATH=$tmp/elsewhere${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
  DCGAN_BIN_DIR=$bin bash "$root/launch/gpu_bundle.sh" "$tmp/bundle" > "$tmp/bundle.log" 2>&1 \
  || { cat "$tmp/bundle.log"; fail "gpu_bundle.sh failed"; }
bytes=$(du -sb "$tmp/bundle" | cut -f1)
echo "bundle: $(wc -l < "$tmp/bundle/MANIFEST.tsv") files, $bytes bytes ($(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }') MiB)"
[ "$bytes" -le $((48 * 1024 * 1024)) ] || fail "the bundle is $bytes bytes, over 48 MiB"
for f in bin/dcgan-prep bin/dcgan-train bin/dcgan-sample bin/bench_step bin/test_train bin/device_smoke bin/libdcgan_cuda.so \
         usr/bin/orterun usr/bin/orted "usr/lib/$MULTIARCH/libmpi.so.40" "usr/lib/$MULTIARCH/openmpi/lib/openmpi3/mca_btl_vader.so" \
         "usr/lib/$MULTIARCH/pmix2/lib/libpmix.so.2" compat/libstdc++.so.6; do
  [ -e "$tmp/bundle/$f" ] || fail "the bundle has no $f"
done
compgen -G "$tmp/bundle/usr/lib/$MULTIARCH/libhdf5_serial.so.*" >/dev/null || fail "the bundle has no libhdf5_serial"
# The bundle's stripped dcgan-train opens the bundle's stripped libdcgan_cuda.so, from its own
# directory, for --device cuda; without a GPU here that ends in the usage error, exit 2.
if ! cuda_driver_here; then
  rc=0
  LD_DEBUG=files LD_DEBUG_OUTPUT="$tmp/ld" "$tmp/bundle/bin/dcgan-train" --device cuda --data "$tmp/none" \
    --out "$tmp/cuda-run" > "$tmp/cuda.out" 2>&1 || rc=$?
  [ "$rc" = 2 ] && grep -q 'no CUDA device is visible' "$tmp/cuda.out" \
    || { cat "$tmp/cuda.out"; fail "the bundle's dcgan-train --device cuda exited $rc"; }
  grep -qh "file=$tmp/bundle/bin/libdcgan_cuda.so" "$tmp"/ld.* \
    || fail "the bundle's dcgan-train did not open the bundle's libdcgan_cuda.so"
  echo "the bundle's dcgan-train opened its libdcgan_cuda.so (--device cuda: exit 2, no GPU here)"
fi
# Nothing of glibc's, torch's or the nvidia wheels' travels.
if grep -E $'^[^\t]*/(libc\\.so|libtorch|libc10|libcudart|libnccl|libcudnn)' "$tmp/bundle/MANIFEST.tsv"; then
  fail "the bundle carries a library the GPU machine has"
fi

# --- the dry run, with the system's copies hidden -------------------------------------------------
: > "$tmp/empty"
# The GPU machine's Python has its own copies of libz, libssl and the like: here they are copies
# taken before the hiding, which only the Python wrapper below sees, never the bundle's programs.
mkdir -p "$tmp/pylibs"
hide=()  # the real files behind every carried system library and program
while IFS=$'\t' read -r dest src _; do
  case "$dest" in bin/* | compat/*) continue ;; esac
  case "$src" in "/usr/lib/$MULTIARCH/openmpi/"* | "/usr/lib/$MULTIARCH/pmix2/"* | /usr/share/openmpi/*) continue ;; esac
  hide+=("$(readlink -f "$src")")
  [[ "$dest" == *.so* ]] && cp -L "$src" "$tmp/pylibs/$(basename "$dest")"
done < "$tmp/bundle/MANIFEST.tsv"
# And every library the programs resolve here that the GPU machine does not provide (its glibc,
# GCC runtime, torch and nvidia wheels): one the bundle forgot is hidden too, and fails the run.
site=$("$DCGAN_PYTHON" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')
PROVIDED_RE='/(ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libresolv|libutil|libanl|libmvec|libstdc\+\+|libgcc_s)\.so'
for exe in "$tmp"/bundle/bin/*; do
  while read -r lib; do
    [[ "$lib" =~ $PROVIDED_RE || "$lib" == "$site"/* || "$lib" == /usr/local/cuda* ]] && continue
    hide+=("$(readlink -f "$lib")")
    cp -L "$lib" "$tmp/pylibs/$(basename "$lib")"
  done < <(ldd "$exe" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
done
printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$tmp/pylibs" "${DCGAN_PYTHON:?set by ctest}" > "$tmp/python"
chmod +x "$tmp/python"
[ ${#hide[@]} -ge 10 ] || fail "only ${#hide[@]} system files to hide; the manifest looks wrong"
printf '%s\n' "${hide[@]}" | sort -u > "$tmp/hide.txt"
echo "hiding $(wc -l < "$tmp/hide.txt") system files and 3 trees"

start=$SECONDS
set +e
unshare -m --propagation private env BUNDLE="$tmp/bundle" TMPD="$tmp" ROOT="$root" MA="$MULTIARCH" bash -c '
  set -e
  # mount(8) and the tools below may themselves load a hidden library: the bundle has it.
  export LD_LIBRARY_PATH=$BUNDLE/usr/lib/$MA
  while read -r f; do mount --bind "$TMPD/empty" "$f"; done < "$TMPD/hide.txt"
  for d in /usr/lib/$MA/openmpi /usr/lib/$MA/pmix2 /usr/share/openmpi; do mount -t tmpfs none "$d"; done
  # The proof that the hiding holds: the system copies are empty, the trees are gone.
  first=$(head -n 1 "$TMPD/hide.txt")
  [ ! -s "$first" ] || { echo "FAIL: $first is still visible"; exit 1; }
  [ ! -e /usr/lib/$MA/openmpi/lib/libmpi.so ] || { echo "FAIL: the openmpi tree is still visible"; exit 1; }
  unset LD_LIBRARY_PATH
  OUT=$TMPD/out DCGAN_GPU_WORK=$TMPD/work DCGAN_GPU_PYTHON=$TMPD/python \
    timeout -k 10 300 bash "$ROOT/launch/gpu_check.sh" --cpu "$BUNDLE"
' > "$tmp/check.log" 2>&1
rc=$?
set -e
secs=$((SECONDS - start))
cat "$tmp/check.log"
[ "$rc" = 0 ] || fail "gpu_check.sh --cpu exited $rc in the namespace"
echo "gpu_check.sh --cpu: $secs s"

# --- what it reported ----------------------------------------------------------------------------
summary=$tmp/out/summary.txt
for stage in env smoke mpi2 train bench; do
  grep -qE "^$stage +ok " "$summary" || fail "stage $stage is not ok in summary.txt"
done
grep -qE '^cuda +n/a ' "$summary" || fail "stage cuda should read n/a without a GPU"
grep -q 'every library resolved' "$summary" || fail "stage env did not resolve every library"
grep -qE '^smoke +ok .*2 rank\(s\) on cpu: [1-9][0-9]* checks ok, 0 failed' "$summary" || fail "the smoke stage ran no checks"
rel=$(grep -oE "sync-BN [0-9.e+-]+ \(rel" "$summary" | awk "{print \$2}")
awk -v r="$rel" 'BEGIN { exit !(r != "" && r + 0 <= 1e-4) }' || fail "sync-BN against one rank: '$rel' is not within 1e-4"
table=$tmp/out/bench_table.txt
for form in "Python tutorial fp32" "Python best" "eager fp32" "+fused Adam" "+bf16" "+channels-last" "+device data"; do
  awk -v f="$form" 'index($0, f) == 1 { split(substr($0, length(f) + 1), a, " ");
                     if (a[1] + 0 > 0 && a[2] + 0 > 0) ok = 1 } END { exit !ok }' "$table" \
    || fail "the benchmark table has no figures for '$form'"
done
grep -qE '^\+CUDA graph +n/a on CPU' "$table" || fail "the CUDA graph row should be n/a on the CPU"
files=$(find "$tmp/out" -type f | wc -l)
[ "$files" -le 8 ] || fail "$files files under OUT, more than the 8 that come back"
echo "test_gpu_bundle: ok (bundle $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }') MiB; dry run $secs s; $files files under OUT)"
