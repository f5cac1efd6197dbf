#!/usr/bin/env bash
# TensorBoard's own reader on a run's tb/: the real tensorboard package's EventAccumulator (told
# to keep every scalar and image) must see every metrics.jsonl tag at the same steps with the
# same values (float32: within 1e-6 relative), and each sample grid as the PNG bytes of
# samples/step-NNNNNN.png, for the DCGAN and the AE (its recon grids), before and after a resume
# from an earlier checkpoint, whose later events must be gone (the SessionLog START purge).
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
PY="${DCGAN_PYTHON:-python3}"
source "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"
train="$BIN/dcgan-train"
if ! "$PY" -c "import tensorboard" 2>/dev/null; then
  echo "SKIP: $PY has no tensorboard package (launch/setup.sh installs it into the venv)"
  exit 77
fi

"$BIN/dcgan-prep" pack --source synthetic --count 64 --size 32 --channels 3 --out "$tmp/data" >/dev/null
common=(--data "$tmp/data" --nz 16 --ngf 8 --ndf 8 --batch-size 8 --log-every 2 --sample-every 4
        --ckpt-every 4 --device cpu --threads 1)

# check RUN TAG STEPS...: the scalars against metrics.jsonl, and image TAG at exactly STEPS.
check() {
  "$PY" - "$@" <<'PYEOF' || fail "TensorBoard's view of $1"
import json, os, sys
from tensorboard.backend.event_processing import event_accumulator as ea
run, image_tag, image_steps = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
acc = ea.EventAccumulator(os.path.join(run, "tb"), size_guidance={ea.SCALARS: 0, ea.IMAGES: 0})
acc.Reload()
expected = {}
for line in open(os.path.join(run, "metrics.jsonl")):
    row = json.loads(line)
    for key, value in row.items():
        if key not in ("epoch", "step"):
            expected.setdefault(key, []).append((row["step"], value))
tags = acc.Tags()
assert sorted(tags["scalars"]) == sorted(expected), (tags["scalars"], sorted(expected))
for tag, pairs in expected.items():
    got = [(e.step, e.value) for e in acc.Scalars(tag)]
    assert [s for s, _ in got] == [s for s, _ in pairs], (tag, got, pairs)
    for (step, value), (_, want) in zip(got, pairs):
        assert abs(value - want) <= 1e-6 * abs(want), (tag, step, value, want)
assert tags["images"] == [image_tag], tags["images"]
images = acc.Images(image_tag)
assert [i.step for i in images] == image_steps, ([i.step for i in images], image_steps)
prefix = "step" if image_tag == "samples" else image_tag
for i in images:
    png = open(os.path.join(run, "samples", "%s-%06d.png" % (prefix, i.step)), "rb").read()
    assert i.encoded_image_string == png, i.step
    assert (i.width, i.height) == (8 * 34 + 2, 8 * 34 + 2) or prefix == "recon", (i.width, i.height)
print(run, "tensorboard ok:", len(expected), "scalar tags,", len(images), "images")
PYEOF
}

for model in dcgan ae; do
  tag=samples
  [ "$model" = ae ] && tag=recon
  run="$tmp/$model"
  # 6 steps: metrics at 2, 4, 6; grids and checkpoints at 4 and 6.
  "$train" "${common[@]}" --model "$model" --out "$run" --steps 6 >"$tmp/a.out" 2>&1 || { cat "$tmp/a.out"; fail "$model: first run"; }
  check "$run" "$tag" 4 6
  # Resume from step 4 to 8: the first run's step 6 is dropped from the curves and the images.
  "$train" "${common[@]}" --model "$model" --out "$run" --steps 8 --resume "$run/checkpoints/step-000004" \
    >"$tmp/b.out" 2>&1 || { cat "$tmp/b.out"; fail "$model: resumed run"; }
  [ "$(ls "$run/tb" | grep -c '^events\.out\.tfevents\.')" = 2 ] || fail "$model: expected one event file per run"
  check "$run" "$tag" 4 8
done
echo "test_tensorboard: ok"
