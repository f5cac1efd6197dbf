#!/usr/bin/env bash
# A node dies: every process of simulated host 2 (its two ranks and mpirun's daemon there) is
# killed at once while a 2 hosts x 2 ranks job trains. The job must end non-zero within 30 s, and
# no rank may be left running on host 1.
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/lib_cli.sh"
source "$here/lib_hosts.sh"
source "$here/../../launch/common.sh"
hosts_up 2
"$BIN/dcgan-prep" pack --source synthetic --count 256 --size 32 --channels 3 --out "$tmp/data" >/dev/null 2>&1
printf '%s slots=2\n%s slots=2\n' "$HOST_PREFIX-1" "$HOST_PREFIX-2" >"$tmp/hostfile"
hosts_mpi_env
export DCGAN_BIN_DIR="$BIN"
host_run 1 "$here/../../launch/train.sh" --np 4 --hostfile "$tmp/hostfile" -- --data "$tmp/data" \
  --nz 16 --ngf 8 --ndf 8 --batch-size 4 --steps 100000 --log-every 5 --device cpu --threads 1 \
  --backend mpi --comm-timeout 60 --out "$tmp/run" >"$tmp/job.out" 2>&1 &
job=$!
for _ in $(seq 1 120); do  # training is under way on all 4 ranks
  [ -f "$tmp/run/metrics.jsonl" ] && [ "$(wc -l <"$tmp/run/metrics.jsonl")" -ge 2 ] && break
  kill -0 "$job" 2>/dev/null || { cat "$tmp/job.out"; fail "the job ended before the node loss"; }
  sleep 0.5
done
[ -f "$tmp/run/metrics.jsonl" ] || { cat "$tmp/job.out"; fail "no progress before the node loss"; }
ranks_on() { ip netns pids "$HOST_PREFIX-$1" | xargs -r ps -o comm= -p 2>/dev/null | grep -c '^dcgan-train$' || true; }
[ "$(ranks_on 1)" = 2 ] && [ "$(ranks_on 2)" = 2 ] || fail "expected 2 ranks on each host"
start=$(date +%s)
ip netns pids "$HOST_PREFIX-2" | xargs -r kill -9  # the node dies: ranks and daemon at once
rc=0
for _ in $(seq 1 60); do kill -0 "$job" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$job" 2>/dev/null; then
  kill -9 "$job" 2>/dev/null || true
  fail "the job still ran 30 s after host 2 died"
fi
wait "$job" || rc=$?
took=$(( $(date +%s) - start ))
[ "$rc" != 0 ] || { cat "$tmp/job.out"; fail "the job exited 0 after losing a node"; }
sleep 1
[ "$(ranks_on 1)" = 0 ] || fail "$(ranks_on 1) rank(s) left running on host 1"
echo "node loss: the job ended with exit $rc after $took s; no rank left on host 1"
echo "test_multinode_node_loss: ok"
