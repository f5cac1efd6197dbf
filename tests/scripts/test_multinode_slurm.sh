#!/usr/bin/env bash
# A two-node Slurm on two simulated hosts (lib_hosts.sh; lib_slurm.sh's slurm_hosts_start):
# slurmctld on host 1, a slurmd on each, one munge key. cluster/slurm/train.sbatch runs with
# --nodes=2 --ntasks-per-node=2 and the CPU overrides of the one-node drill, through srun
# --mpi=pmix, MPI over TCP between the hosts. Every daemon and namespace is stopped at the end.
#   SLURM_DRILL=preempt (default): the preemption drill across both nodes: scancel --signal=USR1
#     --batch, exit 75, requeue, resume.
#   SLURM_DRILL=node_loss (test_multinode_slurm_node_loss.sh): once a checkpoint exists, every
#     process of host 2 (its ranks, their slurmstepd and its slurmd) is killed at once. The attempt
#     must end within 30 s with no rank left on host 1, and train.sbatch requeues it (an abnormal
#     end after progress); host 2's slurmd comes back, as a rebooted node would, and once
#     slurmctld has delivered what it held for host 2 the job resumes from the last checkpoint.
# Either way the run must end with the parameters of an uninterrupted 2-node run (mpirun over the
# same hosts).
export TMPDIR=/var/tmp  # the scratch is shared by the hosts; each slurmd has its own /tmp
here="$(dirname "$0")"
source "$here/lib_ops.sh"
source "$here/lib_slurm.sh"
source "$here/lib_hosts.sh"
for tool in munged slurmctld slurmd sbatch scontrol; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (launch/setup.sh installs slurm-wlm and munge)"; exit 1; }
done
hosts_up 2
drill=${SLURM_DRILL:-preempt}
case "$drill" in preempt|node_loss) ;; *) echo "FAIL: SLURM_DRILL must be preempt or node_loss"; exit 1 ;; esac
ops_setup "multinode-slurm-$drill"
T=$OPS_SCRATCH
chmod 755 "$T"
# A rank that crashes leaves a core file in the job's directory, and the exit shows its backtrace
# (ops_backtraces): Slurm gives the tasks the limits of the shell that ran sbatch.
ulimit -c unlimited 2>/dev/null || true
trap 'ops_backtraces "$T"; slurm_local_stop; hosts_down; ops_cleanup' EXIT
STEPS=${OPS_SLURM_STEPS:-600}
slurm_hosts_start "$T/slurm" 2 || { slurm_local_dump_logs; ops_fail "the 2-node Slurm did not start"; ops_finish; }
ops_pass "munged, slurmctld on $HOST_PREFIX-1, slurmd on $HOST_PREFIX-1 and -2"

ops_pack "$T/data" 512
common=(--data "$T/data" --steps "$STEPS" "${OPS_TRAIN_ARGS[@]}" --backend mpi)
# The node-loss drill resumes from a periodic checkpoint (one every 25 steps), and host 1's
# ranks learn of the loss from the --comm-timeout deadline: nothing else tells them under srun.
COMM_TIMEOUT=15
if [ "$drill" = node_loss ]; then
  for i in "${!common[@]}"; do [ "${common[$i]}" = --ckpt-every ] && common[$((i+1))]=25; done
  common+=(--comm-timeout "$COMM_TIMEOUT")
fi
hosts_mpi_env
# The uninterrupted reference: the same 2 hosts x 2 ranks through mpirun.
printf '%s slots=2\n%s slots=2\n' "$HOST_PREFIX-1" "$HOST_PREFIX-2" >"$T/hostfile"
host_run 1 timeout 300 "$OPS_ROOT/launch/train.sh" --np 4 --hostfile "$T/hostfile" -- "${common[@]}" \
  --out "$T/ref" > "$T/ref.log" 2>&1 || { tail -n 30 "$T/ref.log"; ops_fail "reference run failed"; ops_finish; }
ref_ckpt=$(ops_latest "$T/ref")
unset OMPI_MCA_plm_rsh_agent  # inside the allocation srun starts the ranks

job=$(cd "$T" && DCGAN_ROOT=$OPS_ROOT sbatch --parsable --nodes=2 --ntasks-per-node=2 \
        --cpus-per-task=1 --gpus-per-node=0 --time=15 --output="$T/job-%j.out" \
        "$OPS_ROOT/cluster/slurm/train.sbatch" "${common[@]}" --out "$T/run")
[ -n "$job" ] || { slurm_local_dump_logs; ops_fail "sbatch refused the job"; ops_finish; }
ops_pass "submitted job $job"
out=$T/job-$job.out
show_out() { echo "---- $out"; tail -n 40 "$out" 2>/dev/null; }
ranks_on() { ip netns pids "$HOST_PREFIX-$1" | xargs -r ps -o comm= -p 2>/dev/null | grep -c '^dcgan-train$' || true; }
first_attempt_gone() { slurm_hosts_idle 2 && ! pgrep -x slurmstepd >/dev/null; }
if ! slurm_wait_steps "$job" "$out" "$T/run" 10 120 first_attempt_gone; then
  show_out; slurm_local_dump_logs; squeue; ops_fail "job made no progress in 120 s"; ops_finish
