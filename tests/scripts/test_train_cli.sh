#!/usr/bin/env bash
# dcgan-train at the command line (one rank, CPU): --help, exit codes of bad usage and data, a
# short run's files, --resume continuing bit-identically, --config from a run's config.toml, a
# resume with other shapes refused, libtorch's Adam against the fused default, and a diverging run
# (--lr 1e30) failing or skipping at the deferred host read.
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
PY="${DCGAN_PYTHON:-python3}"
source "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"
train="$BIN/dcgan-train"

# --help lists every option: the tool's own, and every key a run writes into config.toml (the
# options' one list, for_each_field), read from a run below, so this list cannot drift.
"$train" --help >"$tmp/help"
for opt in --config --resume --overwrite --benchmark --lock-wait; do
  grep -qE -- "^ +$opt( |=|,|$)" "$tmp/help" || fail "--help does not document $opt"
done
grep -qE -- "--batch-size INT=128 " "$tmp/help" || fail "--help does not show --batch-size's default"
grep -qE -- "--beta2 FLOAT=0.999 " "$tmp/help" || fail "--help does not show --beta2's default"
grep -qE -- "--lr FLOAT=by-model .*dcgan 2e-4 \(the tutorial\), ae and vae 1e-3" "$tmp/help" \
  || fail "--help does not state the per-model lr rule"
grep -qE -- "--model TEXT:\{dcgan,ae,vae\}=dcgan( |$)" "$tmp/help" || fail "--help does not show --model's choices"
grep -q "Exit codes: 0 ok, 1 runtime failure, 2 usage/config error, 3 data error, 75 preempted" "$tmp/help" \
  || fail "--help does not list the exit codes"

# Usage errors exit 2, data errors 3.
expect 2 "--data is required" -- "$train" --out "$tmp/x"
expect 2 "--batch-size must be positive, got 0" -- "$train" --data "$tmp/none" --out "$tmp/x" --batch-size 0
expect 2 "device" -- "$train" --data "$tmp/none" --out "$tmp/x" --device gpu
expect 3 "error: .*$tmp/none" -- "$train" --data "$tmp/none" --out "$tmp/x" --device cpu

"$BIN/dcgan-prep" pack --source synthetic --count 64 --size 32 --channels 3 --out "$tmp/data" >/dev/null
common=(--data "$tmp/data" --nz 16 --ngf 8 --ndf 8 --batch-size 8 --log-every 2 --sample-every 4
        --ckpt-every 4 --device cpu --threads 1)

# A straight 8-step run and its files.
"$train" "${common[@]}" --out "$tmp/straight" --steps 8 >"$tmp/straight.out" 2>&1 || { cat "$tmp/straight.out"; fail "straight run"; }
for f in config.toml metrics.jsonl samples/real.png samples/step-000004.png samples/step-000008.png \
         logs/rank-0.log checkpoints/latest checkpoints/step-000008/generator.pt \
         checkpoints/step-000008/discriminator.pt checkpoints/step-000008/optim_g.pt \
         checkpoints/step-000008/optim_d.pt checkpoints/step-000008/state.pt \
         checkpoints/step-000008/config.toml checkpoints/step-000008/checkpoint.toml; do
  [ -s "$tmp/straight/$f" ] || fail "missing $f"
done
grep -qP '\[0/1\]\[1/8\]\tLoss_D: \d+\.\d{4}\tLoss_G: \d+\.\d{4}\tD\(x\): \d\.\d{4}\tD\(G\(z\)\): \d\.\d{4} / \d\.\d{4}' \
  "$tmp/straight/logs/rank-0.log" || fail "no tutorial console line in the log"
keys=$(sed -n '/^\[/q; s/^\([a-z0-9-]*\) = .*/\1/p' "$tmp/straight/config.toml")
[ "$(echo "$keys" | wc -w)" -ge 45 ] || fail "config.toml holds only $(echo "$keys" | wc -w) options"
for key in $keys; do
  grep -qE -- "^ +--$key( |=|,|$)" "$tmp/help" || fail "--help does not document --$key (a config.toml key)"
done
# An option given twice takes its last value (a script appends overrides to a base command).
"$train" "${common[@]}" --out "$tmp/twice" --steps 1 --batch-size 4 --log-every 1 --ckpt-every 1 \
  --sample-every 1 --batch-size 2 >"$tmp/twice.out" 2>&1 || { cat "$tmp/twice.out"; fail "an option given twice"; }
grep -qx "batch-size = 2" "$tmp/twice/config.toml" || fail "the last --batch-size did not win: $(grep batch-size "$tmp/twice/config.toml")"
"$PY" - "$tmp/straight/metrics.jsonl" <<'PYEOF' || fail "metrics.jsonl"
import json, math, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
keys = ["epoch", "step", "loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2", "images_per_s", "lr_d", "lr_g"]
assert [r["step"] for r in rows] == [2, 4, 6, 8], rows
for r in rows:
    assert list(r) == keys, list(r)
    assert all(isinstance(r[k], (int, float)) and math.isfinite(r[k]) for k in keys), r
    assert 0 < r["d_x"] < 1 and r["images_per_s"] > 0 and r["lr_d"] == 2e-4, r
