#!/usr/bin/env bash
# Every C++ source of the project is formatted as .clang-format says (clang-format --dry-run
# -Werror); the failure lists the files. Fix with: clang-format -i FILE...
set -euo pipefail
root="${DCGAN_SOURCE_DIR:?set by ctest}"
cd "$root"
# Without clang-format (a machine that ran only part of launch/setup.sh, the GPU check's) there is
# nothing to check: a skip, which ctest reports as such, not a failure.
command -v clang-format >/dev/null || { echo "SKIP: clang-format is not installed (launch/setup.sh installs it)"; exit 77; }
files=$(find src include data_prep tests bench -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' | sort)
bad=()
for f in $files; do clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f"); done
count=$(echo "$files" | wc -l)
if [ ${#bad[@]} -gt 0 ]; then
  echo "FAIL: ${#bad[@]} of $count files need clang-format: ${bad[*]}"
  exit 1
fi
echo "test_clang_format: ok ($count files, $(clang-format --version | head -n 1))"
