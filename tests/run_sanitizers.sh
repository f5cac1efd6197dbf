#!/usr/bin/env bash
# The sanitizer build: the torch-free rooms (common, data, data_prep, the MPI bootstrap), their
# unit tests, the dcgan-prep drills and the libFuzzer targets, built with clang, ASan, UBSan and
# -D_GLIBCXX_ASSERTIONS into build-san/ (DCGAN_SAN_BUILD_DIR). An out-of-range index, a
# use-after-free or undefined behaviour then fails loudly. Runs after ./tests/run.sh in CI.
#
#   ./tests/run_sanitizers.sh            build, then every test (unit, drills, fuzz replay + short pass)
#   ./tests/run_sanitizers.sh -R fuzz    extra arguments go to ctest
#   DCGAN_FUZZ_RUNS=200000 ...           executions of each short fuzz pass (default 200000)
#   ./tests/run_sanitizers.sh --long SECS   a long fuzzing pass of every target instead of ctest
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../launch/common.sh"
DCGAN_SKIP_BUILD=1 "$DCGAN_ROOT/launch/setup.sh"  # packages and the venv (the PIL references)
build="${DCGAN_SAN_BUILD_DIR:-$DCGAN_ROOT/build-san}"
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$DCGAN_ROOT" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDCGAN_WITH_TORCH=OFF -DDCGAN_SANITIZE=ON -DDCGAN_FUZZ=ON \
    -DDCGAN_PYTHON="$DCGAN_VENV/bin/python" -DDCGAN_FUZZ_RUNS="${DCGAN_FUZZ_RUNS:-200000}"
fi
cmake --build "$build" -j "$(nproc)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$DCGAN_ROOT/tests/sanitizers/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
if [ "${1:-}" = --long ]; then
  secs="${2:?--long SECONDS}"
  for target in "$build"/bin/fuzz_*; do
    bash "$DCGAN_ROOT/tests/fuzz/run_fuzz.sh" long "$target" \
      "$DCGAN_ROOT/tests/fuzz/corpus/$(basename "$target")" "$secs"
  done
  exit 0
fi
cd "$build"
ctest --output-on-failure --timeout 900 -j "${DCGAN_TEST_JOBS:-2}" "$@"
