#!/usr/bin/env bash
# Ctrl-C on launch/debug.sh saves the run: SIGINT to its process group (what a terminal sends)
# makes the trainer finish the step, write a complete checkpoint and exit 75; the run resumes.
source "$(dirname "$0")/lib_ops.sh"
ops_setup debug-sigint
T=$OPS_SCRATCH
ops_pack "$T/data" 256

# Job control gives the background job its own process group, as a shell in a terminal does,
# and keeps SIGINT from being ignored in it.
set -m
CUDA_VISIBLE_DEVICES= "$OPS_ROOT/launch/debug.sh" --data "$T/data" --out "$T/run" --steps 1000000 \
  --ngf 8 --ndf 8 --nz 16 --batch-size 8 --threads 1 > "$T/run.log" 2>&1 &
pid=$!
set +m
OPS_PIDS+=("$pid")
ops_wait 120 ops_has_steps "$T/run" 5 || { tail -n 30 "$T/run.log"; ops_fail "no progress in 120 s"; ops_finish; }
ops_check "debug run is one process without a launcher" test "$(ps -o comm= -p "$pid")" = dcgan-train
# The resolved configuration table the trainer logs at start.
for opt in deterministic check-nan verbose; do
  ops_check "debug mode turns on $opt" grep -qE "^ +$opt +true\$" "$T/run.log"
done
ops_check "debug mode uses the CPU here" grep -qE '^ +device +"cpu"$' "$T/run.log"
kill -INT -- "-$pid"
ops_wait_exit "$pid" 60
ops_check "Ctrl-C exits 75 (got $OPS_RC)" test "$OPS_RC" = 75
[ "$OPS_RC" = 75 ] || tail -n 30 "$T/run.log"
mapfile -t stops < <(ops_stop_steps "$T/run")
ops_check "one rank reports the stop (${stops[*]:-none})" test "${#stops[@]}" = 1
ckpt=$(ops_latest "$T/run")
ops_check "latest checkpoint is the stop step" test "$(basename "$ckpt")" = "step-$(printf %06d "${stops[0]:-0}")"
ops_check "checkpoint is complete" ops_ckpt_complete "$ckpt"
ops_check "checkpoint is world size 1" grep -qE '^world_size *= *1$' "$ckpt/checkpoint.toml"

# It resumes: 3 more steps.
end=$(( ${stops[0]:-0} + 3 ))
timeout 120 env CUDA_VISIBLE_DEVICES= "$OPS_ROOT/launch/debug.sh" --data "$T/data" --out "$T/run" \
  --resume "$T/run" --steps "$end" --ngf 8 --ndf 8 --nz 16 --batch-size 8 --threads 1 > "$T/resume.log" 2>&1
rc=$?
ops_check "resume exits 0 (got $rc)" test "$rc" = 0
ops_check "resumed run ends at step $end" test "$(basename "$(ops_latest "$T/run")")" = "step-$(printf %06d "$end")"
ops_finish
