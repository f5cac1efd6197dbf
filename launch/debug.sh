#!/usr/bin/env bash
# Single-process debug run: world size 1, no launcher, deterministic algorithms, a NaN/Inf check
# on every loss and gradient (the failing tensor is named), verbose logs and few steps. It uses
# the GPU when one is visible, else the CPU. Ctrl-C saves a checkpoint (the trainer finishes the
# step, writes RUN/checkpoints/ and exits 75); resume with `--resume RUN`.
#
#   launch/debug.sh --data data/fmnist --out runs/debug [--anomaly] [more dcgan-train options]
#
# Options of this script (all others go to dcgan-train; a default is left out when given):
#   --anomaly     also turn on autograd anomaly detection (slow; finds the op that made a NaN)
#   --dry-run     print the command instead of running it
# Defaults: --steps 20 --log-every 1 --batch-size 16 (override any of them).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
DCGAN_BIN=${DCGAN_BIN_DIR:-$DCGAN_BIN}
TRAIN=${DCGAN_TRAIN:-$DCGAN_BIN/dcgan-train}

args=(--deterministic --check-nan --verbose)
user=() dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --anomaly) args+=(--detect-anomaly); shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) user+=("$1"); shift ;;
  esac
done

# Adds `OPTION VALUE` unless the user gave OPTION (the trainer rejects an option given twice).
default() {
  local a
  for a in "${user[@]+"${user[@]}"}"; do [ "$a" = "$1" ] || [[ "$a" == "$1="* ]] && return 0; done
  args+=("$1" "$2")
}

has_gpu() {
  [ "${CUDA_VISIBLE_DEVICES-unset}" = "" ] && return 1
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'
}
device=cpu
has_gpu && device=cuda
default --device "$device"
default --steps 20
default --log-every 1
default --batch-size 16

# cuBLAS needs this to be deterministic on CUDA >= 10.2 (torch refuses otherwise).
export CUBLAS_WORKSPACE_CONFIG=${CUBLAS_WORKSPACE_CONFIG:-:4096:8}
cmd=("$TRAIN" "${args[@]}" "${user[@]+"${user[@]}"}")
if [ "$dry_run" = 1 ]; then printf '%q ' "${cmd[@]}"; echo; exit 0; fi
[ -x "$TRAIN" ] || { echo "debug.sh: error: $TRAIN is not built (run launch/setup.sh)" >&2; exit 1; }
# exec: Ctrl-C / SIGTERM / SIGUSR1 go straight to the trainer, which checkpoints and exits 75.
exec "${cmd[@]}"
