#!/usr/bin/env bash
# A real full disk: a tmpfs over RUN/checkpoints with room for two checkpoints, so the third
# checkpoint write is the one that fails. Exit 1, one error line naming the file and saying the
# previous checkpoint is intact; after space is freed (the tmpfs grown) the run resumes from it.
# Skips (exit 77, reported by ctest) where mounting is not permitted.
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp="$(mktemp -d)"
mounted=""
cleanup() {
  [ -n "$mounted" ] && umount "$mounted" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
train="$BIN/dcgan-train"

"$BIN/dcgan-prep" pack --source synthetic --count 64 --size 32 --channels 3 --out "$tmp/data" >/dev/null
common=(--data "$tmp/data" --nz 16 --ngf 8 --ndf 8 --batch-size 8 --log-every 2 --sample-every 100
        --ckpt-every 2 --keep 10 --device cpu --threads 1)

# One checkpoint's size in 4 KiB blocks, as tmpfs counts it.
"$train" "${common[@]}" --out "$tmp/probe" --steps 2 >/dev/null 2>&1 || fail "probe run"
blocks=0
for f in "$tmp"/probe/checkpoints/step-000002/*; do blocks=$(( blocks + ($(stat -c %s "$f") + 4095) / 4096 )); done
size_kib=$(( (blocks * 5 / 2 + 1) * 4 ))  # two checkpoints and half of the third

mkdir -p "$tmp/run/checkpoints"
if ! mount -t tmpfs -o "size=${size_kib}k" tmpfs "$tmp/run/checkpoints" 2>"$tmp/mount.err"; then
  echo "SKIP: cannot mount a tmpfs here ($(head -n 1 "$tmp/mount.err")); the full-disk test needs root with CAP_SYS_ADMIN"
  exit 77
fi
mounted="$tmp/run/checkpoints"

rc=0
"$train" "${common[@]}" --out "$tmp/run" --steps 8 >"$tmp/full.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$tmp/full.out"; fail "a full disk during a checkpoint exited $rc, expected 1"; }
errors=$(grep "error:" "$tmp/full.out")
[ "$(echo "$errors" | wc -l)" = 1 ] || { cat "$tmp/full.out"; fail "expected one error line"; }
echo "$errors" | grep -qE "dcgan-train: error: cannot write checkpoint file $tmp/run/checkpoints/\.tmp-step-000006-[0-9]+/[a-z_]+\.(pt|toml): No space left on device HINT: free disk space or lower --keep; the previous checkpoint is intact" \
  || fail "the error line does not name the file and the intact checkpoint: $errors"
[ "$(cat "$tmp/run/checkpoints/latest")" = step-000004 ] || fail "latest moved off the previous checkpoint"
[ -z "$(ls -A "$tmp/run/checkpoints" | grep '^\.tmp-' || true)" ] || fail "the partial checkpoint was left behind"

# Space freed: the run resumes from step 4 and ends where a straight run ends.
mount -o "remount,size=$(( size_kib * 4 ))k" "$tmp/run/checkpoints"
"$train" "${common[@]}" --out "$tmp/run" --steps 8 --resume >"$tmp/resume.out" 2>&1 || { cat "$tmp/resume.out"; fail "resume after the full disk"; }
grep -q "resumed from $tmp/run/checkpoints/step-000004 at step 4" "$tmp/resume.out" || fail "did not resume from step 4"
"$train" "${common[@]}" --out "$tmp/straight" --steps 8 >/dev/null 2>&1 || fail "straight run"
diff <(grep fingerprint "$tmp/straight/checkpoints/step-000008/checkpoint.toml") \
     <(grep fingerprint "$tmp/run/checkpoints/step-000008/checkpoint.toml") || fail "the resumed run differs"
echo "test_full_disk: ok (tmpfs of ${size_kib} KiB, one checkpoint ${blocks} blocks)"
