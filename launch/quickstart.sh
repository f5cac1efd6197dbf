#!/usr/bin/env bash
# Set-up, then the main job on the embedded default data (Fashion-MNIST from Debian's
# dataset-fashion-mnist): pack, a short CPU DCGAN run under mpirun -np 2, a sample grid.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$DCGAN_ROOT/launch/setup.sh"
for tool in dcgan-prep dcgan-train dcgan-sample; do
  [ -x "$DCGAN_BIN/$tool" ] || dcgan_die "$tool is not built yet: the quickstart needs dcgan-prep and dcgan-train"
done
