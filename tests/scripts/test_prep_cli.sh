#!/usr/bin/env bash
# dcgan-prep end to end: exit codes and messages, 1 vs 2 MPI ranks give identical shards, verify
# catches a flipped byte, --config files, inspect's grid, --on-bad-image fail.
set -euo pipefail
bin="${DCGAN_BIN_DIR:?}"
prep="$bin/dcgan-prep"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect CODE PATTERN -- command...: the exit code and a line of output matching PATTERN.
expect() {
  local code="$1" pattern="$2"; shift 3
  local out rc=0
  out="$("$@" 2>&1)" || rc=$?
  [ "$rc" = "$code" ] || fail "exit $rc (wanted $code): $* :: $out"
  grep -q -- "$pattern" <<<"$out" || fail "no '$pattern' in output of $*: $out"
}
mpi() { mpirun --allow-run-as-root --oversubscribe "$@"; }

"$bin/bench_prep" --work "$work" --count 24 --bad-files --make-celeba-only
celeba="$work/celeba"

# Usage errors: exit 2 with the option named.
expect 2 "source" -- "$prep" pack --out "$work/x"
expect 2 "crop" -- "$prep" pack --source celeba --input "$celeba" --out "$work/x" --crop bogus
expect 2 "channels" -- "$prep" pack --source celeba --input "$celeba" --out "$work/x" --channels 2
# Data errors: exit 3 naming the path.
expect 3 "$work/nope" -- "$prep" pack --source celeba --input "$work/nope" --out "$work/x"
expect 3 "000004.jpg" -- "$prep" pack --source celeba --input "$celeba" --out "$work/failed" --on-bad-image fail --no-progress
[ ! -e "$work/failed/manifest.json" ] || fail "a failed pack left a manifest"

# One rank vs two ranks (and 1 vs 3 workers): the same shards, byte for byte.
expect 0 "skipped 2" -- "$prep" pack --source celeba --input "$celeba" --out "$work/r1" --size 32 --images-per-shard 5 --workers 1
expect 0 "skipped 2" -- mpi -np 2 "$prep" pack --source celeba --input "$celeba" --out "$work/r2" --size 32 --images-per-shard 5 --workers 3
shards() { grep -E '"(sha256|count|file)"' "$1/manifest.json"; }
[ "$(shards "$work/r1")" = "$(shards "$work/r2")" ] || fail "1 and 2 ranks wrote different shards"
[ "$(grep -c sha256 "$work/r1/manifest.json")" = 5 ] || fail "expected 5 shards of 5 inputs"
grep -q '"total": 22' "$work/r1/manifest.json" || fail "total is not 22"
grep -q '"skipped": 2' "$work/r2/manifest.json" || fail "skipped is not 2 under MPI"

# A bad image on either rank under --on-bad-image fail: every rank exits 3, no hang, no manifest.
expect 3 "jpg" -- timeout 120 mpirun --allow-run-as-root --oversubscribe -np 2 "$prep" pack --source celeba --input "$celeba" --out "$work/mpifail" --images-per-shard 3 --on-bad-image fail
[ ! -e "$work/mpifail/manifest.json" ] || fail "a failed MPI pack left a manifest"

# A non-empty --out needs --overwrite.
expect 2 "overwrite" -- "$prep" pack --source celeba --input "$celeba" --out "$work/r1"
expect 0 "wrote 22 images" -- "$prep" pack --source celeba --input "$celeba" --out "$work/r1" --size 32 --images-per-shard 5 --overwrite

# verify: OK, then one flipped byte in the middle of a shard is found and the shard named.
expect 0 "^OK" -- "$prep" verify "$work/r1"
shard="$work/r1/shard-00002.h5"
offset=$(( $(stat -c %s "$shard") / 2 ))
byte=$(od -An -tu1 -j "$offset" -N1 "$shard" | tr -d ' ')
printf "$(printf '\\%03o' $(( byte ^ 90 )))" | dd of="$shard" bs=1 seek="$offset" conv=notrunc status=none
expect 3 "shard-00002.h5" -- "$prep" verify "$work/r1"

# --config: pack options from an INI file under [pack].
cat > "$work/prep.ini" <<INI
[pack]
source = "synthetic"
count = 70
size = 16
channels = 1
out = "$work/cfg"
INI
expect 0 "wrote 70 images" -- "$prep" --config "$work/prep.ini" pack
grep -q '"channels": 1' "$work/cfg/manifest.json" || fail "--config channels not applied"

# inspect: the summary and an 8x8 grid of 16x16 gray images (128x128 PNG).
expect 0 "images     70 of 16x16x1" -- "$prep" inspect "$work/cfg" --grid "$work/grid.png"
[ "$(od -An -tu1 -j16 -N8 "$work/grid.png" | tr -s ' ')" = " 0 0 0 128 0 0 0 128" ] || fail "grid is not 128x128"
echo "test_prep_cli: all checks passed"
