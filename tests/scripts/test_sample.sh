#!/usr/bin/env bash
# dcgan-sample end to end: --help with defaults, exit codes (2 bad usage, 3 missing or corrupt
# checkpoint naming the path), grid sizes decoded by PIL, same seed -> same bytes, --interpolate,
# AE and VAE checkpoints and --reconstruct.
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
PY="${DCGAN_PYTHON:-python3}"
source "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"
sample="$BIN/dcgan-sample"
# png_shape FILE: "width height mode" as PIL decodes it.
png_shape() { "$PY" -c 'import sys; from PIL import Image; i = Image.open(sys.argv[1]); i.load(); print(i.width, i.height, i.mode)' "$1"; }

"$sample" --help >"$tmp/help"
for opt in --ckpt --out --n --seed --interpolate --reconstruct; do
  grep -qE -- "^ +$opt( |$)" "$tmp/help" || fail "--help does not document $opt"
done
grep -qE -- "--n INT( *\[64\]|=64)" "$tmp/help" || fail "--help does not show --n's default"

expect 2 "--ckpt is required" -- "$sample" --out "$tmp/x.png"
expect 2 "--no-such-flag" -- "$sample" --ckpt "$tmp" --out "$tmp/x.png" --no-such-flag
expect 3 "dcgan-sample: error: .*$tmp/none" -- "$sample" --ckpt "$tmp/none" --out "$tmp/x.png"

# A 4-step run on a synthetic grey 32x32 set gives a checkpoint to sample from.
"$BIN/dcgan-prep" pack --source synthetic --count 32 --size 32 --channels 1 --out "$tmp/data" >/dev/null
"$BIN/dcgan-train" --data "$tmp/data" --out "$tmp/run" --nz 16 --ngf 8 --ndf 8 --batch-size 8 \
  --steps 4 --ckpt-every 4 --sample-every 4 --log-every 2 --device cpu --threads 1 \
  >"$tmp/train.out" 2>&1 || { cat "$tmp/train.out"; fail "training run"; }
expect 2 "--interpolate needs at least 2 steps, got 1" -- "$sample" --ckpt "$tmp/run" --out "$tmp/x.png" --interpolate 1

# The default 64 samples: an 8x8 grid of 32x32 images with 2-pixel padding, RGB.
"$sample" --ckpt "$tmp/run" --out "$tmp/a.png" --seed 5 >/dev/null 2>&1
[ "$(png_shape "$tmp/a.png")" = "274 274 RGB" ] || fail "grid shape $(png_shape "$tmp/a.png")"
# The same checkpoint (by run dir or by step dir) and seed give the same bytes; another seed not.
"$sample" --ckpt "$tmp/run/checkpoints/step-000004" --out "$tmp/b.png" --seed 5 >/dev/null 2>&1
cmp -s "$tmp/a.png" "$tmp/b.png" || fail "same seed and checkpoint, different bytes"
"$sample" --ckpt "$tmp/run" --out "$tmp/c.png" --seed 6 >/dev/null 2>&1
cmp -s "$tmp/a.png" "$tmp/c.png" && fail "another seed, same bytes"
# 10 samples: two rows, the second with 2 images.
"$sample" --ckpt "$tmp/run" --out "$tmp/ten.png" --n 10 >/dev/null 2>&1
[ "$(png_shape "$tmp/ten.png")" = "274 70 RGB" ] || fail "10-sample grid $(png_shape "$tmp/ten.png")"

