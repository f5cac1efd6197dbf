#!/usr/bin/env bash
# The CUDA half in its own library (include/dcgan/common/cuda_library.h), end to end:
# - no tool links libtorch_cuda, cuBLAS, cuDNN or NCCL; libdcgan_cuda.so does;
# - every program that can open it exports each of the project's symbols it binds to, so that it
#   opens on a GPU machine too (a missing one would fail there as "undefined symbol");
# - a CPU run, with --device cpu and with the default auto on a machine without a CUDA driver,
#   loads none of it (the loader's own trace, LD_DEBUG=files);
# - --device cuda opens it and, without a GPU, ends with the documented usage error (exit 2).
# Exits 77 (a skip) where torch has no CUDA, so there is no library.
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
source "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"
lib=$BIN/libdcgan_cuda.so
[ -f "$lib" ] || { echo "SKIP: no $lib (this build's torch has no CUDA)"; exit 77; }

# --- what links what ---------------------------------------------------------------------------
needed() { readelf -d "$1" | awk '/NEEDED/ {gsub(/[][]/, "", $NF); print $NF}'; }
for tool in dcgan-train dcgan-eval dcgan-sample dcgan-export dcgan-prep; do
  if needed "$BIN/$tool" | grep -E '^lib(torch_cuda|c10_cuda|cudart|cublas|cublasLt|cudnn|nccl)\.so'; then
    fail "$tool links a CUDA library itself"
  fi
done
for want in libtorch_cuda.so libc10_cuda.so libnccl.so.2; do
  needed "$lib" | grep -qx "$want" || fail "libdcgan_cuda.so does not link $want"
done

# --- every opener exports what the library binds to ---------------------------------------------
nm -D --undefined-only "$lib" | awk '{print $2}' | grep -E '^_Z(N|TI|TV|TS)+5dcgan' | sort -u > "$tmp/wanted"
[ "$(wc -l < "$tmp/wanted")" -ge 5 ] || fail "libdcgan_cuda.so binds to $(wc -l < "$tmp/wanted") project symbols; the list looks wrong"
openers=0
for exe in "$BIN"/*; do
  [ -x "$exe" ] && [ -f "$exe" ] && [[ "$exe" != *.so ]] || continue
  head -c 4 "$exe" | grep -q ELF || continue
  nm -D --defined-only "$exe" 2>/dev/null | awk '{print $3}' | sort -u > "$tmp/has"
  grep -qx '_ZN5dcgan12cuda_library4loadEv' "$tmp/has" || continue  # never opens it
  missing=$(comm -23 "$tmp/wanted" "$tmp/has")
  [ -z "$missing" ] || fail "$(basename "$exe") opens libdcgan_cuda.so but does not export: $(echo "$missing" | c++filt | tr '\n' ';')"
  openers=$((openers + 1))
done
[ "$openers" -ge 3 ] || fail "only $openers programs open the library; dcgan-train, dcgan-eval and test_train should"
echo "$openers programs open libdcgan_cuda.so; each exports the $(wc -l < "$tmp/wanted") project symbols it binds to"

# --- a CPU run loads none of it; --device cuda opens it ------------------------------------------
"$BIN/dcgan-prep" pack --source synthetic --count 32 --size 32 --channels 1 --out "$tmp/data" >/dev/null
train() {  # train OUT DEVICE: 2 steps, the loader's trace in OUT.ld
  LD_DEBUG=files LD_DEBUG_OUTPUT="$tmp/$1.ld" "$BIN/dcgan-train" --data "$tmp/data" --out "$tmp/$1" \
    --nz 16 --ngf 8 --ndf 8 --batch-size 8 --steps 2 --log-every 1 --device "$2" --threads 1
}
loaded_cuda() { cat "$tmp/$1".ld.* 2>/dev/null | grep -E 'file=[^ ]*(libdcgan_cuda|libtorch_cuda|libcublasLt)\.so' | head -n 3; }
driver=0  # a CUDA driver here: auto would choose it, and cuda would find a device
cuda_driver_here && driver=1
devices=(cpu)
[ "$driver" = 1 ] || devices+=(auto)
for device in "${devices[@]}"; do
  train "run-$device" "$device" >"$tmp/run-$device.out" 2>&1 || { cat "$tmp/run-$device.out"; fail "--device $device"; }
  ls "$tmp/run-$device".ld.* >/dev/null 2>&1 || fail "LD_DEBUG left no trace for --device $device"
  [ -z "$(loaded_cuda "run-$device")" ] || fail "--device $device loaded: $(loaded_cuda "run-$device")"
done
echo "--device ${devices[*]}: trained on the CPU without loading libdcgan_cuda, libtorch_cuda or cuBLAS"

if [ "$driver" = 0 ]; then  # no driver here, hence no GPU
  expect 2 "dcgan-train: error: --device cuda: no CUDA device is visible HINT: use --device cpu or auto" \
    -- train run-cuda cuda
  [ -n "$(loaded_cuda run-cuda)" ] || fail "--device cuda did not open the CUDA library"
  echo "--device cuda: opened libdcgan_cuda.so and libtorch_cuda, then exit 2 (no device)"
fi
echo "test_cuda_library: ok"
