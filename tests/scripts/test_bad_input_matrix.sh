#!/usr/bin/env bash
# The bad-input matrix: one line per case, each with the exit code it must get and the words its
# one error line must contain (the file, option or rank). Any crash, abort, sanitizer report or
# hang (60 s) fails the case, whatever its exit code.
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
PY="${DCGAN_PYTHON:?set by ctest: the venv Python makes the images}"
source "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"
prep="$BIN/dcgan-prep" train="$BIN/dcgan-train" sample="$BIN/dcgan-sample"
cases=0 failed=0

# check CODE PATTERN -- command...: the exit code, the pattern on the one "error:" line (when
# CODE != 0), and no sign of a crash.
check() {
  local code="$1" pattern="$2"; shift 3
  local rc=0 why=""
  cases=$((cases + 1))
  timeout 60 "$@" >"$tmp/out" 2>&1 || rc=$?
  if [ "$rc" != "$code" ]; then why="exited $rc, expected $code"
  elif grep -qE "Segmentation fault|Aborted|core dumped|AddressSanitizer|runtime error:|terminate called|std::bad_alloc" "$tmp/out"; then why="crashed"
  elif [ "$code" != 0 ] && [ "$(grep -c ': error: ' "$tmp/out" || true)" != 1 ]; then
    why="printed $(grep -c ': error: ' "$tmp/out" || true) error lines, expected 1"
  elif ! grep -qE -- "$pattern" "$tmp/out"; then why="printed no '$pattern'"
  fi
  if [ -n "$why" ]; then
    failed=$((failed + 1))
    echo "FAIL [$cases] $why: $*"; sed 's/^/    /' "$tmp/out" | tail -n 8
  else
    echo "ok   [$cases] exit $rc: $*"
  fi
}

# --- fixtures, made here -------------------------------------------------------------------
"$PY" - "$tmp" <<'PYEOF'
import gzip, os, struct, sys
import numpy as np
from PIL import Image
d = sys.argv[1]
rng = np.random.default_rng(0)
def idx_images(n, h=8, w=8):
    return struct.pack(">IIII", 0x803, n, h, w) + rng.integers(0, 256, n * h * w, dtype=np.uint8).tobytes()
def idx_labels(n):
    return struct.pack(">II", 0x801, n) + (np.arange(n) % 10).astype(np.uint8).tobytes()
