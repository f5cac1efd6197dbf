#!/usr/bin/env bash
# cluster/slurm/train.sbatch's decisions, without Slurm: a fake mpirun exits with the status under
# test (and moves checkpoints/latest as a run that made progress would), a fake scontrol records
# the requeues. Each case checks the script's exit status, whether it requeued, and its reason.
set -uo pipefail
root=${DCGAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bin" "$T/run"
cat >"$T/bin/mpirun" <<'FAKE'
#!/bin/sh
echo "$*" >"$FAKE_DIR/args"
if [ -n "${FAKE_LATEST:-}" ]; then mkdir -p "$FAKE_DIR/run/checkpoints"; echo "$FAKE_LATEST" >"$FAKE_DIR/run/checkpoints/latest"; fi
exit "$FAKE_RC"
FAKE
printf '#!/bin/sh\necho "$*" >>"$FAKE_DIR/scontrol"\n' >"$T/bin/scontrol"
chmod +x "$T/bin/mpirun" "$T/bin/scontrol"
fail=0 n=0

# case NAME JOB RC LATEST WANT_EXIT WANT_REQUEUE(0|1) PATTERN
case_() {
  local name=$1 job=$2 rc=$3 latest=$4 want=$5 requeue=$6 pattern=$7 got err
  n=$((n + 1))
  rm -f "$T/scontrol"
  err=$(env -u SLURM_NTASKS PATH="$T/bin:$PATH" FAKE_DIR="$T" FAKE_RC="$rc" FAKE_LATEST="$latest" \
        SLURM_JOB_ID="$job" SLURM_RESTART_COUNT=0 DCGAN_ROOT="$root" DCGAN_TRAIN=/bin/true \
        DCGAN_LAUNCHER=mpirun CUDA_VISIBLE_DEVICES= bash "$root/cluster/slurm/train.sbatch" \
        --data d --out "$T/run" 2>&1)
  got=$?
  [ "$got" = "$want" ] || { echo "FAIL: $name: exit $got, want $want"; echo "$err"; fail=1; }
  if [ "$requeue" = 1 ]; then
    grep -qx "requeue $job" "$T/scontrol" 2>/dev/null || { echo "FAIL: $name: no 'scontrol requeue $job'"; echo "$err"; fail=1; }
  elif [ -f "$T/scontrol" ]; then
    echo "FAIL: $name: requeued ($(cat "$T/scontrol"))"; fail=1
  fi
  grep -qE -- "$pattern" <<<"$err" || { echo "FAIL: $name: no '$pattern' in: $err"; fail=1; }
}

case_ "done"                 7 0   ""          0   0 "launcher exited with 0"
case_ "usage error"          7 2   ""          2   0 "launcher exited with 2"
case_ "data error"           7 3   ""          3   0 "launcher exited with 3"
# A job that dies before its first checkpoint (Open MPI's start-up crash) starts again once.
case_ "abnormal end, no checkpoint" 6 139 ""   0   1 "failed with 139; requeueing job 6 to start again \(no checkpoint yet\) \(abnormal end 1 of at most 3\)"
case_ "again, no checkpoint" 6 1 ""            1   0 "failed with 1; not requeueing: it failed again before its first checkpoint"
case_ "preempted"            7 75  step-000010 0   1 "checkpoint saved; requeueing job 7"
case_ "node lost"            7 1   step-000020 0   1 "failed with 1; requeueing job 7 to resume from step-000020 \(abnormal end 1 of at most 3\)"
grep -q -- "--resume $T/run" "$T/args" || { echo "FAIL: a run with a checkpoint was not resumed: $(cat "$T/args")"; fail=1; }
case_ "again, no progress"   7 137 ""          137 0 "failed with 137; not requeueing: it failed again before a new checkpoint \(still step-000020\)"
case_ "progress, 2nd"        7 1   step-000040 0   1 "abnormal end 2 of at most 3"
case_ "progress, 3rd"        7 9   step-000060 0   1 "failed with 9; requeueing job 7 to resume from step-000060 \(abnormal end 3 of at most 3\)"
case_ "bound reached"        7 1   step-000080 1   0 "not requeueing: 3 abnormal ends already requeued \(DCGAN_MAX_FAILURES\)"
case_ "a new job counts anew" 8 1  step-000100 0   1 "requeueing job 8 to resume from step-000100 \(abnormal end 1 of at most 3\)"
lines=$(wc -l <"$T/run/logs/failures")
[ "$lines" = 5 ] || { echo "FAIL: RUN/logs/failures has $lines lines, want 5: $(cat "$T/run/logs/failures")"; fail=1; }
grep -qE "^job 6 restart 0 exit 139 at [0-9T:Z-]+ resumes none$" "$T/run/logs/failures" \
  || { echo "FAIL: no record of job 6's start-up failure: $(cat "$T/run/logs/failures")"; fail=1; }
grep -qE "^job 7 restart 0 exit 1 at [0-9T:Z-]+ resumes step-000020$" "$T/run/logs/failures" \
  || { echo "FAIL: no record of job 7's node loss: $(cat "$T/run/logs/failures")"; fail=1; }
echo "$n cases"
[ "$fail" = 0 ] && echo "PASS"
exit "$fail"
