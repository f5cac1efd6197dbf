#!/usr/bin/env bash
# The deadline drill: SIGSTOP one rank of a 2-rank CPU training job with --step-timeout 10 and
# --comm-timeout 120. The other rank's next collective in the step misses the step's deadline, so
# the job ends with exit 1 within 25 s, not 120 (Note [Deadlines by phase]), and the log names the
# rank and the collective that timed out.
set -euo pipefail
source "${DCGAN_SOURCE_DIR:?set by ctest}/launch/common.sh"
BIN="${DCGAN_BIN_DIR:?set by ctest}"
tmp="$(mktemp -d)"
pid=""
stopped=""
cleanup() {
  [ -n "$stopped" ] && kill -CONT "$stopped" 2>/dev/null
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN/dcgan-prep" pack --source synthetic --count 64 --size 32 --channels 3 --out "$tmp/data" >/dev/null
mpi_flags=(--oversubscribe)
[ "$(id -u)" = 0 ] && mpi_flags+=(--allow-run-as-root)
mpirun "${mpi_flags[@]}" -np 2 "$BIN/dcgan-train" --data "$tmp/data" --out "$tmp/run" --nz 16 \
  --ngf 8 --ndf 8 --batch-size 4 --log-every 2 --sample-every 1000 --ckpt-every 1000 \
  --device cpu --threads 1 --backend mpi --step-timeout 10 --comm-timeout 120 --steps 100000 >"$tmp/run.out" 2>&1 &
pid=$!
for _ in $(seq 600); do  # wait for a few logged steps (at most 60 s)
  [ -f "$tmp/run/metrics.jsonl" ] && [ "$(grep -c . "$tmp/run/metrics.jsonl")" -ge 3 ] && break
  sleep 0.1
done
[ -f "$tmp/run/metrics.jsonl" ] || { cat "$tmp/run.out"; fail "the run did not start"; }

# Rank 1's process: the dcgan-train whose environment says OMPI_COMM_WORLD_RANK=1.
for p in $(pgrep -f "dcgan-train --data $tmp/data"); do
  if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then stopped=$p; fi
done
[ -n "$stopped" ] || fail "rank 1's process not found"
start_ns=$(date +%s%N)
kill -STOP "$stopped"
rc=0
for _ in $(seq 600); do  # at most 60 s, then the job counts as hung
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then fail "the job still runs 60 s after rank 1 stopped (hung)"; fi
wait "$pid" || rc=$?
pid=""
elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
kill -CONT "$stopped" 2>/dev/null || true
stopped=""
echo "rank 1 stopped: exit $rc after ${elapsed_ms} ms"
[ "$rc" = 1 ] || { cat "$tmp/run.out"; fail "exit code $rc, expected 1"; }
(( elapsed_ms < 25000 )) || fail "took ${elapsed_ms} ms, expected under 25 s"
grep -E "\[r0/2\].* MPI (all_reduce|broadcast|all_gather|barrier)( of [0-9]+ [A-Za-z]+ values)? \(collective #[0-9]+\) did not complete within 10 s: a peer is dead or stuck" \
  "$tmp/run.out" || { cat "$tmp/run.out"; fail "no line naming rank 0's collective that timed out"; }
echo "test_comm_deadline: ok"
