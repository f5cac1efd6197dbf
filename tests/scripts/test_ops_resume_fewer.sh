#!/usr/bin/env bash
# Resuming on another world size, as the feature it is. A 4-rank x 2 run with --sync-bn saves at
# step 4; resumed on 2 ranks x 4 and on 1 rank x 8 (the global batch kept, --sync-bn on) it ends at
# step 8 within a relative 1e-4 of the straight 4-rank run (launch/compare_runs.py, per module),
# with no warning. The warnings name what changes: the global batch (1 rank x 4), or the
# per-rank batch without --sync-bn in both (the BatchNorm statistics).
source "$(dirname "$0")/lib_ops.sh"
ops_setup resume_fewer
T=$OPS_SCRATCH
ops_pack "$T/data" 64
args=(--data "$T/data" "${OPS_TRAIN_ARGS[@]}" --ckpt-every 4)
train() {  # train NP OUT FLAGS...: rank 0's console in OUT.err
  local np=$1 out=$2; shift 2
  ops_mpirun "$np" "$OPS_BIN/dcgan-train" "${args[@]}" --out "$out" "$@" > "$out.out" 2> "$out.err" \
    || { tail -5 "$out.err"; ops_fail "$(basename "$out"): the run failed"; }
}
copy_to_step4() {  # copy_to_step4 FROM TO: a run directory whose latest checkpoint is step 4
  mkdir -p "$2/checkpoints"
  cp -r "$1/checkpoints/step-000004" "$2/checkpoints/"
  cp "$1/config.toml" "$1/metrics.jsonl" "$2/" 2>/dev/null
  ln -s step-000004 "$2/checkpoints/latest"
}

train 4 "$T/straight" --batch-size 2 --sync-bn --steps 8
for shape in "2 4" "1 8"; do
  set -- $shape
  copy_to_step4 "$T/straight" "$T/on$1"
  train "$1" "$T/on$1" --batch-size "$2" --sync-bn --steps 8 --resume
  ops_check "4 x 2 resumed on $1 x $2: no warning" \
    test "$(grep -a -c "not a continuation\|close to, not the same" "$T/on$1.err")" = 0
  rc=0; "$OPS_PY" "$OPS_ROOT/launch/compare_runs.py" "$T/on$1" "$T/straight" --rtol 1e-4 \
    > "$T/on$1.cmp" 2>&1 || rc=$?
  ops_check "4 x 2 resumed on $1 x $2 ends with the straight run: $(tail -1 "$T/on$1.cmp")" test "$rc" = 0
done

copy_to_step4 "$T/straight" "$T/half"
train 1 "$T/half" --batch-size 4 --sync-bn --steps 8 --resume
ops_check "a changed global batch is named" grep -a -q \
  "resuming a checkpoint of global batch 8 (4 rank(s) x 2) with global batch 4 (1 rank(s) x 4)" "$T/half.err"

train 2 "$T/nosync" --batch-size 4 --steps 4
copy_to_step4 "$T/nosync" "$T/nosync1"
train 1 "$T/nosync1" --batch-size 8 --steps 8 --resume
ops_check "a per-rank batch change without --sync-bn is named" grep -a -q \
  "resuming a checkpoint of 2 rank(s) x 4 on 1 rank(s) x 8 without --sync-bn in both" "$T/nosync1.err"
ops_finish
