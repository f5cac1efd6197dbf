#!/usr/bin/env bash
# The first half of the device check: runs HERE, on a machine with the CUDA toolkit and the
# project's torch venv, and fills DIR with what launch/gpu_check.sh runs on a one-GPU machine that
# has torch (the same 2.11.0+cu130 wheel, under another Python) but none of our Debian libraries
# and no compiler to spare:
#   DIR/bin/        dcgan-prep dcgan-train dcgan-sample bench_step test_train device_smoke, and
#                   libdcgan_cuda.so, which they open from their own directory (all stripped)
#   DIR/usr/        every library those load that is not glibc's, torch's or an nvidia/* wheel's,
#                   at its system path under DIR/usr (so Open MPI's OPAL_PREFIX relocation works),
#                   with Open MPI's and PMIx's plugins, help texts, orterun and orted
#   DIR/compat/     libstdc++ and libgcc_s, used there only when the machine's own are older
#   DIR/MANIFEST.tsv  each carried file: its path in DIR, where it came from, its bytes
#   DIR/BUNDLE.txt    the commit, the torch and CUDA versions, the date
#
#   launch/gpu_bundle.sh DIR        (DIR: git-ignored, e.g. .gpu-bundle/; emptied first)
#
# Environment:
#   DCGAN_BIN_DIR   take the binaries from this build's bin/ instead of building them (ctest)
#   DCGAN_BUNDLE_MAX_MIB   the size limit, default 48 (the device tool carries 64 MiB in all)
# Exit: 0 done; 1 a build or copy failed, or DIR is over the limit; 2 usage.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

dir=${1:-}
[ -n "$dir" ] || { echo "usage: launch/gpu_bundle.sh DIR" >&2; exit 2; }
max_mib=${DCGAN_BUNDLE_MAX_MIB:-48}
MULTIARCH=x86_64-linux-gnu
SYSLIB=/usr/lib/$MULTIARCH
TARGETS=(dcgan-prep dcgan-train dcgan-sample bench_step test_train device_smoke)

# --- the binaries ---------------------------------------------------------------------------
if [ -n "${DCGAN_BIN_DIR:-}" ]; then
  bin=$DCGAN_BIN_DIR
else
  DCGAN_BUILD_TARGETS="${TARGETS[*]}" "$DCGAN_ROOT/launch/setup.sh"
  bin=$DCGAN_BIN
fi
CUDA_LIBRARY=libdcgan_cuda.so  # the CUDA half, opened for a CUDA device (cuda_library.h)
for t in "${TARGETS[@]}"; do [ -x "$bin/$t" ] || dcgan_die "$bin/$t is missing (build it first)"; done
[ -f "$bin/$CUDA_LIBRARY" ] \
  || dcgan_die "$bin/$CUDA_LIBRARY is missing: this build's torch has no CUDA, so it cannot check a GPU"
# (grep -c reads all of ldd's output: grep -q could end the pipe early, and pipefail would then
# take ldd's SIGPIPE for a failure)
ldd "$bin/$CUDA_LIBRARY" | grep -c 'libtorch_cuda\.so' >/dev/null \
  || dcgan_die "$bin/$CUDA_LIBRARY does not load libtorch_cuda.so: this build's torch has no CUDA, so it cannot check a GPU"

# Never written into a path that is not a bundle (an empty folder, or one with our BUNDLE.txt).
if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ] && [ ! -f "$dir/BUNDLE.txt" ]; then
  DCGAN_EXIT=2 dcgan_die "$dir exists and is not a bundle; give an empty or new folder"
fi
rm -rf "$dir"
mkdir -p "$dir/bin" "$dir/usr/bin" "$dir/usr/lib/$MULTIARCH" "$dir/compat"
dir=$(cd "$dir" && pwd)
manifest=$dir/MANIFEST.tsv
: > "$manifest"

# carry SRC DEST: copies SRC (links followed) to DIR/DEST once and records it. A file whose real
# path was carried before becomes a relative link to that copy (libmpi.so.40 in openmpi/lib and
# in the system's lib folder are one file), so nothing travels twice.
declare -A carried=()
carry() {
  local src=$1 dest=$dir/$2 real
  [ -e "$dest" ] || [ -L "$dest" ] && return 0
  mkdir -p "$(dirname "$dest")"
  real=$(readlink -f "$src")
  if [ -n "${carried[$real]:-}" ]; then
    ln -s "$(realpath -s --relative-to="$(dirname "$dest")" "${carried[$real]}")" "$dest"
    printf '%s\t%s\t0\n' "$2" "$src" >> "$manifest"
    return 0
  fi
  cp -L "$src" "$dest"
  carried[$real]=$dest
  printf '%s\t%s\t%s\n' "$2" "$src" "$(stat -c %s "$dest")" >> "$manifest"
}