PYEOF

# 4 steps, then --resume (no value: the run's latest) to 8: the same state as the straight run.
"$train" "${common[@]}" --out "$tmp/resumed" --steps 4 >/dev/null 2>&1 || fail "first half"
"$train" "${common[@]}" --out "$tmp/resumed" --steps 8 --resume >"$tmp/resume.out" 2>&1 || { cat "$tmp/resume.out"; fail "resume"; }
grep -q "resumed from .*step-000004 at step 4" "$tmp/resumed/logs/rank-0.log" || fail "no resume line"
diff <(grep fingerprint "$tmp/straight/checkpoints/step-000008/checkpoint.toml") \
     <(grep fingerprint "$tmp/resumed/checkpoints/step-000008/checkpoint.toml") || fail "resumed run differs"
[ "$(grep -c . "$tmp/resumed/metrics.jsonl")" = 4 ] || fail "resumed metrics.jsonl should have 4 lines"

# A run's config.toml is a --config file; flags given as well override it.
"$train" --config "$tmp/straight/config.toml" --out "$tmp/fromconfig" --steps 2 >/dev/null 2>&1 || fail "--config run"
grep -q '^ngf = 8$' "$tmp/fromconfig/config.toml" || fail "--config did not set ngf"
grep -q '^steps = 2$' "$tmp/fromconfig/config.toml" || fail "flag did not override --config"

# Per-model defaults, resolved into config.toml: the tutorial's for dcgan, lr 1e-3 and beta1 0.9
# for ae and vae; a flag given wins.
"$train" "${common[@]}" --model vae --out "$tmp/vae" --steps 2 >/dev/null 2>&1 || fail "vae run"
"$train" "${common[@]}" --model ae --lr 0.0005 --out "$tmp/ae" --steps 2 >/dev/null 2>&1 || fail "ae run"
"$PY" - "$tmp" <<'PYEOF' || fail "per-model defaults in config.toml"
import sys, tomllib
def config(run):
    with open(f"{sys.argv[1]}/{run}/config.toml", "rb") as f:
        return tomllib.load(f)
for run, model, lr, beta1 in (("straight", "dcgan", 2e-4, 0.5), ("vae", "vae", 1e-3, 0.9),
                              ("ae", "ae", 5e-4, 0.9)):
    c = config(run)
    assert (c["model"], c["lr"], c["beta1"], c["beta2"]) == (model, lr, beta1, 0.999), (run, c)
PYEOF

# Resuming with other shapes is refused (exit 2), naming the mismatch.
expect 2 "ngf is 8 in the checkpoint but 16 now" -- "$train" --data "$tmp/data" --nz 16 --ngf 16 --ndf 8 \
  --batch-size 8 --device cpu --out "$tmp/straight" --steps 10 --resume

# --optimizer torch (libtorch's loop) follows the fused default within float noise, and resumes
# the fused run's checkpoint.
"$train" "${common[@]}" --optimizer torch --out "$tmp/torchadam" --steps 8 >/dev/null 2>&1 || fail "--optimizer torch run"
"$PY" - "$tmp/straight/metrics.jsonl" "$tmp/torchadam/metrics.jsonl" <<'PYEOF' || fail "--optimizer torch differs from fused"
import json, sys
fused, torch_adam = ([json.loads(line) for line in open(path)] for path in sys.argv[1:])
assert [r["step"] for r in torch_adam] == [2, 4, 6, 8], torch_adam
for a, b in zip(fused, torch_adam):
    for k in ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2"):
        assert abs(a[k] - b[k]) <= 1e-4 * abs(a[k]), (k, a, b)
PYEOF
grep -q "^optimizer = 'torch'$" "$tmp/torchadam/config.toml" || fail "config.toml lacks optimizer = torch"
"$train" "${common[@]}" --optimizer torch --out "$tmp/resumed" --steps 10 --resume >/dev/null 2>&1 \
  || fail "--optimizer torch did not resume a fused checkpoint"

# bf16 autocast with channels-last trains (finite, logged losses near the fp32 run's), is recorded
# in config.toml and the checkpoint, and a run resumes across a change of layout and precision.
"$train" "${common[@]}" --precision bf16 --channels-last --out "$tmp/bf16" --steps 8 >/dev/null 2>&1 || fail "bf16 run"
grep -q "^precision = 'bf16'$" "$tmp/bf16/config.toml" || fail "config.toml lacks precision = bf16"
grep -q "^channels-last = true$" "$tmp/bf16/checkpoints/step-000008/config.toml" || fail "the checkpoint lacks channels-last"
"$PY" - "$tmp/straight/metrics.jsonl" "$tmp/bf16/metrics.jsonl" <<'PYEOF' || fail "bf16 losses"
import json, sys
fp32, bf16 = ([json.loads(line) for line in open(path)] for path in sys.argv[1:])
assert [r["step"] for r in bf16] == [2, 4, 6, 8], bf16
for a, b in zip(fp32, bf16):
    for k in ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2"):
        assert abs(a[k] - b[k]) <= 0.05 * abs(a[k]) + 0.01, (k, a, b)
