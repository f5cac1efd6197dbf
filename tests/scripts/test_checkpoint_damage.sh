#!/usr/bin/env bash
# Damaged checkpoints: a flipped, truncated or missing file in `latest` is named, renamed aside
# (step-NNNNNN.damaged) and the run resumes from the newest intact checkpoint, ending bit-identical
# to a straight run; under mpirun every rank loads rank 0's choice; no intact one is exit 3;
# dcgan-sample refuses a damaged checkpoint (exit 3); checkpoints without checksums still load.
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
source "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../../launch/common.sh"
train="$BIN/dcgan-train"

"$BIN/dcgan-prep" pack --source synthetic --count 64 --size 32 --channels 3 --out "$tmp/data" >/dev/null
common=(--data "$tmp/data" --nz 16 --ngf 8 --ndf 8 --batch-size 8 --log-every 2 --sample-every 100
        --ckpt-every 2 --keep 10 --device cpu --threads 1)
fingerprints() { grep fingerprint "$1/checkpoint.toml"; }
flip4() {  # flips 4 bytes in the middle of a file
  python3 - "$1" <<'PYEOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
mid = len(b) // 2
for i in range(mid, mid + 4):
    b[i] ^= 0x5A
open(p, "wb").write(bytes(b))
PYEOF
}

"$train" "${common[@]}" --out "$tmp/straight" --steps 8 >/dev/null 2>&1 || fail "straight run"
grep -qE "^sha256_optim_g = ['\"][0-9a-f]{64}['\"]$" "$tmp/straight/checkpoints/step-000008/checkpoint.toml" || fail "no sha256 recorded"
grep -qE '^bytes_generator = [0-9]+$' "$tmp/straight/checkpoints/step-000008/checkpoint.toml" || fail "no size recorded"

# A flipped byte in optim_g.pt of latest: named, moved aside, fallback to step 4, same end state.
"$train" "${common[@]}" --out "$tmp/flip" --steps 6 >/dev/null 2>&1 || fail "first half"
flip4 "$tmp/flip/checkpoints/step-000006/optim_g.pt"
"$train" "${common[@]}" --out "$tmp/flip" --steps 8 --resume >"$tmp/flip.out" 2>&1 || { cat "$tmp/flip.out"; fail "resume past a damaged latest"; }
grep -q "damaged checkpoint: $tmp/flip/checkpoints/step-000006/optim_g.pt does not match its sha256" "$tmp/flip.out" \
  || { cat "$tmp/flip.out"; fail "the damaged file was not named"; }
grep -q "falling back to $tmp/flip/checkpoints/step-000004, the newest intact checkpoint (latest was step-000006)" "$tmp/flip.out" \
  || { cat "$tmp/flip.out"; fail "no fallback warning"; }
[ -d "$tmp/flip/checkpoints/step-000006.damaged" ] || fail "the damaged checkpoint was not moved aside"
diff <(fingerprints "$tmp/straight/checkpoints/step-000008") <(fingerprints "$tmp/flip/checkpoints/step-000008") \
  || fail "the run resumed from the fallback differs from the straight run"

# Truncated, missing, and a damaged checkpoint.toml: each is named, and each falls back.
"$train" "${common[@]}" --out "$tmp/cut" --steps 6 >/dev/null 2>&1 || fail "cut run"
truncate -s 100 "$tmp/cut/checkpoints/step-000006/generator.pt"
rm "$tmp/cut/checkpoints/step-000004/state.pt"
sed -i 's/^step = 2$/step = 3/' "$tmp/cut/checkpoints/step-000002/checkpoint.toml"
expect 3 "error: no intact checkpoint under $tmp/cut/checkpoints" -- "$train" "${common[@]}" --out "$tmp/cut" --steps 8 --resume
grep -q "step-000006/generator.pt is 100 bytes, but [0-9]* were written" "$tmp/out" || { cat "$tmp/out"; fail "truncation not named"; }
grep -q "step-000004/state.pt is missing" "$tmp/out" || { cat "$tmp/out"; fail "missing file not named"; }
grep -q "step-000002/checkpoint.toml does not match its own checksum" "$tmp/out" || { cat "$tmp/out"; fail "damaged checkpoint.toml not named"; }
[ "$(ls -d "$tmp"/cut/checkpoints/*.damaged | wc -l)" = 3 ] || fail "not every damaged checkpoint was moved aside"

