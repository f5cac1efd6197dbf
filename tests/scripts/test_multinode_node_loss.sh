#!/usr/bin/env bash
# A node dies while a 2 hosts x 2 ranks job trains on the simulated hosts (lib_hosts.sh).
#   NODE_FAULT=kill (default): every process of host 2 (its two ranks and mpirun's daemon there)
#     is killed at once. The job must end non-zero within 30 s.
#   NODE_FAULT=link (test_multinode_link_down.sh): host 2's link goes down instead; nothing is
#     reset, the peers just stop answering. The trainer's --comm-timeout deadline aborts the job
#     and train.sh's keepalive settings let mpirun give up on the daemon it cannot reach: the job
#     must end non-zero within --comm-timeout + 15 s, and host 2's ranks, cut off, end too.
# Either way no rank may be left running on host 1.
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/lib_cli.sh"
source "$here/lib_hosts.sh"
source "$here/../../launch/common.sh"
fault=${NODE_FAULT:-kill}
case "$fault" in
  kill) timeout_s=60 bound=30 ;;
  link) timeout_s=10 bound=25 ;;
  *) fail "NODE_FAULT must be kill or link (got '$fault')" ;;
esac
hosts_up 2
"$BIN/dcgan-prep" pack --source synthetic --count 256 --size 32 --channels 3 --out "$tmp/data" >/dev/null 2>&1
printf '%s slots=2\n%s slots=2\n' "$HOST_PREFIX-1" "$HOST_PREFIX-2" >"$tmp/hostfile"
hosts_mpi_env
export DCGAN_BIN_DIR="$BIN"
host_run 1 "$here/../../launch/train.sh" --np 4 --hostfile "$tmp/hostfile" -- --data "$tmp/data" \
  --nz 16 --ngf 8 --ndf 8 --batch-size 4 --steps 100000 --log-every 5 --device cpu --threads 1 \
  --backend mpi --comm-timeout "$timeout_s" --out "$tmp/run" >"$tmp/job.out" 2>&1 &
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
if [ "$fault" = kill ]; then
  ip netns pids "$HOST_PREFIX-2" | xargs -r kill -9  # the node dies: ranks and daemon at once
else
  ip -n "$HOST_PREFIX-sw" link set "v$$-2" down      # the node's cable is pulled
fi
rc=0
for _ in $(seq 1 $(( bound * 2 ))); do kill -0 "$job" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$job" 2>/dev/null; then
  kill -9 "$job" 2>/dev/null || true
  tail -n 20 "$tmp/job.out"
  fail "the job still ran $bound s after host 2 was lost ($fault)"
fi
wait "$job" || rc=$?
took=$(( $(date +%s) - start ))
[ "$rc" != 0 ] || { cat "$tmp/job.out"; fail "the job exited 0 after losing a node"; }
sleep 1
[ "$(ranks_on 1)" = 0 ] || fail "$(ranks_on 1) rank(s) left running on host 1"
if [ "$fault" = link ]; then
  grep -q "did not complete within $timeout_s s: a peer is dead or stuck" "$tmp/job.out" \
    || { tail -n 20 "$tmp/job.out"; fail "no rank reported the --comm-timeout deadline"; }
  # Cut off, host 2's ranks hit the same deadline and end; only its daemon may linger until TCP
  # gives up on its unacknowledged output.
  for _ in $(seq 1 40); do [ "$(ranks_on 2)" = 0 ] && break; sleep 0.5; done
  [ "$(ranks_on 2)" = 0 ] || fail "$(ranks_on 2) rank(s) still running on the cut-off host 2"
fi
echo "node loss ($fault): the job ended with exit $rc after $took s (bound $bound s); no rank left on host 1"
echo "test_multinode_node_loss: ok"
