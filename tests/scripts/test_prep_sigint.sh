#!/usr/bin/env bash
# Ctrl-C during `dcgan-prep pack` leaves nothing that looks complete: no manifest.json, so
# `verify`, the trainer and a second `pack` (without --overwrite) all refuse the directory, and
# `pack --overwrite` replaces every leftover shard.
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
source "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"
prep="$BIN/dcgan-prep"

# About 1 GB of pixels in 64 shards: several seconds of work, interrupted once it is writing.
# (A background job of a script starts with SIGINT ignored; env restores the default, as a
# terminal's Ctrl-C finds it.)
env --default-signal=INT "$prep" pack --source synthetic --count 250000 --size 64 --channels 3 --images-per-shard 4000 \
  --workers 1 --out "$tmp/d" >"$tmp/pack.out" 2>&1 &
pid=$!
for _ in $(seq 1 300); do ls "$tmp/d" 2>/dev/null | grep -q '^shard-00001' && break; sleep 0.05; done
ls "$tmp/d" | grep -q '^shard-00001' || { kill -9 "$pid"; fail "pack never reached its second shard"; }
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 130 ] || { cat "$tmp/pack.out"; fail "pack exited $rc after SIGINT, expected 130"; }
ls "$tmp/d" >"$tmp/left"
[ ! -e "$tmp/d/manifest.json" ] || fail "an interrupted pack left a manifest.json"
grep -q '^shard-0000[0-9].h5' "$tmp/left" || fail "expected finished shards to remain (the test interrupts too late or too early)"
[ "$(grep -c '^shard-.*\.h5$' "$tmp/left")" -lt 63 ] || fail "the pack had finished before the signal"

expect 3 "manifest.json" -- "$prep" verify "$tmp/d"
if [ -x "$BIN/dcgan-train" ]; then  # absent from the torch-free sanitizer build
  expect 3 "manifest.json" -- "$BIN/dcgan-train" --data "$tmp/d" --out "$tmp/run" --steps 1 --device cpu
fi
expect 2 "--out '$tmp/d' is not empty \(HINT: pass --overwrite" -- "$prep" pack --source synthetic --count 40 --size 32 --out "$tmp/d"
expect 0 "wrote 40 images" -- "$prep" pack --source synthetic --count 40 --size 32 --images-per-shard 16 --out "$tmp/d" --overwrite
[ "$(ls "$tmp/d" | sort | tr '\n' ' ')" = "manifest.json shard-00000.h5 shard-00001.h5 shard-00002.h5 " ] \
  || fail "--overwrite left old shards: $(ls "$tmp/d" | tr '\n' ' ')"
expect 0 "^OK $tmp/d" -- "$prep" verify "$tmp/d"
echo "test_prep_sigint: ok"