# A step directory named on the command line must itself be intact.
"$train" "${common[@]}" --out "$tmp/named" --steps 4 >/dev/null 2>&1 || fail "named run"
flip4 "$tmp/named/checkpoints/step-000004/discriminator.pt"
expect 3 "error: damaged checkpoint: $tmp/named/checkpoints/step-000004/discriminator.pt does not match its sha256" \
  -- "$train" "${common[@]}" --out "$tmp/named" --steps 8 --resume "$tmp/named/checkpoints/step-000004"
# dcgan-sample refuses it too (exit 3), naming the file.
expect 3 "error: damaged checkpoint: .*step-000004/discriminator.pt" -- "$BIN/dcgan-sample" --ckpt "$tmp/named" --out "$tmp/g.png"
[ ! -e "$tmp/g.png" ] || fail "dcgan-sample wrote a grid from a damaged checkpoint"

# Under mpirun rank 0 chooses and both ranks load the same fallback.
dcgan_mpirun -np 2 "$train" "${common[@]}" --out "$tmp/mpi" --steps 6 >/dev/null 2>&1 || fail "2-rank first half"
dcgan_mpirun -np 2 "$train" "${common[@]}" --out "$tmp/straight2" --steps 8 --overwrite >/dev/null 2>&1 || fail "2-rank straight"
flip4 "$tmp/mpi/checkpoints/step-000006/state.pt"
dcgan_mpirun -np 2 "$train" "${common[@]}" --out "$tmp/mpi" --steps 8 --resume >"$tmp/mpi.out" 2>&1 || { cat "$tmp/mpi.out"; fail "2-rank resume past a damaged latest"; }
for r in 0 1; do
  grep -q "resumed from $tmp/mpi/checkpoints/step-000004 at step 4" "$tmp/mpi/logs/rank-$r.log" || fail "rank $r did not load step 4"
done
diff <(fingerprints "$tmp/straight2/checkpoints/step-000008") <(fingerprints "$tmp/mpi/checkpoints/step-000008") \
  || fail "the 2-rank run resumed from the fallback differs from the straight 2-rank run"

# A checkpoint written before checksums existed (format 1, no bytes_/sha256_ lines) still resumes,
# unverified.
"$train" "${common[@]}" --out "$tmp/old" --steps 4 >/dev/null 2>&1 || fail "old run"
sed -i -e '/^bytes_/d' -e '/^sha256_/d' -e '/^info_sha256/d' -e '/^# size in bytes/d' \
  -e '/^model = /d' -e '/^modules = /d' -e '/^optimizers = /d' -e '/^tensors = /d' \
  -e 's/^format_version = 2$/format_version = 1/' "$tmp/old/checkpoints/step-000004/checkpoint.toml"
"$train" "${common[@]}" --out "$tmp/old" --steps 8 --resume >"$tmp/old.out" 2>&1 || { cat "$tmp/old.out"; fail "resume of an old checkpoint"; }
grep -q "step-000004 has no checksums (written by an older dcgan-train); it could not be verified" "$tmp/old.out" \
  || { cat "$tmp/old.out"; fail "no 'could not be verified' line"; }
diff <(fingerprints "$tmp/straight/checkpoints/step-000008") <(fingerprints "$tmp/old/checkpoints/step-000008") \
  || fail "the resumed old-format run differs"
# Format 2 always has checksums: one without them is damaged, not an old checkpoint.
"$train" "${common[@]}" --out "$tmp/new" --steps 4 >/dev/null 2>&1 || fail "format-2 run"
sed -i -e '/^bytes_/d' -e '/^sha256_/d' -e '/^info_sha256/d' "$tmp/new/checkpoints/step-000004/checkpoint.toml"
expect_code=0
"$BIN/dcgan-sample" --ckpt "$tmp/new" --out "$tmp/new.png" >"$tmp/new.out" 2>&1 || expect_code=$?
[ "$expect_code" = 3 ] || { cat "$tmp/new.out"; fail "a format-2 checkpoint without checksums: exit $expect_code, expected 3"; }
grep -q "checkpoint.toml has no checksums, which every format-2 checkpoint has" "$tmp/new.out" \
  || { cat "$tmp/new.out"; fail "no line naming the missing checksums"; }
echo "test_checkpoint_damage: ok"
