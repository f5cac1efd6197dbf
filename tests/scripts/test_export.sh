#!/usr/bin/env bash
# PyTorch interop, both ways, checked by the venv's torch as a PyTorch user would use it.
# Export: dcgan-export of a 64x64 DCGAN, a 32x32 AE and a VAE; a bare torch.load reads every file,
# the nets (and the tutorial's own Generator/Discriminator classes) load them strictly, and their
# outputs equal the C++ forward in check.pt within 1e-6. A second export into the same directory
# needs --overwrite; a missing checkpoint is exit 3. With --ema-halflife-kimg the EMA generator is
# exported too (not with --no-ema), and dcgan-sample draws with it (not with --no-ema).
# Import: state_dicts saved by torch.save (protocol 2 tensors; protocol 4 Parameters) start a run
# with --init-from: after one step at lr 1e-30 its parameters are the file's (a step moves none
# by more than lr); a seeded init is far from them. A misshapen, incomplete, over-full, truncated,
# legacy-format or code-carrying file is refused with one line naming the file (exit 2 or 3).
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
PY="${DCGAN_PYTHON:-python3}"
source "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"
check_py="$(dirname "${BASH_SOURCE[0]}")/export_check.py"
train="$BIN/dcgan-train"
export_="$BIN/dcgan-export"

"$BIN/dcgan-prep" pack --source synthetic --count 32 --size 64 --channels 3 --out "$tmp/d64" >/dev/null
"$BIN/dcgan-prep" pack --source synthetic --count 32 --size 32 --channels 1 --out "$tmp/d32" >/dev/null
common=(--ngf 8 --ndf 8 --batch-size 8 --log-every 1 --sample-every 100 --ckpt-every 100
        --device cpu --threads 1)
run_ok() {  # run_ok NAME -- command...
  local name="$1" rc=0; shift 2
  "$@" >"$tmp/$name.out" 2>&1 || rc=$?
  [ "$rc" = 0 ] || { cat "$tmp/$name.out"; fail "$name exited $rc"; }
}

# --- export ---
run_ok dcgan -- "$train" "${common[@]}" --data "$tmp/d64" --out "$tmp/r-dcgan" --steps 2
for model in ae vae; do
  run_ok "$model" -- "$train" "${common[@]}" --model "$model" --nz 16 --data "$tmp/d32" \
    --out "$tmp/r-$model" --steps 2
done
for model in dcgan ae vae; do
  run_ok "export-$model" -- "$export_" --ckpt "$tmp/r-$model" --out "$tmp/x-$model"
  "$PY" "$check_py" exported "$tmp/x-$model" || fail "$model export in PyTorch"
done
grep -q "wrote $tmp/x-dcgan/generator.pt: 25 tensors, 146032 parameters" "$tmp/export-dcgan.out" \
  || { cat "$tmp/export-dcgan.out"; fail "the generator's tensor and parameter counts"; }
expect 2 "x-dcgan/generator.pt exists HINT: --overwrite" -- "$export_" --ckpt "$tmp/r-dcgan" --out "$tmp/x-dcgan"
run_ok overwrite -- "$export_" --ckpt "$tmp/r-dcgan/checkpoints/step-000002" --out "$tmp/x-dcgan" --overwrite
expect 3 "no checkpoint at $tmp/none" -- "$export_" --ckpt "$tmp/none" --out "$tmp/x-none"

# The EMA generator (--ema-halflife-kimg): exported and checked like the others unless --no-ema;
# dcgan-sample draws with it unless --no-ema.
run_ok ema -- "$train" "${common[@]}" --data "$tmp/d64" --out "$tmp/r-ema" --steps 2 --ema-halflife-kimg 0.05
run_ok export-ema -- "$export_" --ckpt "$tmp/r-ema" --out "$tmp/x-ema"
[ -f "$tmp/x-ema/generator_ema.pt" ] || fail "no generator_ema.pt"
grep -q '"modules": \["generator", "discriminator", "generator_ema"\]' "$tmp/x-ema/model.json" || fail "model.json lists no EMA"
"$PY" "$check_py" exported "$tmp/x-ema" || fail "EMA export in PyTorch"
run_ok export-no-ema -- "$export_" --ckpt "$tmp/r-ema" --out "$tmp/x-no-ema" --no-ema
[ ! -e "$tmp/x-no-ema/generator_ema.pt" ] || fail "--no-ema exported the EMA"
run_ok sample-ema -- "$BIN/dcgan-sample" --ckpt "$tmp/r-ema" --out "$tmp/ema.png"
run_ok sample-raw -- "$BIN/dcgan-sample" --ckpt "$tmp/r-ema" --out "$tmp/raw.png" --no-ema
! cmp -s "$tmp/ema.png" "$tmp/raw.png" || fail "dcgan-sample drew the same grid with and without the EMA"

