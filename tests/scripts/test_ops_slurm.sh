#!/usr/bin/env bash
# A real one-node Slurm (own munged, slurmctld, slurmd under a scratch folder; see lib_slurm.sh)
# runs cluster/slurm/train.sbatch as a 2-task CPU job with srun --mpi=pmix. The preemption drill
# sends SIGUSR1 to the batch shell (scancel --signal=USR1 --batch, what --signal=B:USR1@180 does
# before the time limit); the script forwards it, the trainer checkpoints and exits 75, the script
# requeues the job, and the restarted job resumes and must finish with exactly the parameters of
# an uninterrupted run. Every wait is bounded; the daemons are stopped by pid on exit.
source "$(dirname "$0")/lib_ops.sh"
source "$(dirname "$0")/lib_slurm.sh"
for tool in munged slurmctld slurmd sbatch scontrol; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (launch/setup.sh installs slurm-wlm and munge)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "FAIL: a private slurmd must run as root"; exit 1; }
ops_setup slurm
T=$OPS_SCRATCH
STEPS=${OPS_SLURM_STEPS:-60}
trap 'slurm_local_stop; ops_cleanup' EXIT
chmod 755 "$T"
slurm_local_start "$T/slurm" || { slurm_local_dump_logs; ops_fail "local Slurm did not start"; ops_finish; }
ops_pass "munged, slurmctld and slurmd up (SLURM_CONF=$SLURM_CONF)"
ops_check "srun offers --mpi=pmix" bash -c "srun --mpi=list 2>&1 | grep -qw pmix"

ops_pack "$T/data" 512
common=(--data "$T/data" --steps "$STEPS" "${OPS_TRAIN_ARGS[@]}")
# Uninterrupted reference, same 2 ranks, through mpirun.
timeout 300 "$OPS_ROOT/launch/train.sh" --np 2 -- "${common[@]}" --out "$T/ref" > "$T/ref.log" 2>&1 \
  || { tail -n 30 "$T/ref.log"; ops_fail "reference run failed"; ops_finish; }
ref_ckpt=$(ops_latest "$T/ref")

# The template's GPU geometry is overridden on the command line: 1 node, 2 tasks, no GPU.
job=$(cd "$T" && DCGAN_ROOT=$OPS_ROOT sbatch --parsable --nodes=1 --ntasks=2 --ntasks-per-node=2 \
        --cpus-per-task=1 --gpus-per-node=0 --time=15 --output="$T/job-%j.out" \
        "$OPS_ROOT/cluster/slurm/train.sbatch" "${common[@]}" --out "$T/run")
[ -n "$job" ] || { slurm_local_dump_logs; ops_fail "sbatch refused the job"; ops_finish; }
ops_pass "submitted job $job"
out=$T/job-$job.out
show_out() { echo "---- $out"; tail -n 40 "$out" 2>/dev/null; }

first_attempt_gone() { slurm_local_node_idle && ! pgrep -x slurmstepd >/dev/null; }
if ! slurm_wait_steps "$job" "$out" "$T/run" 10 120 first_attempt_gone; then
  show_out; slurm_local_dump_logs; squeue; ops_fail "job made no progress in 120 s"; ops_finish
fi
scancel --signal=USR1 --batch "$job"
if ops_wait 90 job_restarted "$job"; then ops_pass "job requeued itself (PENDING, restarted)"
else show_out; slurm_local_dump_logs; ops_fail "job did not requeue in 90 s (state $(job_field "$job" JobState))"; ops_finish; fi
mapfile -t stops < <(ops_stop_steps "$T/run")
ops_check "both ranks stopped after the same step (${stops[*]:-none})" \
  test "${#stops[@]}" = 2 -a "${stops[0]:-a}" = "${stops[1]:-b}"
stop=${stops[0]:-0}
ops_check "batch script saw exit 75 and requeued" grep -q "launcher exited with 75" "$out"
ops_check "checkpoint of step $stop is complete" ops_ckpt_complete "$T/run/checkpoints/step-$(printf %06d "$stop")"

# Once the first attempt's step daemons are gone, the requeued job may start.
ops_wait 60 first_attempt_gone || ops_fail "first attempt still running after 60 s"
slurm_start_now "$job"
if ops_wait 180 job_is "$job" COMPLETED; then ops_pass "requeued job completed"
else show_out; slurm_local_dump_logs; ops_fail "requeued job did not complete in 180 s (state $(job_field "$job" JobState))"; ops_finish; fi
ops_check "job exit code 0:0 (got $(job_field "$job" ExitCode))" test "$(job_field "$job" ExitCode)" = 0:0
ops_check "the requeued attempt resumed from the run" grep -qE "restart [1-9][0-9]* .*resuming $T/run" "$out"
ops_check "trainer resumed at step $stop" grep -q "resumed from .* at step $stop " "$T/run/logs/rank-0.log"
final=$(ops_latest "$T/run")
ops_check "run ends at step $STEPS" test "$(basename "$final")" = "step-$(printf %06d "$STEPS")"
ops_check "parameters identical to the uninterrupted run" ops_same_params "$ref_ckpt" "$final"
show_out
ops_finish
