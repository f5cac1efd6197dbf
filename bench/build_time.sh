#!/usr/bin/env bash
# Build times of the project's build configuration against the plain one, side by side, each from
# nothing in a scratch build directory of its own (same compiler, flags, venv and sources):
#   - the quickstart's three tools with their libraries, from nothing;
#   - everything else after them (so "everything" is the sum: the same work as one cold build);
#   - dcgan-train again after touching src/train/trainer.cpp (the edit-compile loop).
# Configurations (a row each):
#   reference      Unix Makefiles, no precompiled header (the build before this benchmark existed)
#   ninja          Ninja, no precompiled header
#   ninja+pch      Ninja and the shared precompiled torch header, each test source its own unit
#   ninja+pch+unity  the same with the test binaries compiled in unity batches (the default)
#   ninja+pch+O2   ninja+pch+unity at -O2 instead of CMake's Release -O3
#   ccache-cold    ninja+pch through ccache, its cache empty (the project's default on a first build)
#   ccache-warm    the same with the cache ccache-cold left: a second clone at another path; run
#                  it right after ccache-cold (each builds in a copy of the tree, build/ inside)
# Prints the table with each time's ratio to the first configuration. Each takes 5-12 min on 2
# cores.
#
#   bench/build_time.sh [CONFIG...]        (default: reference ninja ninja+pch ninja+pch+unity)
# Environment: DCGAN_BENCH_JOBS (parallel jobs, default nproc), DCGAN_BENCH_SCRATCH (default /tmp),
# DCGAN_BENCH_KEEP=1 (keep the build directories, e.g. to time -O2's step: their paths are printed).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../launch/common.sh"
jobs=${DCGAN_BENCH_JOBS:-$(nproc)}
scratch=$(mktemp -d "${DCGAN_BENCH_SCRATCH:-/tmp}/dcgan-build-time.XXXXXX")
[ "${DCGAN_BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$scratch"' EXIT
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(reference ninja ninja+pch ninja+pch+unity)
QUICKSTART_TARGETS=(dcgan-prep dcgan-train dcgan-sample)

seconds_of() {  # seconds_of CMD...: runs CMD quietly, prints its wall seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > "$scratch/last.log" 2>&1 || { tail -n 30 "$scratch/last.log" >&2; dcgan_die "failed: $*"; }
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }'
}

declare -A quick rest touch
for c in "${configs[@]}"; do
  case "$c" in
    reference) gen="Unix Makefiles" extra="-DDCGAN_PCH=OFF -DDCGAN_CCACHE=OFF -DDCGAN_UNITY_TESTS=OFF" ;;
    ninja) gen=Ninja extra="-DDCGAN_PCH=OFF -DDCGAN_CCACHE=OFF -DDCGAN_UNITY_TESTS=OFF" ;;
    ninja+pch) gen=Ninja extra="-DDCGAN_PCH=ON -DDCGAN_CCACHE=OFF -DDCGAN_UNITY_TESTS=OFF" ;;
    ninja+pch+unity) gen=Ninja extra="-DDCGAN_PCH=ON -DDCGAN_CCACHE=OFF -DDCGAN_UNITY_TESTS=ON" ;;
    ninja+pch+O2) gen=Ninja extra="-DDCGAN_PCH=ON -DDCGAN_CCACHE=OFF -DDCGAN_UNITY_TESTS=ON -DCMAKE_CXX_FLAGS_RELEASE=-O2 -DCMAKE_CXX_FLAGS=-DNDEBUG" ;;
    ccache-cold|ccache-warm) gen=Ninja extra="-DDCGAN_PCH=ON -DDCGAN_CCACHE=ON -DDCGAN_UNITY_TESTS=ON" ;;
    *) DCGAN_EXIT=2 dcgan_die "unknown configuration '$c' (reference, ninja, ninja+pch, ninja+pch+unity, ninja+pch+O2, ccache-cold, ccache-warm)" ;;
  esac
  dir=$scratch/$c
  src=$DCGAN_ROOT
  if [[ $c == ccache-* ]]; then
    command -v ccache >/dev/null || dcgan_die "$c needs ccache (launch/setup.sh installs it)"
    export CCACHE_DIR=$scratch/ccache  # this benchmark's own cache, never the user's
    [ "$c" = ccache-cold ] && rm -rf "$CCACHE_DIR"
    # A clone of its own for each, with build/ inside it as setup.sh makes it: ccache's base_dir
    # turns paths into ones relative to the build directory, which then match between clones.
    src=$scratch/clone-$c
    dir=$src/build
    mkdir -p "$src"
    git -C "$DCGAN_ROOT" ls-files -co --exclude-standard -z | tar -C "$DCGAN_ROOT" --null -T - -cf - | tar -C "$src" -xf -
  fi
  DCGAN_BUILD_DIR=$dir DCGAN_GENERATOR=$gen DCGAN_CMAKE_ARGS="$extra" \
    DCGAN_CONFIGURE_ONLY=1 "$src/launch/setup.sh" > "$scratch/configure-$c.log" 2>&1 \
    || { cat "$scratch/configure-$c.log"; dcgan_die "configure failed for $c"; }
  targets=()
  for t in "${QUICKSTART_TARGETS[@]}"; do targets+=(--target "$t"); done
  quick[$c]=$(seconds_of cmake --build "$dir" -j "$jobs" "${targets[@]}")
  rest[$c]=$(seconds_of cmake --build "$dir" -j "$jobs")
  touch "$src/src/train/trainer.cpp"
  touch[$c]=$(seconds_of cmake --build "$dir" -j "$jobs" --target dcgan-train)
  [ "${DCGAN_BENCH_KEEP:-0}" = 1 ] && echo "build_time: $c built in $dir" >&2
  echo "build_time: $c: quickstart tools ${quick[$c]} s, the rest ${rest[$c]} s, after touching trainer.cpp ${touch[$c]} s" >&2
  [[ $c == ccache-* ]] && { ccache --show-stats | sed -n '/Hits/,/Misses/p' >&2; unset CCACHE_DIR; }
  [ "${DCGAN_BENCH_KEEP:-0}" = 1 ] || rm -rf "$dir"
done

ref=${configs[0]}
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (y > 0) printf "%.2f", x / y; else print "-" }'; }
echo "build times on $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores, -j $jobs; ratios against $ref"
printf '%-16s %22s %22s %22s\n' configuration "quickstart tools (s)" "everything (s)" "touch trainer.cpp (s)"
for c in "${configs[@]}"; do
  all=$((quick[$c] + rest[$c]))
  all_ref=$((quick[$ref] + rest[$ref]))
  printf '%-16s %15s (%5s) %15s (%5s) %15s (%5s)\n' "$c" "${quick[$c]}" "$(ratio "${quick[$c]}" "${quick[$ref]}")" \
    "$all" "$(ratio "$all" "$all_ref")" "${touch[$c]}" "$(ratio "${touch[$c]}" "${touch[$ref]}")"
done
