#!/usr/bin/env bash
# A rank killed with SIGKILL must end the whole 2-rank job (launch/train.sh -> mpirun) with a
# non-zero exit within 30 s, leaving no rank behind.
source "$(dirname "$0")/lib_ops.sh"
ops_setup kill9
T=$OPS_SCRATCH
ops_pack "$T/data" 256

"$OPS_ROOT/launch/train.sh" --np 2 -- --data "$T/data" --out "$T/run" --steps 1000000 \
  "${OPS_TRAIN_ARGS[@]}" > "$T/run.log" 2>&1 &
pid=$!
OPS_PIDS+=("$pid")
ops_wait 120 ops_has_steps "$T/run" 5 || { tail -n 30 "$T/run.log"; ops_fail "no progress in 120 s"; ops_finish; }

# The ranks are mpirun's children.
mapfile -t ranks < <(pgrep -P "$pid" -x dcgan-train)
ops_check "mpirun runs 2 ranks (pids ${ranks[*]:-none})" test "${#ranks[@]}" = 2
[ "${#ranks[@]}" -ge 1 ] || ops_finish
OPS_PIDS+=("${ranks[@]}")
victim=${ranks[${#ranks[@]}-1]}
t0=$SECONDS
kill -9 "$victim"
ops_wait_exit "$pid" 30
elapsed=$((SECONDS - t0))
echo "job ended ${elapsed} s after kill -9 of rank pid $victim with exit $OPS_RC"
ops_check "job ends within 30 s" test "$OPS_RC" != 124
ops_check "job exit is non-zero and not 75 (got $OPS_RC)" test "$OPS_RC" != 0 -a "$OPS_RC" != 75 -a "$OPS_RC" != 124
# A rank may be a zombie for a moment after mpirun exits; give init 5 s to reap it.
rank_alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) && [[ "$s" != Z* ]]; }
no_rank_alive() { local r; for r in "${ranks[@]}"; do rank_alive "$r" && return 1; done; return 0; }
ops_wait 5 no_rank_alive
survivors=()
for r in "${ranks[@]}"; do rank_alive "$r" && survivors+=("$r"); done
ops_check "no rank left running (left: ${survivors[*]:-none})" test "${#survivors[@]}" = 0
ops_finish