PYEOF
"$train" "${common[@]}" --out "$tmp/bf16" --steps 10 --resume >/dev/null 2>&1 || fail "fp32 NCHW resume of a bf16 channels-last run"

# A diverging run: D's first update at lr 1e30 makes G's loss NaN at step 1. The update is never
# applied, and the run fails at the next host read (every 4 steps here) naming the first bad step;
# with --sync-every 1 it names the loss. No checkpoint of a diverged model is written.
nan=(--data "$tmp/data" --nz 16 --ngf 8 --ndf 8 --batch-size 8 --device cpu --threads 1 --lr 1e30 --steps 12)
expect 1 "error: non-finite loss or gradient in G at step 1 \(seen at the check after step 4\); the update was not applied" \
  -- "$train" "${nan[@]}" --sync-every 4 --out "$tmp/nan4"
[ -z "$(ls "$tmp/nan4/checkpoints")" ] || fail "a diverged run wrote a checkpoint"
expect 1 "error: non-finite loss_g = nan at step 1; the update was not applied" -- "$train" "${nan[@]}" --sync-every 1 --out "$tmp/nan1"
# --on-nan skip: every update skipped on the device and counted at each read; the run completes.
"$train" "${nan[@]}" --sync-every 4 --on-nan skip --out "$tmp/nanskip" >"$tmp/nanskip.out" 2>&1 || { cat "$tmp/nanskip.out"; fail "--on-nan skip run"; }
grep -q "step 4: 4 updates of G skipped on every rank since the last check (first at step 1)" "$tmp/nanskip.out" \
  || { cat "$tmp/nanskip.out"; fail "no skip report at step 4"; }
grep -q "step 12: 4 updates of G skipped on every rank since the last check (first at step 9)" "$tmp/nanskip.out" \
  || fail "no skip report at step 12"
expect 2 "--sync-every must not be negative" -- "$train" "${common[@]}" --out "$tmp/x" --sync-every -1

# --cuda-graph is refused where it cannot run: without the data on the device, then on the CPU.
expect 2 "--cuda-graph needs --data-on-device" -- "$train" "${common[@]}" --out "$tmp/g1" --steps 2 --cuda-graph
expect 2 "--cuda-graph needs a CUDA device; this rank trains on cpu" -- "$train" "${common[@]}" \
  --out "$tmp/g2" --steps 2 --cuda-graph --data-on-device
expect 2 "--cuda-graph needs --optimizer fused" -- "$train" "${common[@]}" --out "$tmp/g3" --steps 2 \
  --cuda-graph --data-on-device --optimizer torch

# --benchmark 4: 5 warm-up steps, 4 timed, 4 with the phases; the table and the machine-readable
# line (one rank waits for no collective; c10's sync count is for CUDA), the FLOP floor of this
# net, and no run files.
"$train" "${common[@]}" --out "$tmp/bench" --benchmark 4 >"$tmp/bench.out" 2>&1 || { cat "$tmp/bench.out"; fail "--benchmark"; }
grep -qE "benchmark: img_s=[0-9.]+ step_ms=[0-9.]+ tflops=[0-9.]+ share=[0-9.]+ peak_mib=[0-9.]+ host_waits_per_step=0.00 c10_syncs_per_step=n/a ms_data=[0-9.]+ ms_D=[0-9.]+ ms_G=[0-9.]+ ms_all-reduce=[0-9.]+ ms_optimizer=[0-9.]+ ms_other=[0-9.]+" "$tmp/bench.out" \
  || { cat "$tmp/bench.out"; fail "no benchmark line"; }
grep -qE "FLOP per image \(floor\) +0\.0[0-9]+ G" "$tmp/bench.out" || fail "no FLOP floor in the table"
for f in metrics.jsonl config.toml checkpoints samples; do
  [ ! -e "$tmp/bench/$f" ] || fail "--benchmark wrote $f"
done

# --time-limit: every rank stops at the first sync point after the limit, with the samples and a
# checkpoint of that step, and exit 0; --resume continues towards --steps.
"$train" "${common[@]}" --out "$tmp/limit" --steps 100000 --time-limit 1 >"$tmp/limit.out" 2>&1 || { cat "$tmp/limit.out"; fail "--time-limit"; }
stopped=$(sed -n 's/.*--time-limit 1 s reached: every rank stops after step \([0-9]*\) of 100000.*/\1/p' "$tmp/limit.out")
[ -n "$stopped" ] && [ "$stopped" -gt 0 ] && [ "$stopped" -lt 100000 ] || { cat "$tmp/limit.out"; fail "no time-limit stop"; }
[ "$(cat "$tmp/limit/checkpoints/latest")" = "$(printf 'step-%06d' "$stopped")" ] || fail "no checkpoint at step $stopped"
[ -s "$tmp/limit/samples/$(printf 'step-%06d' "$stopped").png" ] || fail "no sample grid at step $stopped"
echo "test_train_cli: ok"
