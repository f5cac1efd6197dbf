# Sourced by the launch/ and tests/ scripts: paths, the torch venv, and the mpirun flags.
# shellcheck shell=bash
DCGAN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DCGAN_TORCH_VERSION="${DCGAN_TORCH_VERSION:-2.11.0}"
# The venv's TensorBoard: its reader checks the run's event files (tests/scripts/test_tensorboard.sh).
DCGAN_TENSORBOARD_VERSION="${DCGAN_TENSORBOARD_VERSION:-2.21.0}"
# The venv's SciPy: the independent FD reference (scipy.linalg.sqrtm) of the evaluator's tests.
DCGAN_SCIPY_VERSION="${DCGAN_SCIPY_VERSION:-1.16.3}"
DCGAN_VENV="${DCGAN_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/dcgan-dist/torch-${DCGAN_TORCH_VERSION}}"
DCGAN_BUILD_DIR="${DCGAN_BUILD_DIR:-$DCGAN_ROOT/build}"
DCGAN_BIN="$DCGAN_BUILD_DIR/bin"

# mpirun refuses root without --allow-run-as-root and refuses more ranks than cores without
# --oversubscribe; users should not need to know either.
# Open MPI's non-blocking all-reduce (which the MPI backend uses, so that every wait has a
# deadline) picks a slow algorithm for large buffers by default; the ring is 2x faster here
# (25 MB between 2 ranks: 11 ms against 24 ms). A value set by the user wins.
export OMPI_MCA_coll_libnbc_iallreduce_algorithm="${OMPI_MCA_coll_libnbc_iallreduce_algorithm:-1}"

dcgan_mpirun() {
  local extra=()
  [ "$(id -u)" = 0 ] && extra+=(--allow-run-as-root)
  extra+=(--oversubscribe)
  mpirun "${extra[@]}" "$@"
}

dcgan_die() { echo "$(basename "$0"): error: $*" >&2; exit "${DCGAN_EXIT:-1}"; }
