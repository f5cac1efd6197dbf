#!/usr/bin/env bash
# The README's first command, as a new user runs it, with a 4-second budget: launch/quickstart.sh
# with no flags into a new directory (its set-up finds this build and venv, and neither installs
# packages nor builds from a test). Checks: exit 0; Fashion-MNIST packed once (60,000 images);
# the run trained in fp32 and its config.toml says so; the sample grid is a 274x274 PNG (8 x 8
# images of 32x32, 2-pixel padding); the summary names the last checkpoint. Then a second run
# into the same directory, the second thing a user types: no repacking, and it resumes from that
# checkpoint to a later step. A bad DCGAN_QUICKSTART_PRECISION is exit 2 naming the variable.
# fp32 is forced: the probe that picks fp32 or bf16 costs 400 steps on some CPUs.
set -euo pipefail
root="${DCGAN_SOURCE_DIR:?set by ctest}"
bin="${DCGAN_BIN_DIR:?set by ctest}"
py="${DCGAN_PYTHON:?set by ctest}"
source "$root/tests/scripts/lib_cli.sh"

# This build and venv; set-up neither installs packages nor builds while other tests run.
export DCGAN_BUILD_DIR="${bin%/bin}" DCGAN_VENV="${py%/bin/python*}"
export DCGAN_SKIP_APT=1 DCGAN_SKIP_BUILD=1
export DCGAN_QUICKSTART_DIR="$tmp/qs" DCGAN_QUICKSTART_SECONDS=4 DCGAN_QUICKSTART_PRECISION=fp32
qs="$root/launch/quickstart.sh"

# trained_step FILE: N from the summary's "quickstart: trained step-N (...)".
trained_step() { sed -n 's/^quickstart: trained *step-0*\([0-9][0-9]*\) .*/\1/p' "$1"; }
# png_size FILE: "WIDTH HEIGHT" from the IHDR chunk (two big-endian 32-bit numbers at byte 16).
png_size() {
  od -An -tu1 -j16 -N8 "$1" |
    awk '{ print (($1 * 256 + $2) * 256 + $3) * 256 + $4, (($5 * 256 + $6) * 256 + $7) * 256 + $8 }'
}

expect 0 "^quickstart: sample grid" -- bash "$qs"
out1=$tmp/first.out
cp "$tmp/out" "$out1"
grep -q "^quickstart: packing Fashion-MNIST" "$out1" || fail "the first run did not pack"
grep -q '"total": 60000' "$tmp/qs/data/manifest.json" || fail "the manifest holds no 60,000 images"
first=$(trained_step "$out1")
[ -n "$first" ] && [ "$first" -gt 0 ] || { cat "$out1"; fail "no trained step in the summary"; }
grep -qE "^quickstart: trained +step-0*$first \(fp32, 4 s budget\)" "$out1" ||
  fail "the summary does not say fp32 and the 4 s budget"
ckpt=$tmp/qs/run/checkpoints/$(printf 'step-%06d' "$first")
[ -d "$ckpt" ] || fail "no checkpoint of step $first"
grep -qE "^precision *= *['\"]fp32['\"]" "$tmp/qs/run/config.toml" ||
  fail "config.toml's precision is not fp32"
size=$(png_size "$tmp/qs/samples.png")
[ "$size" = "274 274" ] || fail "samples.png is $size, not 274 274"

expect 0 "^quickstart: sample grid" -- bash "$qs"
out2=$tmp/second.out
cp "$tmp/out" "$out2"
if grep -q "^quickstart: packing" "$out2"; then fail "the second run packed again"; fi
second=$(trained_step "$out2")
[ -n "$second" ] && [ "$second" -gt "$first" ] ||
  { cat "$out2"; fail "the second run ended at step '$second', not after $first"; }
grep -qE "resumed from .*step-0*$first at step $first " "$out2" ||
  { cat "$out2"; fail "the second run did not resume from step $first"; }

DCGAN_QUICKSTART_PRECISION=fp16 expect 2 \
  "DCGAN_QUICKSTART_PRECISION must be fp32 or bf16, got 'fp16'" -- bash "$qs"
[ "$(wc -l < "$tmp/out")" -le 3 ] || { cat "$tmp/out"; fail "fp16 printed over 3 lines"; }

echo "PASS: quickstart trained to step $first, then continued to step $second in the same directory"
