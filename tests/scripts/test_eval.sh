#!/usr/bin/env bash
# dcgan-eval end to end with a small TorchScript extractor made here: FD of a set with itself is 0
# and of two sets is positive; KID prints with its spread; the real statistics are cached by
# (manifest, extractor, count) and a cached run prints the same; 2 ranks print what 1 rank does
# (FD within 1e-9 relative: float64 sums in another order; KID exactly); --ckpt generates from a
# checkpoint; --json. FD during training (--eval-every) lands in metrics.jsonl and the console at
# every eval step (TensorBoard too) and equals dcgan-eval of that step's checkpoint with the trainer's codes
# (seed + 2) and images. Bad extractors, mismatched sets and options are refused (exit 2 or 3).
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
PY="${DCGAN_PYTHON:-python3}"
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/lib_cli.sh"
source "$here/../../launch/common.sh"
eval_="$BIN/dcgan-eval"

"$BIN/dcgan-prep" pack --source synthetic --count 96 --size 32 --channels 3 --out "$tmp/a" >/dev/null 2>&1
"$BIN/dcgan-prep" pack --source synthetic --seed 5 --count 80 --size 32 --channels 3 --out "$tmp/b" >/dev/null 2>&1
"$BIN/dcgan-prep" pack --source synthetic --count 16 --size 32 --channels 1 --out "$tmp/grey" >/dev/null 2>&1
"$PY" "$here/eval_features.py" "$tmp/f.pt" 3
"$PY" "$here/eval_features.py" "$tmp/bad.pt" 3 --bad
opts=(--cache "$tmp/cache" --batch-size 32 --device cpu --kid-subsets 10 --kid-subset-size 50)
common=(--features "$tmp/f.pt" "${opts[@]}")
value() { sed -n "s/^$1 \([^ ]*\).*/\1/p" "$2"; }
run_ok() {  # run_ok OUT -- command...
  local out="$1" rc=0; shift 2
  "$@" >"$out" 2>"$out.err" || rc=$?
  [ "$rc" = 0 ] || { cat "$out" "$out.err"; fail "$* exited $rc"; }
}

run_ok "$tmp/self" -- "$eval_" "${common[@]}" --real "$tmp/a" --fake "$tmp/a" --metrics fd --no-cache
"$PY" -c "import sys; v = float(sys.argv[1]); assert abs(v) < 1e-6, v" "$(value FD "$tmp/self")" || fail "FD of a set with itself: $(cat "$tmp/self")"

run_ok "$tmp/ab" -- "$eval_" "${common[@]}" --real "$tmp/a" --fake "$tmp/b"
grep -qE "^FD [0-9.e+-]+$" "$tmp/ab" && grep -qE "^KID [0-9.e+-]+ ± [0-9.e+-]+$" "$tmp/ab" || { cat "$tmp/ab"; fail "the FD and KID lines"; }
[ "$(ls "$tmp/cache")" = "$(basename "$(ls "$tmp"/cache/real-*-*-96.pt)")" ] || fail "one cache file for 96 real images"
grep -q "cached the real statistics in $tmp/cache/real-" "$tmp/ab.err" || fail "no cache line"
run_ok "$tmp/ab2" -- "$eval_" "${common[@]}" --real "$tmp/a" --fake "$tmp/b"
grep -q "real statistics from $tmp/cache/real-" "$tmp/ab2.err" || fail "the second run did not use the cache"
cmp "$tmp/ab" "$tmp/ab2" || fail "the cached run printed other values"
"$PY" -c "import sys; assert float(sys.argv[1]) > 1e-4, sys.argv[1]" "$(value FD "$tmp/ab")" || fail "FD of two sets"

run_ok "$tmp/ab-np2" -- dcgan_mpirun -np 2 "$eval_" "${common[@]}" --real "$tmp/a" --fake "$tmp/b" --no-cache
"$PY" - "$tmp/ab" "$tmp/ab-np2" <<'PYEOF' || fail "2 ranks differ from 1"
import sys
one, two = (dict(l.split(" ", 1) for l in open(p).read().splitlines()) for p in sys.argv[1:])
fd1, fd2 = float(one["FD"]), float(two["FD"])
assert abs(fd1 - fd2) <= 1e-9 * abs(fd1), (fd1, fd2)
assert one["KID"] == two["KID"], (one["KID"], two["KID"])
PYEOF

