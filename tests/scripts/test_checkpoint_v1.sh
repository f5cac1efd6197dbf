#!/usr/bin/env bash
# A checkpoint of format 1, written by dcgan-train before the recipes (tests/fixtures/
# checkpoint_v1, made by make_checkpoint_v1.sh), still resumes and samples: the resumed steps 5
# and 6 log the losses and D outputs the old code logged (within 1e-5), the new checkpoint is
# format 2 with the DCGAN's entries, and dcgan-sample draws the old code's grid.
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
SRC="${DCGAN_SOURCE_DIR:?set by ctest}"
PY="${DCGAN_PYTHON:-python3}"
source "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"
fixture="$SRC/tests/fixtures/checkpoint_v1"
grep -qx "format_version = 1" "$fixture/step-000004/checkpoint.toml" || fail "the fixture is not format 1"

cd "$tmp"
"$BIN/dcgan-prep" pack --source synthetic --count 32 --size 32 --channels 1 --out data >/dev/null
mkdir -p run/checkpoints
cp -r "$fixture/step-000004" run/checkpoints/
echo step-000004 >run/checkpoints/latest
"$BIN/dcgan-train" --data data --out run --nz 16 --ngf 8 --ndf 8 --batch-size 8 --log-every 1 \
  --device cpu --threads 1 --keep 1 --steps 6 --ckpt-every 6 --sample-every 6 --resume \
  >train.out 2>&1 || { cat train.out; fail "resume from the format-1 checkpoint"; }
grep -q "resumed from run/checkpoints/step-000004 at step 4" train.out || { cat train.out; fail "no resume line"; }

"$PY" - "$fixture/metrics-steps-5-6.jsonl" run/metrics.jsonl <<'PYEOF' || fail "resumed metrics differ from the old code's"
import json, sys
old = [json.loads(line) for line in open(sys.argv[1])]
new = {r["step"]: r for r in map(json.loads, open(sys.argv[2]))}
assert [r["step"] for r in old] == [5, 6], old
for r in old:
    mine = new[r["step"]]
    assert set(mine) == set(r), (sorted(mine), sorted(r))
    for key in ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2", "lr_d", "lr_g"):
        assert abs(mine[key] - r[key]) <= 1e-5 * max(1.0, abs(r[key])), (r["step"], key, mine[key], r[key])
PYEOF

info=run/checkpoints/step-000006/checkpoint.toml
for line in "format_version = 2" "model = 'dcgan'" "modules = [ 'generator', 'discriminator' ]" \
            "optimizers = [ 'd', 'g' ]" "tensors = [ 'fixed_noise' ]"; do
  grep -qxF "$line" "$info" || { cat "$info"; fail "$info has no line: $line"; }
done

# The old checkpoint samples: the same grid as the old dcgan-sample drew (same seed), pixel for
# pixel within one level.
"$BIN/dcgan-sample" --ckpt "$fixture/step-000004" --out grid.png --n 16 --seed 3 >/dev/null 2>&1 \
  || fail "dcgan-sample on the format-1 checkpoint"
"$PY" - "$fixture/sample-seed3.png" grid.png <<'PYEOF' || fail "the sample grid differs from the old code's"
import sys
import numpy as np
from PIL import Image
a, b = (np.asarray(Image.open(p), dtype=np.int16) for p in sys.argv[1:3])
assert a.shape == b.shape == (70, 274, 3), (a.shape, b.shape)
assert np.abs(a - b).max() <= 1, np.abs(a - b).max()
assert a.std() > 1, "a blank grid would match anything"
PYEOF
echo "test_checkpoint_v1: ok"