# --- import ---
init=(--lr 1e-30 --steps 1)
"$PY" "$check_py" save-init "$tmp/i-dcgan" dcgan 100 8 8 3 64 7 >/dev/null
run_ok init-dcgan -- "$train" "${common[@]}" --data "$tmp/d64" --out "$tmp/ri-dcgan" "${init[@]}" --init-from "$tmp/i-dcgan"
grep -q "initialised generator.pt, discriminator.pt from $tmp/i-dcgan" "$tmp/init-dcgan.out" || fail "no import line"
run_ok export-ri -- "$export_" --ckpt "$tmp/ri-dcgan" --out "$tmp/xi-dcgan"
"$PY" "$check_py" same-weights "$tmp/i-dcgan" "$tmp/xi-dcgan" 1e-25 || fail "the imported DCGAN weights"
# The check can fail: the seeded init of a run without --init-from is far from the file's.
run_ok plain -- "$train" "${common[@]}" --data "$tmp/d64" --out "$tmp/rp-dcgan" "${init[@]}"
run_ok export-rp -- "$export_" --ckpt "$tmp/rp-dcgan" --out "$tmp/xp-dcgan"
if "$PY" "$check_py" same-weights "$tmp/i-dcgan" "$tmp/xp-dcgan" 1e-3 >/dev/null; then
  fail "a seeded init matched the imported weights, so the import check proves nothing"
fi
# With --ema-halflife-kimg and no EMA file, the EMA starts at the imported generator.
run_ok init-ema -- "$train" "${common[@]}" --data "$tmp/d64" --out "$tmp/ri-ema" "${init[@]}" --init-from "$tmp/i-dcgan" --ema-halflife-kimg 1
run_ok export-ri-ema -- "$export_" --ckpt "$tmp/ri-ema" --out "$tmp/xi-ema"
mkdir "$tmp/xi-ema-only" && cp "$tmp/xi-ema/generator_ema.pt" "$tmp/xi-ema-only/generator.pt"
mkdir "$tmp/i-g-only" && cp "$tmp/i-dcgan/generator.pt" "$tmp/i-g-only/"
"$PY" "$check_py" same-weights "$tmp/i-g-only" "$tmp/xi-ema-only" 1e-25 || fail "the EMA did not start at the imported weights"
# Parameters (state_dict(keep_vars=True)) pickled with protocol 4, into a VAE.
"$PY" "$check_py" save-init "$tmp/i-vae" vae 16 8 8 1 32 3 --protocol 4 --keep-vars >/dev/null
run_ok init-vae -- "$train" "${common[@]}" --model vae --nz 16 --data "$tmp/d32" --out "$tmp/ri-vae" "${init[@]}" --init-from "$tmp/i-vae"
run_ok export-ri-vae -- "$export_" --ckpt "$tmp/ri-vae" --out "$tmp/xi-vae"
"$PY" "$check_py" same-weights "$tmp/i-vae" "$tmp/xi-vae" 1e-25 || fail "the imported VAE weights"

# --- refusals ---
bad() {  # bad CODE PATTERN DIR
  expect "$1" "$2" -- "$train" "${common[@]}" --data "$tmp/d64" --out "$tmp/rb-$RANDOM" --steps 1 --init-from "$3"
}
"$PY" "$check_py" save-init "$tmp/b-wide" dcgan 100 16 8 3 64 7 >/dev/null
bad 2 "--init-from $tmp/b-wide/generator.pt: tensor 'main.0.weight' has shape \[100, 128, 4, 4\] in the file but \[100, 64, 4, 4\] in the model" "$tmp/b-wide"
"$PY" "$check_py" save-init "$tmp/b-extra" dcgan 100 8 8 3 64 7 --extra >/dev/null
bad 2 "--init-from $tmp/b-extra/generator.pt: tensor 'main.99.weight' is not in the model" "$tmp/b-extra"
mkdir "$tmp/b-half" && cp "$tmp/i-dcgan/generator.pt" "$tmp/b-half/"
bad 2 "--init-from $tmp/b-half/discriminator.pt does not exist HINT: a dcgan run starts from generator.pt, discriminator.pt" "$tmp/b-half"
cp -r "$tmp/i-dcgan" "$tmp/b-cut" && head -c 20000 "$tmp/i-dcgan/generator.pt" >"$tmp/b-cut/generator.pt"
bad 3 "$tmp/b-cut/generator.pt: damaged archive" "$tmp/b-cut"
cp -r "$tmp/i-dcgan" "$tmp/b-legacy"
"$PY" -c "import torch, sys; torch.save(torch.load(sys.argv[1]), sys.argv[1], _use_new_zipfile_serialization=False)" "$tmp/b-legacy/generator.pt"
bad 3 "$tmp/b-legacy/generator.pt: not a zip-format torch.save file \(it is the legacy format\)" "$tmp/b-legacy"
cp -r "$tmp/i-dcgan" "$tmp/b-code"
"$PY" -c "import collections, torch, sys; s = torch.load(sys.argv[1]); s['x'] = collections.Counter(); torch.save(s, sys.argv[1])" "$tmp/b-code/generator.pt"
bad 3 "$tmp/b-code/generator.pt: global 'collections.Counter' is not allowed in a state_dict" "$tmp/b-code"
echo "test_export: ok"