img = idx_images(20)
open(f"{d}/images.idx", "wb").write(img)
gzip.open(f"{d}/images.idx.gz", "wb").write(img)
gzip.open(f"{d}/labels-19.gz", "wb").write(idx_labels(19))
gzip.open(f"{d}/labels-20.gz", "wb").write(idx_labels(20))
open(f"{d}/images-truncated.idx", "wb").write(img[:-7])
gz = gzip.compress(img)
open(f"{d}/images-cut.gz", "wb").write(gz[: len(gz) // 2])
open(f"{d}/not-idx.txt", "w").write("this is a text file, not an IDX file\n" * 10)
os.makedirs(f"{d}/empty")
m = f"{d}/mixed"
os.makedirs(m)
rgb = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
Image.fromarray(np.dstack([rgb, rng.integers(0, 256, (40, 48), dtype=np.uint8)]), "RGBA").save(f"{m}/a_rgba.png")
Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=16).save(f"{m}/b_palette.png")
Image.fromarray((rng.integers(0, 65536, (40, 48))).astype(np.uint16)).save(f"{m}/c_16bit.png")
Image.fromarray(rgb[:, :, 0]).save(f"{m}/d_grey.jpg", quality=90)
Image.fromarray(rgb).convert("CMYK").save(f"{m}/e_cmyk.jpg", quality=90)
open(f"{m}/f_empty.jpg", "wb").close()
Image.fromarray(rgb).save(f"{d}/whole.jpg", quality=90)
open(f"{m}/g_truncated.jpg", "wb").write(open(f"{d}/whole.jpg", "rb").read()[:300])
open(f"{m}/h_notes.png", "w").write("not an image, despite its name\n")
open(f"{m}/readme.txt", "w").write("ignored: not an image extension\n")
for i in range(12):  # enough good images for a batch
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(f"{m}/z{i:02d}.jpg", quality=90)
PYEOF
echo "a file, not a directory" >"$tmp/a-file"

# --- dcgan-prep -------------------------------------------------------------------------------
pk=(pack --size 32 --channels 1)
check 0 "wrote 20 images"                     -- "$prep" "${pk[@]}" --source idx --input "$tmp/images.idx.gz" --out "$tmp/o1"
check 0 "wrote 20 images"                     -- "$prep" "${pk[@]}" --source idx --input "$tmp/images.idx" --labels "$tmp/labels-20.gz" --out "$tmp/o2"
check 3 "labels-19.gz' holds 19 labels for 20 images" -- "$prep" "${pk[@]}" --source idx --input "$tmp/images.idx.gz" --labels "$tmp/labels-19.gz" --out "$tmp/o3"
check 3 "images-truncated.idx' header \(20 x 8 x 8\) does not match its size" -- "$prep" "${pk[@]}" --source idx --input "$tmp/images-truncated.idx" --out "$tmp/o4"
check 3 "corrupt IDX file '.*images-cut.gz': the gzip stream ends early \(truncated\)" -- "$prep" "${pk[@]}" --source idx --input "$tmp/images-cut.gz" --out "$tmp/o5"
check 3 "not-idx.txt' is not an IDX image file" -- "$prep" "${pk[@]}" --source idx --input "$tmp/not-idx.txt" --out "$tmp/o6"
check 3 "IDX file '$tmp/missing.gz' does not exist" -- "$prep" "${pk[@]}" --source idx --input "$tmp/missing.gz" --out "$tmp/o7"
check 3 "no JPEG/PNG images found under '$tmp/empty'" -- "$prep" pack --source folder --input "$tmp/empty" --out "$tmp/o8" --size 32
check 0 "wrote 17 images, skipped 3"          -- "$prep" pack --source folder --input "$tmp/mixed" --out "$tmp/mixed32" --size 32
check 3 "image $tmp/mixed/f_empty.jpg is empty" -- "$prep" pack --source folder --input "$tmp/mixed" --out "$tmp/o9" --size 32 --on-bad-image fail
check 0 "wrote 17 images, skipped 3"          -- "$prep" pack --source folder --input "$tmp/mixed" --out "$tmp/o10" --size 32 --channels 1
check 2 "--size 0 is outside \[1, "           -- "$prep" pack --source synthetic --count 4 --size 0 --out "$tmp/o11"
check 2 "--size 100000 is outside \[1, "      -- "$prep" pack --source synthetic --count 4 --size 100000 --out "$tmp/o12"
check 2 "--channels 2: expected 1 or 3"       -- "$prep" pack --source synthetic --count 4 --size 32 --channels 2 --out "$tmp/o13"
check 2 "--out '$tmp/a-file' exists and is not a directory" -- "$prep" pack --source synthetic --count 4 --size 32 --out "$tmp/a-file"
grep -q '"skipped": 3' "$tmp/mixed32/manifest.json" || { echo "FAIL: mixed folder's manifest does not count 3 skipped"; failed=$((failed + 1)); }

# --- shards and manifests ---------------------------------------------------------------------
"$prep" pack --source synthetic --count 40 --size 32 --channels 3 --images-per-shard 16 --out "$tmp/good" >/dev/null
cp -r "$tmp/good" "$tmp/truncshard" && truncate -s 5000 "$tmp/truncshard/shard-00001.h5"
cp -r "$tmp/good" "$tmp/noshard" && rm "$tmp/noshard/shard-00002.h5"
cp -r "$tmp/good" "$tmp/truncman" && truncate -s 60 "$tmp/truncman/manifest.json"
cp -r "$tmp/good" "$tmp/wrongman" && sed -i 's/"count": 16/"count": 17/' "$tmp/wrongman/manifest.json"
tr=(--nz 16 --ngf 8 --ndf 8 --steps 2 --device cpu --threads 1 --batch-size 8)
check 3 "shard-00001.h5"                      -- "$prep" verify "$tmp/truncshard"
check 3 "shard-00001.h5"                      -- "$train" --data "$tmp/truncshard" --out "$tmp/r1" "${tr[@]}"
check 3 "shard-00002.h5"                      -- "$prep" verify "$tmp/noshard"
check 3 "shard-00002.h5"                      -- "$train" --data "$tmp/noshard" --out "$tmp/r2" "${tr[@]}"
check 3 "$tmp/truncman/manifest.json"         -- "$prep" verify "$tmp/truncman"
check 3 "$tmp/truncman/manifest.json"         -- "$train" --data "$tmp/truncman" --out "$tmp/r3" "${tr[@]}"
check 3 "wrongman/manifest.json: shard counts add up to 42 but total is 40" -- "$train" --data "$tmp/wrongman" --out "$tmp/r4" "${tr[@]}"

# --- dcgan-train ------------------------------------------------------------------------------
check 3 "$tmp/good has 40 images, fewer than one global batch of 64 HINT: lower --batch-size" \
                                              -- "$train" --data "$tmp/good" --out "$tmp/r5" "${tr[@]:0:8}" --batch-size 64
printf 'batch-size = "many"\n' >"$tmp/bad.toml"
check 2 "batch-size"                          -- "$train" --config "$tmp/bad.toml" --data "$tmp/good" --out "$tmp/r6"
printf 'no-such-option = 3\n' >"$tmp/unknown.toml"
check 2 "no-such-option"                      -- "$train" --config "$tmp/unknown.toml" --data "$tmp/good" --out "$tmp/r7"
printf 'batch-size = \n' >"$tmp/syntax.toml"
check 2 "--config: line 1: "                  -- "$train" --config "$tmp/syntax.toml" --data "$tmp/good" --out "$tmp/r7"
check 2 "no checkpoint at $tmp/r8"            -- "$train" --data "$tmp/good" --out "$tmp/r8" "${tr[@]}" --resume
check 2 "--out $tmp/a-file exists and is not a directory" -- "$train" --data "$tmp/good" --out "$tmp/a-file" "${tr[@]}"
check 2 "--lock-wait must not be negative"    -- "$train" --data "$tmp/good" --out "$tmp/r9" "${tr[@]}" --lock-wait -1
check 3 "$tmp/mixed"                          -- "$train" --data "$tmp/mixed" --out "$tmp/r10" "${tr[@]}"
check 0 "done: last sample"                   -- "$train" --data "$tmp/mixed32" --out "$tmp/r11" "${tr[@]}"
check 2 "already holds checkpoints"           -- "$train" --data "$tmp/mixed32" --out "$tmp/r11" "${tr[@]}"

# --- dcgan-sample -----------------------------------------------------------------------------
check 3 "no checkpoint at $tmp/nothing"       -- "$sample" --ckpt "$tmp/nothing" --out "$tmp/s.png"
cp -r "$tmp/r11" "$tmp/r12"
truncate -s 1000 "$tmp/r12/checkpoints/step-000002/generator.pt"
check 3 "damaged checkpoint: $tmp/r12/checkpoints/step-000002/generator.pt is 1000 bytes" -- "$sample" --ckpt "$tmp/r12" --out "$tmp/s.png"
check 0 "wrote 64 samples"                    -- "$sample" --ckpt "$tmp/r11" --out "$tmp/s.png"

echo "$((cases - failed)) passed, $failed failed"
[ "$failed" = 0 ]