# --interpolate 5 --n 15: 3 rows of 5 (5*34+2 by 3*34+2). Along a row the latent moves linearly,
# so each image's nearest neighbour in the row is the one beside it (checked on the pixels).
"$sample" --ckpt "$tmp/run" --out "$tmp/walk.png" --n 15 --interpolate 5 --seed 1 >/dev/null 2>&1
[ "$(png_shape "$tmp/walk.png")" = "172 104 RGB" ] || fail "walk grid $(png_shape "$tmp/walk.png")"
"$PY" - "$tmp/walk.png" <<'PYEOF' || fail "interpolation rows"
import sys
import numpy as np
from PIL import Image
g = np.asarray(Image.open(sys.argv[1]), dtype=np.float64)
cells = [[g[2 + r * 34: 34 + r * 34, 2 + c * 34: 34 + c * 34] for c in range(5)] for r in range(3)]
for row in cells:
    d = lambda a, b: np.abs(row[a] - row[b]).mean()
    assert d(0, 4) > 0, "a walk between two latents must change the image"
    assert d(0, 1) < d(0, 4) and d(3, 4) < d(0, 4), [d(0, 1), d(3, 4), d(0, 4)]
PYEOF

# AE and VAE checkpoints: the model is read from the checkpoint. Decoded N(0, 1) codes (for the
# AE the material's point: its code space is not N(0, 1)), and --reconstruct pairs: rows of the
# data set's first images, each over its reconstructions.
for model in ae vae; do
  "$BIN/dcgan-train" --model "$model" --data "$tmp/data" --out "$tmp/$model" --nz 16 --ngf 8 --ndf 8 \
    --batch-size 8 --steps 4 --ckpt-every 4 --sample-every 4 --log-every 2 --device cpu --threads 1 \
    >"$tmp/$model.out" 2>&1 || { cat "$tmp/$model.out"; fail "$model training run"; }
  "$sample" --ckpt "$tmp/$model" --out "$tmp/$model-z.png" --n 16 >/dev/null 2>&1 || fail "$model samples"
  [ "$(png_shape "$tmp/$model-z.png")" = "274 70 RGB" ] || fail "$model grid $(png_shape "$tmp/$model-z.png")"
  expect 0 "wrote 12 images over their $model reconstructions" -- \
    "$sample" --ckpt "$tmp/$model" --out "$tmp/$model-r.png" --n 12 --reconstruct "$tmp/data"
  # 12 images: two rows of originals (8, then 4 and black padding), each over its reconstructions.
  [ "$(png_shape "$tmp/$model-r.png")" = "274 138 RGB" ] || fail "$model recon grid $(png_shape "$tmp/$model-r.png")"
  "$PY" - "$tmp/$model-r.png" <<'PYEOF' || fail "$model reconstruction grid cells"
import sys
import numpy as np
from PIL import Image
g = np.asarray(Image.open(sys.argv[1]), dtype=np.int16)
cell = lambda r, c: g[2 + r * 34: 34 + r * 34, 2 + c * 34: 34 + c * 34]
assert np.abs(cell(0, 0) - cell(1, 0)).mean() > 0, "a reconstruction equal to its input after 4 steps"
assert cell(2, 5).max() == 0 and cell(3, 7).max() == 0, "the short row's padding is not black"
assert cell(2, 3).std() > 0, "the 12th image is missing"
PYEOF
done
expect 2 "--reconstruct needs an ae or vae checkpoint; .* is a dcgan run" -- \
  "$sample" --ckpt "$tmp/run" --out "$tmp/x.png" --reconstruct "$tmp/data"
"$BIN/dcgan-prep" pack --source synthetic --count 8 --size 32 --channels 3 --out "$tmp/rgb" >/dev/null
expect 2 "--reconstruct $tmp/rgb holds 32x32x3 images, but the checkpoint was trained on 32x32x1" -- \
  "$sample" --ckpt "$tmp/vae" --out "$tmp/x.png" --reconstruct "$tmp/rgb"
expect 2 "--reconstruct and --interpolate exclude each other" -- \
  "$sample" --ckpt "$tmp/vae" --out "$tmp/x.png" --reconstruct "$tmp/data" --interpolate 4

# A corrupt generator file is a data error naming the checkpoint.
ckpt="$tmp/run/checkpoints/step-000004"
head -c 100 "$ckpt/generator.pt" >"$tmp/g.pt" && cp "$tmp/g.pt" "$ckpt/generator.pt"
expect 3 "dcgan-sample: error: .*step-000004" -- "$sample" --ckpt "$ckpt" --out "$tmp/x.png"
echo "test_sample: ok"