# What is not carried: glibc (the machine's own loader must match it), the GCC runtime (DIR/compat
# holds a fallback), the CUDA driver, and whatever torch and its nvidia/* wheels ship, which the
# machine has in its own site-packages (found there by gpu_check.sh). The CUDA runtime libraries
# go by name, not by directory: a toolkit may resolve through /usr/local/lib or a distribution's
# directory as well as /usr/local/cuda, and the wheels ship every one of them.
venv_site=$("$DCGAN_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null || true)
NOT_CARRIED_RE='/(ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libresolv|libutil|libanl|libmvec|libBrokenLocale|libnss_[a-z]+|libstdc\+\+|libgcc_s|libcuda|libnvidia-[a-z-]+)\.so'
CUDA_RUNTIME_RE='/lib(cudart|nccl|cublas|cublasLt|cudnn[a-z_]*|nvrtc[a-z-]*|nvJitLink|cufft|cufftw|curand|cusparse|cusparseLt|cusolver|cupti|nvToolsExt|nvtx3interop|cufile|cufile_rdma|nvshmem_host)\.so'
not_carried() {
  local lib=$1
  [[ "$lib" =~ $NOT_CARRIED_RE ]] && return 0
  [[ "$lib" =~ $CUDA_RUNTIME_RE ]] && return 0
  [ -n "$venv_site" ] && [[ "$lib" == "$venv_site"/* ]] && return 0
  [[ "$lib" == /usr/local/cuda* || "$(readlink -f "$lib")" == /usr/local/cuda* ]] && return 0
  return 1
}

# carry_deps FILE: every library FILE loads (ldd's closure) that is carried, into DIR/usr/lib.
carry_deps() {
  local lib
  while read -r lib; do
    [ -n "$lib" ] || continue
    not_carried "$lib" && continue
    carry "$lib" "usr/lib/$MULTIARCH/$(basename "$lib")"
  done < <(ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
}

for t in "${TARGETS[@]}"; do
  cp "$bin/$t" "$dir/bin/$t"
  strip --strip-unneeded "$dir/bin/$t"
  printf '%s\t%s\t%s\n' "bin/$t" "$bin/$t" "$(stat -c %s "$dir/bin/$t")" >> "$manifest"
  carry_deps "$bin/$t"
done
cp "$bin/$CUDA_LIBRARY" "$dir/bin/$CUDA_LIBRARY"
strip --strip-unneeded "$dir/bin/$CUDA_LIBRARY"
printf '%s\t%s\t%s\n' "bin/$CUDA_LIBRARY" "$bin/$CUDA_LIBRARY" "$(stat -c %s "$dir/bin/$CUDA_LIBRARY")" >> "$manifest"
carry_deps "$bin/$CUDA_LIBRARY"

# Open MPI 4 and PMIx, relocatable by OPAL_PREFIX / PMIX_INSTALL_PREFIX: their trees as they lie
# under /usr, their programs, and what their plugins load.
SKIPPED_PLUGINS_RE='^mca_((spml|sshmem|atomic|scoll|memheap)_|btl_(ofi|openib|usnic|uct)|mtl_|pml_(ucx|cm)|osc_ucx|coll_(hcoll|ucc|fca))'
for tree in "$SYSLIB/openmpi/lib" "$SYSLIB/pmix2/lib" "$SYSLIB/pmix2/share" /usr/share/openmpi; do
  [ -d "$tree" ] || dcgan_die "$tree is missing (is openmpi-bin installed?)"
  while IFS= read -r f; do
    case "$f" in *.a | *.la | */pkgconfig/* | */include/*) continue ;; esac
    # Link-time names (libmpi.so -> ../../libmpi.so.40...) and plugins nothing loads here:
    # OpenSHMEM's, and the fabric transports (UCX, libfabric, verbs, PSM), whose libraries weigh
    # 8 MB; the one-node check runs MPI over shared memory and TCP (gpu_check.sh sets pml ob1 and
    # btl self,vader,tcp).
    [ -L "$f" ] && [[ "$f" == *.so ]] && continue
    [[ "$(basename "$f")" =~ $SKIPPED_PLUGINS_RE ]] && continue
    carry "$f" "${f#/}"
    [[ "$f" == *.so* ]] && carry_deps "$f"
  done < <(find "$tree" \( -type f -o -type l \))
done
for prog in orterun orted; do
  carry "/usr/bin/$prog" "usr/bin/$prog"
  carry_deps "/usr/bin/$prog"
done
ln -sfn orterun "$dir/usr/bin/mpirun"
ln -sfn orterun "$dir/usr/bin/mpiexec"
for lib in libstdc++.so.6 libgcc_s.so.1; do
  carry "$(ldconfig -p | awk -v n="$lib" '$1 == n && /x86-64/ {print $NF; exit}')" "compat/$lib"
done

torch_line=$("$DCGAN_VENV/bin/python" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)' 2>/dev/null || echo "torch: unknown")
{
  echo "commit $(git -C "$DCGAN_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$DCGAN_ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "built against torch $torch_line"
  echo "made $(date -u +%FT%TZ) on $(uname -m)"
  echo "files $(wc -l < "$manifest")"
} > "$dir/BUNDLE.txt"

bytes=$(du -sb "$dir" | cut -f1)
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "gpu_bundle: $(wc -l < "$manifest") files, $mib MiB in $dir"
awk -v b="$bytes" -v m="$max_mib" 'BEGIN { exit !(b <= m * 1048576) }' \
  || dcgan_die "$dir is $mib MiB, over the $max_mib MiB limit"
