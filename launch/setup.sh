#!/usr/bin/env bash
# One-command set-up: Debian packages, the pinned torch wheel in a venv outside the repository,
# then a Release build into build/ (binaries in build/bin/). Idempotent and non-interactive; a
# second run with nothing changed takes seconds.
#
# Environment:
#   Torch_DIR / CMAKE_PREFIX_PATH  use this libtorch instead of the venv's (no venv is made)
#   DCGAN_VENV                     venv location (default: $XDG_CACHE_HOME/dcgan-dist/torch-2.11.0)
#   DCGAN_BUILD_DIR                build directory (default: build/)
#   DCGAN_SKIP_APT=1               do not check Debian packages (e.g. on the GPU check machine)
#   DCGAN_SKIP_BUILD=1             packages and venv only (tests/run_sanitizers.sh builds its own)
#   DCGAN_BUILD_TARGETS="a b"      build only these targets and what they need (default: all);
#                                  the quickstart builds its three tools, ./tests/run.sh the rest
#   DCGAN_CONFIGURE_ONLY=1         packages, venv and CMake's configure, no build
#   DCGAN_GENERATOR                CMake generator of a new build directory (default: Ninja where
#                                  ninja is installed, else Unix Makefiles; an existing build
#                                  directory keeps its own)
#
# Each phase that has work to do says so in one line as it starts, with how long it takes on a
# 2-core machine; a phase with nothing to do says nothing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# What a first build takes on the project's 2-core machine (README, "Build and test").
DCGAN_FIRST_BUILD_MIN_TARGETS=4
DCGAN_FIRST_BUILD_MIN_ALL=7

DEBIAN_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git python3 python3-venv
  libopenmpi-dev openmpi-bin libhdf5-dev libspdlog-dev libfmt-dev libgtest-dev libcli11-dev
  libturbojpeg0-dev libpng-dev zlib1g-dev libssl-dev nlohmann-json3-dev libtomlplusplus-dev dataset-fashion-mnist
  libprotobuf-dev protobuf-compiler
  slurm-wlm munge gdb
  python3-matplotlib chromium
  clang libclang-rt-14-dev clang-format
)

install_packages() {
  [ "${DCGAN_SKIP_APT:-0}" = 1 ] && return 0
  command -v dpkg-query >/dev/null || { echo "setup: not a Debian system; install the equivalents of: ${DEBIAN_PACKAGES[*]}"; return 0; }
  local missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages. Run as root:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${#missing[@]} Debian packages (about 1.5 min from a minimal Debian 12):" \
    "${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The venv holds the torch wheel (libtorch for CMake) and the Python references (PIL, h5py, numpy)
# that benchmarks and tests compare against. A second clone reuses it.
ensure_venv() {
  if [ -n "${Torch_DIR:-}" ] || [ -n "${CMAKE_PREFIX_PATH:-}" ]; then return 0; fi
  mkdir -p "$(dirname "$DCGAN_VENV")"
  exec 9>"$DCGAN_VENV.lock"
  flock 9
  if [ -f "$DCGAN_VENV/.complete" ]; then flock -u 9; return 0; fi
  echo "setup: creating the venv $DCGAN_VENV: torch==$DCGAN_TORCH_VERSION with its CUDA libraries," \
    "numpy, pillow, h5py (one time; about 3 GB to download, 2-3 min on a fast link)"
  rm -rf "$DCGAN_VENV"
  python3 -m venv "$DCGAN_VENV"
  "$DCGAN_VENV/bin/pip" install -q --upgrade pip
  "$DCGAN_VENV/bin/pip" install -q "torch==$DCGAN_TORCH_VERSION" numpy pillow h5py
  "$DCGAN_VENV/bin/python" -c "import torch; print('setup: torch', torch.__version__)"
  touch "$DCGAN_VENV/.complete"
  flock -u 9
}

# Packages added to the venv after it was first made: installed once into an existing venv too.
ensure_venv_extras() {
  if [ -n "${Torch_DIR:-}" ] || [ -n "${CMAKE_PREFIX_PATH:-}" ]; then return 0; fi
  local py="$DCGAN_VENV/bin/python"
  "$py" -c "import sys, scipy, tensorboard; sys.exit(tensorboard.__version__ != '$DCGAN_TENSORBOARD_VERSION' or scipy.__version__ != '$DCGAN_SCIPY_VERSION')" \
    2>/dev/null && return 0
  exec 9>"$DCGAN_VENV.lock"
  flock 9
  echo "setup: installing tensorboard==$DCGAN_TENSORBOARD_VERSION scipy==$DCGAN_SCIPY_VERSION into $DCGAN_VENV"
  "$DCGAN_VENV/bin/pip" install -q "tensorboard==$DCGAN_TENSORBOARD_VERSION" "scipy==$DCGAN_SCIPY_VERSION"
  flock -u 9
}

configure_and_build() {
  local args=(-S "$DCGAN_ROOT" -B "$DCGAN_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release)
  local targets=() t
  for t in ${DCGAN_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
  if [ -z "${Torch_DIR:-}" ] && [ -z "${CMAKE_PREFIX_PATH:-}" ]; then
    local py="$DCGAN_VENV/bin/python"
    local prefix site
    prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')
    site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    args+=(-DCMAKE_PREFIX_PATH="$prefix" -DDCGAN_PYTHON="$py")
    [ -d "$site/nvidia/nccl" ] && args+=(-DNCCL_ROOT="$site/nvidia/nccl")
  fi
  if [ ! -f "$DCGAN_BUILD_DIR/CMakeCache.txt" ]; then
    local generator=${DCGAN_GENERATOR:-}
    if [ -z "$generator" ]; then
      generator="Unix Makefiles"
      command -v ninja >/dev/null && generator=Ninja
    fi
    echo "setup: configuring $DCGAN_BUILD_DIR (CMake, $generator, about 30 s)"
    cmake -G "$generator" "${args[@]}" ${DCGAN_CMAKE_ARGS:-}
  fi
  [ "${DCGAN_CONFIGURE_ONLY:-0}" = 1 ] && return 0
  # One line before a first build (a program it makes is missing); a rebuild shows its own lines.
  local first=0
  for t in ${DCGAN_BUILD_TARGETS:-dcgan-train test_train bench_step}; do
    [ -x "$DCGAN_BIN/$t" ] || first=1
  done
  if [ "$first" = 1 ]; then
    if [ -n "${DCGAN_BUILD_TARGETS:-}" ]; then
      echo "setup: compiling $DCGAN_BUILD_TARGETS and their libraries (from nothing: about" \
        "$DCGAN_FIRST_BUILD_MIN_TARGETS min on 2 cores; later ones only what changed)"
    else
      echo "setup: compiling the tools, tests and benchmarks (from nothing: about" \
        "$DCGAN_FIRST_BUILD_MIN_ALL min on 2 cores; later ones only what changed)"
    fi
  fi
  cmake --build "$DCGAN_BUILD_DIR" -j "$(nproc)" "${targets[@]}"
}

install_packages
ensure_venv
ensure_venv_extras
[ "${DCGAN_SKIP_BUILD:-0}" = 1 ] && exit 0
configure_and_build
echo "setup: binaries in $DCGAN_BIN"
