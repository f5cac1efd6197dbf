#!/usr/bin/env bash
# A rank that throws must end the whole MPI job with a non-zero status within seconds, while its
# peers are blocked in a collective (run_rank_guarded -> MPI_Abort). So must a rank killed by
# SIGKILL (mpirun ends the job). Drives test_distributed_comm's --abort-drill mode at 2 and 3 ranks.
set -euo pipefail
# shellcheck source=../../launch/common.sh
source "$DCGAN_SOURCE_DIR/launch/common.sh"
bin="$DCGAN_BIN_DIR/test_distributed_comm"
[ -x "$bin" ] || { echo "missing $bin"; exit 1; }
limit_s=30

for np in 2 3; do
  log=$(mktemp)
  start_ns=$(date +%s%N)
  set +e
  timeout 120 bash -c "$(declare -f dcgan_mpirun); dcgan_mpirun -n $np '$bin' --abort-drill" >"$log" 2>&1
  rc=$?
  set -e
  elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
  echo "np=$np rc=$rc elapsed=${elapsed_ms} ms"
  if [ "$rc" -eq 124 ]; then cat "$log"; echo "FAIL: the job hung (killed by timeout)"; exit 1; fi
  if [ "$rc" -ne 1 ]; then cat "$log"; echo "FAIL: expected exit status 1, got $rc"; exit 1; fi
  if (( elapsed_ms >= limit_s * 1000 )); then echo "FAIL: took ${elapsed_ms} ms >= ${limit_s} s"; exit 1; fi
  want="abort drill: rank $((np - 1)) fails on purpose"
  grep -q "$want" "$log" || { cat "$log"; echo "FAIL: missing '$want'"; exit 1; }
  grep -q "MPI_Abort, exit code 1" "$log" || { cat "$log"; echo "FAIL: no MPI_Abort line"; exit 1; }
  rm -f "$log"

  start_ns=$(date +%s%N)
  set +e
  timeout 120 bash -c "$(declare -f dcgan_mpirun); dcgan_mpirun -n $np '$bin' --abort-drill kill" >/dev/null 2>&1
  rc=$?
  set -e
  elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
  echo "np=$np killed rank: rc=$rc elapsed=${elapsed_ms} ms"
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 0 ]; then echo "FAIL: expected a non-zero end, got $rc"; exit 1; fi
  if (( elapsed_ms >= limit_s * 1000 )); then echo "FAIL: took ${elapsed_ms} ms >= ${limit_s} s"; exit 1; fi
done
echo "PASS"