# FD during training, then the evaluator on the same checkpoint with the trainer's codes.
"$BIN/dcgan-train" --data "$tmp/a" --out "$tmp/run" --nz 16 --ngf 8 --ndf 8 --batch-size 16 --steps 4 \
  --log-every 2 --eval-every 2 --eval-features "$tmp/f.pt" --eval-samples 40 --ckpt-every 2 --keep 5 \
  --device cpu --threads 1 >"$tmp/train.out" 2>&1 || { cat "$tmp/train.out"; fail "training with --eval-every"; }
"$PY" - "$tmp/run/metrics.jsonl" >"$tmp/fd-train" <<'PYEOF' || fail "fd in metrics.jsonl"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["step"] for r in rows] == [2, 4], rows
for r in rows:
    print(r["step"], repr(r["fd"]))
PYEOF
[ "$(grep -c "FD: " "$tmp/train.out")" = 2 ] || fail "the console lines have no FD"
"$PY" - "$tmp/run" "$tmp/fd-train" <<'PYEOF' || fail "fd in TensorBoard"
import os, sys
from tensorboard.backend.event_processing import event_accumulator as ea
acc = ea.EventAccumulator(os.path.join(sys.argv[1], "tb"), size_guidance={ea.SCALARS: 0})
acc.Reload()
want = [(int(s), float(v)) for s, v in (l.split() for l in open(sys.argv[2]))]
got = [(e.step, e.value) for e in acc.Scalars("fd")]
assert [s for s, _ in got] == [s for s, _ in want], (got, want)
assert all(abs(g - w) <= 1e-6 * abs(w) for (_, g), (_, w) in zip(got, want)), (got, want)
PYEOF
fd4=$(sed -n 's/^4 //p' "$tmp/fd-train")
run_ok "$tmp/ckpt" -- "$eval_" "${common[@]}" --real "$tmp/a" --real-samples 40 --ckpt "$tmp/run/checkpoints/step-000004" \
  --samples 40 --seed 1001 --json --metrics fd
"$PY" - "$tmp/ckpt" "$fd4" <<'PYEOF' || fail "the trainer's FD is not dcgan-eval's"
import json, sys
out = json.load(open(sys.argv[1]))
assert out["fake"] == "dcgan step 4" and out["fake_samples"] == 40 and out["real_samples"] == 40, out
assert abs(out["fd"] - float(sys.argv[2])) <= 1e-6 * abs(out["fd"]), (out["fd"], sys.argv[2])
PYEOF

expect 2 "--eval-every must be a multiple of --log-every \(2\), got 3" -- "$BIN/dcgan-train" --data "$tmp/a" --out "$tmp/r2" \
  --log-every 2 --eval-every 3 --eval-features "$tmp/f.pt" --device cpu
expect 3 "--features $tmp/bad.pt: forward must return a float tensor \[32, D\] for 32 images, got \[32, 8, 1\]" -- \
  "$eval_" "${opts[@]}" --features "$tmp/bad.pt" --real "$tmp/a" --fake "$tmp/b"
expect 3 "--features $tmp/a/manifest.json: not a TorchScript module" -- "$eval_" "${opts[@]}" --features "$tmp/a/manifest.json" --real "$tmp/a" --fake "$tmp/b"
expect 2 "fake $tmp/grey has 32x32x1 images, but --real has 32x32x3" -- "$eval_" "${common[@]}" --real "$tmp/a" --fake "$tmp/grey"
expect 2 "give one of --ckpt and --fake" -- "$eval_" "${common[@]}" --real "$tmp/a"
expect 3 "no checkpoint at $tmp/none" -- "$eval_" "${common[@]}" --real "$tmp/a" --ckpt "$tmp/none"
echo "test_eval: ok"
