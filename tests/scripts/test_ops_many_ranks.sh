#!/usr/bin/env bash
# Many ranks on one machine (RUN_SERIAL: nothing runs beside it). With --sync-bn the global
# batch, not the number of ranks, decides the computation: OPS_MANY_RANKS (16) ranks x 128/N
# images train 4 steps to within a relative 1e-4 of 1 rank x 128 (launch/compare_runs.py, per
# module), and the N-rank run's step-2 checkpoint resumed on 1 rank x 128 and on N/4 ranks ends
# with the straight N-rank run. bench/many_ranks.sh runs the same at 64 ranks and adds the
# start-up table.
source "$(dirname "$0")/lib_ops.sh"
ops_setup many_ranks
T=$OPS_SCRATCH
N=${OPS_MANY_RANKS:-16}
GLOBAL=128
(( N >= 4 && GLOBAL % N == 0 )) || { ops_fail "OPS_MANY_RANKS=$N must divide $GLOBAL and be at least 4"; ops_finish; }
ops_pack "$T/data" 512
args=(--data "$T/data" "${OPS_TRAIN_ARGS[@]}" --sync-bn --steps 4 --ckpt-every 2 --keep 5)
train() {  # train NP OUT FLAGS...: rank 0's console in OUT.err
  local np=$1 out=$2; shift 2
  ops_mpirun "$np" "$OPS_BIN/dcgan-train" "${args[@]}" --batch-size $((GLOBAL / np)) --out "$out" "$@" \
    > "$out.out" 2> "$out.err" || { tail -5 "$out.err"; ops_fail "$(basename "$out"): the run failed"; }
}
same() {  # same A B WHAT: A's latest checkpoint within 1e-4 of B's
  local rc=0
  "$OPS_PY" "$OPS_ROOT/launch/compare_runs.py" "$1" "$2" --rtol 1e-4 > "$1.cmp" 2>&1 || rc=$?
  ops_check "$3: $(tail -1 "$1.cmp")" test "$rc" = 0
}
copy_to_step2() {  # copy_to_step2 FROM TO: a run directory whose latest checkpoint is step 2
  mkdir -p "$2/checkpoints"
  cp -r "$1/checkpoints/step-000002" "$2/checkpoints/"
  cp "$1/config.toml" "$1/metrics.jsonl" "$2/"
  ln -s step-000002 "$2/checkpoints/latest"
}

train "$N" "$T/many"
train 1 "$T/one"
same "$T/many" "$T/one" "$N x $((GLOBAL / N)) against 1 x $GLOBAL after 4 steps"
for np in 1 $((N / 4)); do
  copy_to_step2 "$T/many" "$T/on$np"
  train "$np" "$T/on$np" --resume
  same "$T/on$np" "$T/many" "$N ranks' step 2 resumed on $np x $((GLOBAL / np)) against the straight run"
  ops_check "resumed on $np rank(s): no warning" \
    test "$(grep -a -c "not a continuation\|close to, not the same" "$T/on$np.err")" = 0
done
ops_finish
