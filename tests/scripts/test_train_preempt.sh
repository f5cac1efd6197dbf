#!/usr/bin/env bash
# Preemption drill, for the DCGAN and the VAE: SIGUSR1 to a 2-rank mpirun run. Both ranks stop at
# the same step, the checkpoint is complete, the exit code is 75, and the resumed run ends
# bit-identical (checkpoint fingerprints) to an uninterrupted run of the same length. The third
# drill reads the stop flag only every 3 steps (--sync-every 3): the ranks stop at a multiple of 3.
set -euo pipefail
source "${DCGAN_SOURCE_DIR:?set by ctest}/launch/common.sh"
BIN="${DCGAN_BIN_DIR:?set by ctest}"
tmp="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN/dcgan-prep" pack --source synthetic --count 64 --size 32 --channels 3 --out "$tmp/data" >/dev/null
common=(--data "$tmp/data" --nz 16 --ngf 8 --ndf 8 --batch-size 4 --sample-every 1000
        --ckpt-every 1000 --device cpu --threads 1)

# drill MODEL SYNC-EVERY CHECKPOINT-FILES...
drill() {
  local model="$1" sync="$2"
  shift 2
  local run="$tmp/$model-$sync-run" straight="$tmp/$model-$sync-straight"
  local flags=(--model "$model" --sync-every "$sync")
  if [ "$sync" = 1 ]; then flags+=(--log-every 2); else flags+=(--log-every 9); fi
  # mpirun itself in the background (not the dcgan_mpirun function, whose subshell would take the
  # signal): mpirun forwards SIGUSR1 to the ranks.
  mpi_flags=(--oversubscribe)
  [ "$(id -u)" = 0 ] && mpi_flags+=(--allow-run-as-root)
  mpirun "${mpi_flags[@]}" -np 2 "$BIN/dcgan-train" "${common[@]}" "${flags[@]}" --out "$run" --steps 100000 >"$run.out" 2>&1 &
  pid=$!
  for _ in $(seq 600); do  # wait for a few logged steps (at most 60 s)
    [ -f "$run/metrics.jsonl" ] && [ "$(grep -c . "$run/metrics.jsonl")" -ge 3 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -f "$run/metrics.jsonl" ] || { cat "$run.out"; fail "$model: the run did not start"; }
  kill -USR1 "$pid"
  rc=0
  wait "$pid" || rc=$?
  pid=""
  [ "$rc" = 75 ] || { cat "$run.out"; fail "$model: exit code $rc, expected 75"; }

  # Both ranks stopped after the same step, and that step's checkpoint is complete.
  s0="$(grep -o 'every rank stops after step [0-9]*' "$run/logs/rank-0.log" | grep -o '[0-9]*$')"
  s1="$(grep -o 'every rank stops after step [0-9]*' "$run/logs/rank-1.log" | grep -o '[0-9]*$')"
  [ -n "$s0" ] && [ "$s0" = "$s1" ] || fail "$model: ranks stopped at '$s0' and '$s1'"
  [ $((s0 % sync)) = 0 ] || fail "$model: stopped after step $s0, not a multiple of --sync-every $sync"
  ckpt="$run/checkpoints/$(cat "$run/checkpoints/latest")"
  grep -q "^step = $s0$" "$ckpt/checkpoint.toml" || fail "$model: latest checkpoint is not step $s0"
  for f in "$@" state.pt config.toml; do
    [ -s "$ckpt/$f" ] || fail "$model: checkpoint lacks $f"
  done

  # Resume to s0+4 under 2 ranks == 2 ranks straight to s0+4.
  end=$((s0 + 4))
  dcgan_mpirun -np 2 "$BIN/dcgan-train" "${common[@]}" "${flags[@]}" --out "$run" --steps "$end" --resume >"$run.resume.out" 2>&1 \
    || { cat "$run.resume.out"; fail "$model: resume"; }
  dcgan_mpirun -np 2 "$BIN/dcgan-train" "${common[@]}" "${flags[@]}" --out "$straight" --steps "$end" >"$straight.out" 2>&1 \
    || { cat "$straight.out"; fail "$model: straight run"; }
  name="$(printf 'step-%06d' "$end")"
  [ "$(grep -c '^fingerprint_' "$straight/checkpoints/$name/checkpoint.toml")" -ge 3 ] \
    || fail "$model: no fingerprints to compare"
  diff <(grep fingerprint "$run/checkpoints/$name/checkpoint.toml") \
       <(grep fingerprint "$straight/checkpoints/$name/checkpoint.toml") || fail "$model: resumed run differs from the straight run"
  echo "$model (--sync-every $sync): stopped at step $s0"
}

drill dcgan 1 generator.pt discriminator.pt optim_g.pt optim_d.pt
drill vae 1 encoder.pt decoder.pt optim_vae.pt
drill dcgan 3 generator.pt discriminator.pt optim_g.pt optim_d.pt
echo "test_train_preempt: ok"
