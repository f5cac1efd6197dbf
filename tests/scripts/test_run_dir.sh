#!/usr/bin/env bash
# Run-directory safety: a fresh run over old checkpoints is refused (exit 2) before anything is
# written, --overwrite moves the old run aside, a second trainer on a locked directory exits 2
# naming the holder (or waits with --lock-wait), a SIGKILLed holder's lock dies with it, and a
# file system without flock gets one warning.
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
source "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../../launch/common.sh"
train="$BIN/dcgan-train"

"$BIN/dcgan-prep" pack --source synthetic --count 64 --size 32 --channels 3 --out "$tmp/data" >/dev/null
common=(--data "$tmp/data" --nz 16 --ngf 8 --ndf 8 --batch-size 8 --log-every 2 --sample-every 100
        --device cpu --threads 1)
tree_sums() { (cd "$1" && find . -type f ! -name .dcgan-train.lock -print0 | sort -z | xargs -0 sha256sum); }

# The issue's case: 8 steps with a checkpoint every 2, then a fresh 6-step run into the same --out.
"$train" "${common[@]}" --out "$tmp/R" --steps 8 --ckpt-every 2 --keep 10 >/dev/null 2>&1 || fail "first run"
tree_sums "$tmp/R" >"$tmp/before"
expect 2 "error: run directory $tmp/R already holds checkpoints .*HINT: pass --resume to continue it, or --overwrite" \
  -- "$train" "${common[@]}" --out "$tmp/R" --steps 6 --ckpt-every 2
[ "$(grep -c 'error:' "$tmp/out")" = 1 ] || { cat "$tmp/out"; fail "the refusal is not one error line"; }
tree_sums "$tmp/R" >"$tmp/after"
diff "$tmp/before" "$tmp/after" >/dev/null || fail "the refused run changed the old run's files"
# The same under mpirun: every rank stops before writing (rank 1 would create logs/rank-1.log).
expect 2 "already holds checkpoints" -- dcgan_mpirun -np 2 "$train" "${common[@]}" --out "$tmp/R" --steps 6
[ ! -e "$tmp/R/logs/rank-1.log" ] || fail "a refused 2-rank run wrote rank 1's log"
tree_sums "$tmp/R" >"$tmp/after"
diff "$tmp/before" "$tmp/after" >/dev/null || fail "the refused 2-rank run changed the old run's files"

# --overwrite: the old run moves to R.old-<time>, byte for byte, and the new one starts clean.
"$train" "${common[@]}" --out "$tmp/R" --steps 6 --ckpt-every 2 --overwrite >"$tmp/ow.out" 2>&1 || { cat "$tmp/ow.out"; fail "--overwrite run"; }
aside=$(ls -d "$tmp"/R.old-* 2>/dev/null)
[ "$(echo "$aside" | wc -l)" = 1 ] && [ -d "$aside" ] || fail "--overwrite made no single R.old-<time> ($aside)"
grep -q "moved the previous contents of $tmp/R to $aside" "$tmp/ow.out" || fail "--overwrite did not say where the old run went"
tree_sums "$aside" >"$tmp/aside"
diff "$tmp/before" "$tmp/aside" >/dev/null || fail "the moved-aside run is not the old run"
[ "$(cat "$tmp/R/checkpoints/latest")" = step-000006 ] || fail "new run's latest"
[ ! -e "$tmp/R/checkpoints/step-000008" ] || fail "the old run's step-000008 is still in R"
[ "$(grep -c . "$tmp/R/metrics.jsonl")" = 3 ] || fail "the new run's metrics.jsonl mixes runs"
expect 2 "exclude each other" -- "$train" "${common[@]}" --out "$tmp/R" --steps 6 --overwrite --resume

# Two trainers on one directory: the second exits 2 naming the first's host and PID.
"$train" "${common[@]}" --out "$tmp/L" --steps 100000 --ckpt-every 1000 >"$tmp/holder.out" 2>&1 &
holder=$!
for _ in $(seq 1 300); do grep -q "pid $holder" "$tmp/L/.dcgan-train.lock" 2>/dev/null && break; sleep 0.1; done
grep -q "pid $holder" "$tmp/L/.dcgan-train.lock" || { kill -9 "$holder"; fail "the holder wrote no lock file"; }
expect 2 "error: run directory $tmp/L is in use by another dcgan-train \(host $(hostname) pid $holder," \
  -- "$train" "${common[@]}" --out "$tmp/L" --steps 4
start_ms=$(( $(date +%s%N) / 1000000 ))
expect 2 "in use by another dcgan-train" -- "$train" "${common[@]}" --out "$tmp/L" --steps 4 --lock-wait 2
waited_ms=$(( $(date +%s%N) / 1000000 - start_ms ))
[ "$waited_ms" -ge 2000 ] || fail "--lock-wait 2 gave up after $waited_ms ms"
# A waiting trainer takes over once the holder dies; SIGKILL leaves the lock file but no lock.
"$train" "${common[@]}" --out "$tmp/L" --steps 4 --overwrite --lock-wait 60 >"$tmp/waiter.out" 2>&1 &
waiter=$!
sleep 1
kill -0 "$waiter" 2>/dev/null || { cat "$tmp/waiter.out"; fail "the waiter did not wait"; }
kill -9 "$holder"; wait "$holder" 2>/dev/null || true
wait "$waiter" || { cat "$tmp/waiter.out"; fail "the waiter did not run after the holder died"; }
[ "$(cat "$tmp/L/checkpoints/latest")" = step-000004 ] || fail "the waiter's run is incomplete"
# And a plain start after a crash needs no clean-up.
"$train" "${common[@]}" --out "$tmp/L" --steps 6 --resume >/dev/null 2>&1 || fail "resume after the lock holder ended"

# A file system that refuses flock (some NFS and Lustre mounts; here a preloaded flock that fails
# with ENOLCK): one warning, and the run goes on without the lock.
printf '#include <errno.h>\nint flock(int fd, int op) { (void)fd; (void)op; errno = ENOLCK; return -1; }\n' >"$tmp/noflock.c"
cc -shared -fPIC -o "$tmp/noflock.so" "$tmp/noflock.c"
expect 0 "refuses flock \(No locks available\): running without the run-directory lock" \
  -- env LD_PRELOAD="$tmp/noflock.so" "$train" "${common[@]}" --out "$tmp/N" --steps 2
[ "$(grep -c 'refuses flock' "$tmp/out")" = 1 ] || fail "the flock warning is not given exactly once"
echo "test_run_dir: ok"
