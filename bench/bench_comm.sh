#!/usr/bin/env bash
# Compute vs all-reduce per training step (the product's recipe step) at N ranks (default 2) on
# CPU with the MPI backend: runs build/bin/bench_comm under mpirun and prints its table (see
# docs/scaling.md).
#
# usage: bench/bench_comm.sh [--np N] [bench_comm flags: --model dcgan|ae|vae --batch B
#                            --steps N --warmup N --threads T --bucket-mb M --image-size S
#                            --backend mpi|auto|nccl]
set -euo pipefail
source "$(dirname "$0")/../launch/common.sh"

np=2
if [ "${1:-}" = "--np" ]; then np=$2; shift 2; fi
case "${1:-}" in -h|--help) sed -n '2,8p' "$0"; exit 0 ;; esac
bin="$DCGAN_BIN/bench_comm"
[ -x "$bin" ] || dcgan_die "$bin not built; HINT: cmake --build $DCGAN_BUILD_DIR --target bench_comm"
# One intra-op thread per rank unless --threads says otherwise; nothing else competes.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
dcgan_mpirun -np "$np" "$bin" "$@"
