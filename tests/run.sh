#!/usr/bin/env bash
# Set-up, build, and the whole test suite through ctest. Ends with ctest's summary line.
# Extra arguments go to ctest (e.g. -R data).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../launch/common.sh"
"$DCGAN_ROOT/launch/setup.sh"
cd "$DCGAN_BUILD_DIR"
ctest --output-on-failure --timeout 900 -j "${DCGAN_TEST_JOBS:-2}" "$@"
