#!/usr/bin/env bash
# Prepares the folder of Debian packages that launch/gpu_check.sh unpacks on a GPU machine that
# has PyTorch, CMake and a compiler but no MPI/HDF5/spdlog and no network. Run it here, on a
# Debian 12 / Ubuntu 24.04 machine with apt and network access; no root needed.
#
#   launch/fetch_debs.sh [DIR]         (default DIR: .debs/ in the repository, git-ignored)
#
# It asks apt which packages installing the project's build dependencies would pull onto an EMPTY
# system (apt-get -s with an empty dpkg status), drops the base system and the compiler toolchain
# that every such image has, and `apt-get download`s the rest (about 25 MB).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
dir=${1:-$DCGAN_ROOT/.debs}

# The build dependencies are launch/setup.sh's DEBIAN_PACKAGES less the tools a GPU image has
# (compilers, CMake, git, Python) and what only the CPU tests use (Slurm, munge, data sets).
mapfile -t WANTED < <(sed -n '/^DEBIAN_PACKAGES=(/,/)/p' "$DCGAN_ROOT/launch/setup.sh" \
  | tr -d '()' | sed 's/DEBIAN_PACKAGES=//' | tr ' ' '\n' | grep . \
  | grep -Evx 'build-essential|cmake|pkg-config|git|python3.*|slurm.*|munge|dataset-.*' | sort -u)
WANTED+=(pkgconf)   # FindPkgConfig needs the program, which GPU images often lack
[ ${#WANTED[@]} -ge 5 ] || dcgan_die "could not read DEBIAN_PACKAGES from launch/setup.sh"
# Present on any image that can build C++ against PyTorch, or not needed to build and run:
# libc/libstdc++, the compilers and binutils, perl, dpkg/apt plumbing, PAM, ssh, autotools.
BASE_RE='^(gcc-[0-9]+-base|libc6|libc6-dev|libc-dev-bin|linux-libc-dev|libgcc-s1|libstdc\+\+6|libstdc\+\+-[0-9]+-dev|libgcc-[0-9]+-dev|gcc(-[0-9]+)?|g\+\+(-[0-9]+)?|cpp(-[0-9]+)?|gfortran(-[0-9]+)?|libgfortran-[0-9]+-dev|binutils.*|libbinutils|libctf.*|libgprofng0|libjansson4|libcc1-0|libisl[0-9]+|libmpc3|libmpfr6|libgmp10|lib(a|l|t|ub)san[0-9]+|libitm1|libatomic1|libquadmath0|libgomp1|libcrypt1|libcrypt-dev|libtirpc.*|libnsl.*|rpcsvc-proto|debianutils|dpkg|tar|debconf|perl.*|libperl.*|libgdbm.*|libdb5\.3|passwd|adduser|libpam.*|libaudit.*|libcap-ng0|libsemanage.*|libsepol[0-9]+|libselinux1|libacl1|libbz2-1\.0|liblzma5|libzstd1|libmd0|libbsd0|libpcre2-8-0|zlib1g|libtinfo6|libedit2|openssh-client|libfido2-1|libcbor.*|libudev1|m4|autoconf|automake|autotools-dev|catch2|googletest)$'

# Not needed to build or run the trainer: hwloc's optional plugins (X11, OpenCL, NVCtrl, XML and
# ICU behind them; hwloc works without them), headers of support libraries, and javascript.
OPTIONAL_RE='^(libhwloc-plugins|libxml2|libicu[0-9]+|libx11-.*|libxcb1|libxau6|libxdmcp6|libxext6|libxnvctrl0|ocl-icd-libopencl1|libpciaccess0|libcurl4-openssl-dev|libjs-.*)$'

command -v apt-get >/dev/null || dcgan_die "needs apt-get (a Debian or Ubuntu machine)"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
: > "$scratch/status"
apt-get install -s --no-install-recommends -o Dir::State::status="$scratch/status" "${WANTED[@]}" \
  | awk '/^Inst /{print $2}' | grep -Ev "$BASE_RE" | grep -Ev "$OPTIONAL_RE" | sort -u > "$scratch/list" \
  || dcgan_die "apt-get could not resolve ${WANTED[*]} (run apt-get update?)"
[ -s "$scratch/list" ] || dcgan_die "apt-get resolved no packages"
for p in zlib1g-dev; do grep -qx "$p" "$scratch/list" || echo "$p" >> "$scratch/list"; done

mkdir -p "$dir"
rm -f "$dir"/*.deb
echo "fetch_debs: downloading $(wc -l < "$scratch/list") packages into $dir"
(cd "$dir" && xargs apt-get download -q < "$scratch/list") >/dev/null
n=$(find "$dir" -name '*.deb' | wc -l)
[ "$n" -eq "$(wc -l < "$scratch/list")" ] || dcgan_die "downloaded $n of $(wc -l < "$scratch/list") packages"
cp "$scratch/list" "$dir/PACKAGES.txt"
echo "fetch_debs: $n packages, $(du -sh "$dir" | cut -f1) in $dir"
