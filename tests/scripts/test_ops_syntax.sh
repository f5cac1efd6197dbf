#!/usr/bin/env bash
# Every shell script of the project parses (bash -n), and the launchers' dry runs print the
# command they would run, with the defaults they promise.
set -euo pipefail
root=${DCGAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
fail=0 n=0
while IFS= read -r -d '' f; do
  n=$((n + 1))
  bash -n "$f" || { echo "FAIL: bash -n $f"; fail=1; }
done < <(find "$root/launch" "$root/cluster" "$root/tests" -type f \( -name '*.sh' -o -name '*.sbatch' \) -print0)
[ "$n" -ge 10 ] || { echo "FAIL: found only $n scripts under launch/ cluster/ tests/"; fail=1; }
echo "bash -n: $n scripts"

expect() {  # expect NAME PATTERN OUTPUT
  if ! grep -qE -- "$2" <<<"$3"; then echo "FAIL: $1: no match for '$2' in: $3"; fail=1; fi
}
# A machine without GPUs: 2 CPU ranks under mpirun, --device cpu added, trainer args kept.
out=$(env -u SLURM_JOB_ID CUDA_VISIBLE_DEVICES= NCCL_DEBUG=INFO "$root/launch/train.sh" --dry-run --data d --out 'r un')
expect "cpu default" '^mpirun .*-np 2 .*--bind-to none .*-x NCCL_DEBUG .*dcgan-train --data d --out r\\ un --device cpu $' "$out"
# mpirun gives up on a daemon whose node stopped answering (keepalives); a value set by the user wins.
out=$(env -u SLURM_JOB_ID -u OMPI_MCA_oob_tcp_keepalive_time CUDA_VISIBLE_DEVICES= "$root/launch/train.sh" --dry-run)
expect "mpirun keepalives" '--mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 2 --mca oob_tcp_keepalive_probes 3 ' "$out"
out=$(env -u SLURM_JOB_ID OMPI_MCA_oob_tcp_keepalive_time=60 CUDA_VISIBLE_DEVICES= "$root/launch/train.sh" --dry-run)
if grep -q 'oob_tcp_keepalive_time' <<<"$out"; then echo "FAIL: OMPI_MCA_oob_tcp_keepalive_time=60 overridden: $out"; fail=1; fi
expect "other keepalives kept" '--mca oob_tcp_keepalive_intvl 2 ' "$out"
out=$(env -u SLURM_JOB_ID CUDA_VISIBLE_DEVICES=0,1,2 "$root/launch/train.sh" --dry-run --bind numa -- --data d)
expect "one rank per visible GPU" '-np 3 .*--bind-to numa .*-x CUDA_VISIBLE_DEVICES .*dcgan-train --data d $' "$out"
out=$(env -u SLURM_JOB_ID CUDA_VISIBLE_DEVICES= "$root/launch/train.sh" --dry-run --np 5 --device cuda)
expect "--np and --device kept" '-np 5 .*dcgan-train --device cuda $' "$out"
out=$(SLURM_JOB_ID=1 SLURM_NTASKS=16 "$root/launch/train.sh" --dry-run --launcher srun --data d)
expect "srun in an allocation" '^srun --mpi=pmix --ntasks=16 --kill-on-bad-exit=1 .*dcgan-train --data d $' "$out"
set +e
err=$(env -u SLURM_JOB_ID "$root/launch/train.sh" --dry-run --launcher srun 2>&1); rc=$?
set -e
[ "$rc" = 2 ] || { echo "FAIL: srun outside Slurm exit $rc, want 2"; fail=1; }
expect "srun outside Slurm" 'needs a Slurm allocation' "$err"
out=$(CUDA_VISIBLE_DEVICES= "$root/launch/debug.sh" --dry-run --anomaly --data d --steps 3)
expect "debug defaults" 'dcgan-train --deterministic --check-nan --verbose --detect-anomaly --device cpu --log-every 1 --batch-size 16 --data d --steps 3 $' "$out"
[ "$fail" = 0 ] && echo "PASS"
exit "$fail"