fi
if [ "$drill" = preempt ]; then
  scancel --signal=USR1 --batch "$job"
  if ops_wait 90 job_restarted "$job"; then ops_pass "job requeued itself (PENDING, restarted)"
  else show_out; slurm_local_dump_logs; ops_fail "job did not requeue in 90 s (state $(job_field "$job" JobState))"; ops_finish; fi
  mapfile -t stops < <(ops_stop_steps "$T/run")
  ops_check "all 4 ranks stopped after the same step (${stops[*]:-none})" \
    bash -c "[ ${#stops[@]} = 4 ] && [ \"\$(printf '%s\n' ${stops[*]:-x} | sort -u | wc -l)\" = 1 ]"
  stop=${stops[0]:-0}
  ops_check "batch script saw exit 75 and requeued" grep -q "launcher exited with 75" "$out"
  ops_check "checkpoint of step $stop is complete" ops_ckpt_complete "$T/run/checkpoints/step-$(printf %06d "$stop")"
  ops_wait 60 first_attempt_gone || ops_fail "first attempt still running after 60 s"
else
  has_ckpt() { ops_latest "$T/run" >/dev/null 2>&1; }
  if ! ops_wait 120 has_ckpt; then show_out; ops_fail "no checkpoint in 120 s"; ops_finish; fi
  [ "$(ranks_on 1)" = 2 ] && [ "$(ranks_on 2)" = 2 ] || ops_fail "expected 2 ranks on each host ($(ranks_on 1), $(ranks_on 2))"
  lost=$(date +%s)
  ip netns pids "$HOST_PREFIX-2" | xargs -r kill -9  # the node dies: ranks, slurmstepd, slurmd
  requeued() { grep -q "requeueing job $job to resume from" "$out"; }
  if ops_wait $(( COMM_TIMEOUT + 25 )) requeued; then
    ops_pass "the attempt ended and train.sbatch requeued it $(( $(date +%s) - lost )) s after the loss (--comm-timeout $COMM_TIMEOUT)"
  else show_out; ps -eo pid,ppid,etimes,stat,comm --forest | grep -E "dcgan|srun|slurm|train" ; ops_fail "no requeue within --comm-timeout + 25 s of the node loss"; ops_finish; fi
  sleep 1
  ops_check "no rank left on host 1 ($(ranks_on 1))" test "$(ranks_on 1)" = 0
  stop=$(awk '/^job / {print $NF}' "$T/run/logs/failures" | tail -n 1)
  stop=$(( 10#${stop#step-} ))
  ops_check "RUN/logs/failures records the abnormal end" grep -qE "^job $job restart [0-9]+ exit [0-9]+ at .* resumes step-" "$T/run/logs/failures"
  ops_check "checkpoint of step $stop is complete" ops_ckpt_complete "$T/run/checkpoints/step-$(printf %06d "$stop")"
  # The node comes back, as after a reboot; the requeued job needs both nodes. Slurm 22.05's
  # PMIx plugin does not remove what a killed step left in the slurmd spool (its socket
  # stepd.slurm.pmix.J.S and folder pmix.J.S), and the requeued job reuses the job and step ids:
  # its launch there fails ("Address already in use", "File exists") unless the spool is cleaned
  # at boot, as docs/running.md tells cluster admins.
  rm -rf "$T/slurm/spool/slurmd-$HOST_PREFIX-2"/stepd.slurm.pmix.* "$T/slurm/spool/slurmd-$HOST_PREFIX-2"/pmix.*
  slurm_hosts_slurmd 2 || ops_fail "host 2's slurmd did not restart"
  ops_wait 60 first_attempt_gone || { slurm_local_dump_logs; ops_fail "the failed attempt still holds the nodes after 60 s"; }
  ops_wait 30 job_restarted "$job" || ops_fail "job not PENDING after a restart (state $(job_field "$job" JobState))"
  # slurmctld keeps what host 2 did not answer while it was down (srun's SIGKILLs of step
  # $job.0, the terminate of the attempt) and delivers it to the new slurmd. The requeued attempt
  # reuses the job and step ids, so a stale step signal that arrives after its launch kills its
  # tasks on host 2 ("tasks 2-3: Killed"): it starts only once nothing is left to deliver.
  held=$(date +%s)
  echo "slurmctld: $(sdiag | grep -E '^Agent (queue size|count)' | tr -s ' ' | paste -sd, -)"
  if ops_wait 90 slurm_agent_idle; then ops_pass "slurmctld delivered what it held for host 2 ($(( $(date +%s) - held )) s)"
  else sdiag | grep -i agent; ops_fail "slurmctld still holds messages after 90 s"; fi
fi
slurm_start_now "$job"
if ops_wait 180 job_is "$job" COMPLETED; then ops_pass "requeued job completed"
else show_out; slurm_local_dump_logs; ops_fail "requeued job did not complete in 180 s (state $(job_field "$job" JobState))"; ops_finish; fi
ops_check "job exit code 0:0 (got $(job_field "$job" ExitCode))" test "$(job_field "$job" ExitCode)" = 0:0
ops_check "trainer resumed at step $stop" grep -q "resumed from .* at step $stop " "$T/run/logs/rank-0.log"
# The rank logs are flushed at exit: checked once the job is done.
for r in 0 1 2 3; do
  ops_check "rank $r runs on $HOST_PREFIX-$(( r / 2 + 1 )) as local rank $(( r % 2 )) of 2" grep -q \
    "placement: host $HOST_PREFIX-$(( r / 2 + 1 )), rank $r of 4, local rank $(( r % 2 )) of 2, device cpu, backend mpi" \
    "$T/run/logs/rank-$r.log"
done
final=$(ops_latest "$T/run")
ops_check "run ends at step $STEPS" test "$(basename "$final")" = "step-$(printf %06d "$STEPS")"
ops_check "parameters identical to the uninterrupted 2-node run" ops_same_params "$ref_ckpt" "$final"
show_out
ops_finish
