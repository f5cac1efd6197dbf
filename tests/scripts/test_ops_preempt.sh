#!/usr/bin/env bash
# Preemption drill on CPU: SIGUSR1 to a 2-rank mpirun run (started by launch/train.sh, which
# execs mpirun, so the signal goes to mpirun and mpirun forwards it to both ranks).
# Both ranks must stop after the same step, the checkpoint of that step must be complete and be
# the latest, the exit code must be 75, and resuming must end with exactly the parameters of an
# uninterrupted run of the same length.
source "$(dirname "$0")/lib_ops.sh"
ops_setup preempt
T=$OPS_SCRATCH
STEPS=${OPS_PREEMPT_STEPS:-60}
ops_pack "$T/data" 512
common=(--data "$T/data" --steps "$STEPS" "${OPS_TRAIN_ARGS[@]}")

# Uninterrupted reference.
timeout 300 "$OPS_ROOT/launch/train.sh" --np 2 -- "${common[@]}" --out "$T/ref" > "$T/ref.log" 2>&1
rc=$?
[ "$rc" = 0 ] || { tail -n 30 "$T/ref.log"; ops_fail "reference run exit $rc"; ops_finish; }
ref_ckpt=$(ops_latest "$T/ref")
ops_check "reference ends at step $STEPS" test "$(basename "$ref_ckpt")" = "step-$(printf %06d "$STEPS")"

# The drill: SIGUSR1 once rank 0 has logged 10 steps.
"$OPS_ROOT/launch/train.sh" --np 2 -- "${common[@]}" --out "$T/run" > "$T/run.log" 2>&1 &
pid=$!
OPS_PIDS+=("$pid")
ops_wait 120 ops_has_steps "$T/run" 10 || { tail -n 30 "$T/run.log"; ops_fail "no progress in 120 s"; ops_finish; }
kill -USR1 "$pid"
ops_wait_exit "$pid" 60
ops_check "preempted run exits 75 (got $OPS_RC)" test "$OPS_RC" = 75
[ "$OPS_RC" = 75 ] || tail -n 30 "$T/run.log"

mapfile -t stops < <(ops_stop_steps "$T/run")
echo "stop steps per rank: ${stops[*]:-none}"
ops_check "both ranks report the stop" test "${#stops[@]}" = 2
ops_check "both ranks stop after the same step" test "${stops[0]:-a}" = "${stops[1]:-b}"
stop=${stops[0]:-0}
ops_check "the stop is mid-run (10 <= $stop < $STEPS)" test "$stop" -ge 10 -a "$stop" -lt "$STEPS"
ckpt=$(ops_latest "$T/run")
ops_check "latest checkpoint is the stop step" test "$(basename "$ckpt")" = "step-$(printf %06d "$stop")"
ops_check "checkpoint is complete" ops_ckpt_complete "$ckpt"
ops_check "checkpoint.toml records step $stop" grep -qE "^step *= *$stop\$" "$ckpt/checkpoint.toml"
ops_check "no temporary checkpoint left" test -z "$(find "$T/run/checkpoints" -maxdepth 1 -name '*tmp*' -print -quit)"

# Resume to the end; the result must be bit-identical to the reference.
timeout 300 "$OPS_ROOT/launch/train.sh" --np 2 -- "${common[@]}" --out "$T/run" --resume "$T/run" \
  > "$T/resume.log" 2>&1
rc=$?
ops_check "resumed run exits 0 (got $rc)" test "$rc" = 0
[ "$rc" = 0 ] || tail -n 30 "$T/resume.log"
ops_check "resumed from step $stop" grep -q "resumed from .* at step $stop " "$T/run/logs/rank-0.log"
final=$(ops_latest "$T/run")
ops_check "resumed run ends at step $STEPS" test "$(basename "$final")" = "step-$(printf %06d "$STEPS")"
ops_check "parameters and Adam state identical to the uninterrupted run" ops_same_params "$ref_ckpt" "$final"
ops_finish
