#!/usr/bin/env bash
# Rank 0's progress line under mpirun, where its stderr is a pipe: none by default, one with
# --progress (the quickstart passes it when its own output is a terminal), none with
# DCGAN_NO_PROGRESS=1, and never from rank 1. Each line starts "\r\033[K[step/steps] ".
source "$(dirname "$0")/lib_ops.sh"
ops_setup progress
T=$OPS_SCRATCH
ops_pack "$T/data" 64
args=(--data "$T/data" --steps 4 "${OPS_TRAIN_ARGS[@]}")

run() {  # run NAME [ENV=VALUE...] -- FLAGS...: rank 0's stderr as mpirun forwards it
  local name=$1; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  ( export "${envs[@]}"; ops_mpirun 2 "$OPS_BIN/dcgan-train" "${args[@]}" --out "$T/$name" "$@" ) \
    > "$T/$name.out" 2> "$T/$name.err" || { tail -5 "$T/$name.err"; ops_fail "$name: the run failed"; }
}
progress_lines() { grep -a -c $'\r\033\\[K\\[[0-9]*/4\\] ' "$1" || true; }

run plain DCGAN_NO_PROGRESS= --
run forced DCGAN_NO_PROGRESS= -- --progress
run off DCGAN_NO_PROGRESS=1 -- --progress
ops_check "no progress line without --progress ($(progress_lines "$T/plain.err"))" \
  test "$(progress_lines "$T/plain.err")" = 0
ops_check "a progress line with --progress ($(progress_lines "$T/forced.err"))" \
  test "$(progress_lines "$T/forced.err")" -ge 1
# Step 4 of 4 is always shown, once per rank that shows progress: exactly once, so rank 1 shows none.
final=$(grep -a -o $'\r\033\\[K\\[4/4\\] ' "$T/forced.err" | wc -l)
ops_check "step 4 of 4 shown exactly once, by rank 0 alone ($final)" test "$final" = 1
ops_check "DCGAN_NO_PROGRESS=1 wins over --progress ($(progress_lines "$T/off.err"))" \
  test "$(progress_lines "$T/off.err")" = 0
ops_finish
