#!/usr/bin/env bash
# Build times of the project's build configuration against the plain one, side by side, each from
# nothing in a scratch build directory of its own (same compiler, flags, venv and sources):
#   - the quickstart's three tools with their libraries, from nothing;
#   - everything else after them (so "everything" is the sum: the same work as one cold build);
#   - dcgan-train again after touching src/train/trainer.cpp (the edit-compile loop).
# Configurations (a row each):
#   reference      Unix Makefiles, no precompiled header (the build before this benchmark existed)
#   ninja          Ninja, no precompiled header
#   ninja+pch      Ninja and the shared precompiled torch header (the project's default)
# Prints the table with each time's ratio to the reference. Takes about half an hour on 2 cores.
#
#   bench/build_time.sh [CONFIG...]        (default: all three)
# Environment: DCGAN_BENCH_JOBS (parallel jobs, default nproc), DCGAN_BENCH_SCRATCH (default /tmp).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../launch/common.sh"
jobs=${DCGAN_BENCH_JOBS:-$(nproc)}
scratch=$(mktemp -d "${DCGAN_BENCH_SCRATCH:-/tmp}/dcgan-build-time.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(reference ninja ninja+pch)
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
    reference) gen="Unix Makefiles" pch=OFF ;;
    ninja) gen=Ninja pch=OFF ;;
    ninja+pch) gen=Ninja pch=ON ;;
    *) DCGAN_EXIT=2 dcgan_die "unknown configuration '$c' (reference, ninja, ninja+pch)" ;;
  esac
  dir=$scratch/$c
  DCGAN_BUILD_DIR=$dir DCGAN_GENERATOR=$gen DCGAN_CMAKE_ARGS="-DDCGAN_PCH=$pch" \
    DCGAN_CONFIGURE_ONLY=1 "$DCGAN_ROOT/launch/setup.sh" > "$scratch/configure-$c.log" 2>&1 \
    || { cat "$scratch/configure-$c.log"; dcgan_die "configure failed for $c"; }
  targets=()
  for t in "${QUICKSTART_TARGETS[@]}"; do targets+=(--target "$t"); done
  quick[$c]=$(seconds_of cmake --build "$dir" -j "$jobs" "${targets[@]}")
  rest[$c]=$(seconds_of cmake --build "$dir" -j "$jobs")
  touch "$DCGAN_ROOT/src/train/trainer.cpp"
  touch[$c]=$(seconds_of cmake --build "$dir" -j "$jobs" --target dcgan-train)
  echo "build_time: $c: quickstart tools ${quick[$c]} s, the rest ${rest[$c]} s, after touching trainer.cpp ${touch[$c]} s" >&2
  rm -rf "$dir"
done

ref=${configs[0]}
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (y > 0) printf "%.2f", x / y; else print "-" }'; }
echo "build times on $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores, -j $jobs; ratios against $ref"
printf '%-12s %22s %22s %22s\n' configuration "quickstart tools (s)" "everything (s)" "touch trainer.cpp (s)"
for c in "${configs[@]}"; do
  all=$((quick[$c] + rest[$c]))
  all_ref=$((quick[$ref] + rest[$ref]))
  printf '%-12s %15s (%5s) %15s (%5s) %15s (%5s)\n' "$c" "${quick[$c]}" "$(ratio "${quick[$c]}" "${quick[$ref]}")" \
    "$all" "$(ratio "$all" "$all_ref")" "${touch[$c]}" "$(ratio "${touch[$c]}" "${touch[$ref]}")"
done
