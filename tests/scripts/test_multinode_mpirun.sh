#!/usr/bin/env bash
# Two simulated hosts (tests/scripts/lib_hosts.sh) x 2 ranks, MPI over TCP between them, started
# by launch/train.sh --hostfile as a user would: the parameters end bit-identical to 4 ranks on
# one host (checkpoint fingerprints), and each rank's log starts with its placement (host, rank,
# local rank of the host's 2, device, backend). Then a run directory that host 2 does not see (a
# private tmpfs over it there) is refused at start, before any training, naming the rank, its
# host and the reason, with exit 2.
set -euo pipefail
BIN="${DCGAN_BIN_DIR:?set by ctest}"
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/lib_cli.sh"
source "$here/lib_hosts.sh"
source "$here/../../launch/common.sh"
hosts_up 2
train_sh="$here/../../launch/train.sh"

"$BIN/dcgan-prep" pack --source synthetic --count 64 --size 32 --channels 3 --out "$tmp/data" >/dev/null 2>&1
args=(--data "$tmp/data" --nz 16 --ngf 8 --ndf 8 --batch-size 4 --steps 6 --log-every 2 --sample-every 6
      --ckpt-every 6 --device cpu --threads 1 --backend mpi --comm-timeout 60)

# The reference: 4 ranks on this host.
dcgan_mpirun -np 4 "$BIN/dcgan-train" "${args[@]}" --out "$tmp/one" >"$tmp/one.out" 2>&1 \
  || { cat "$tmp/one.out"; fail "4 ranks on one host"; }

printf '%s slots=2\n%s slots=2\n' "$HOST_PREFIX-1" "$HOST_PREFIX-2" >"$tmp/hostfile"
hosts_mpi_env
export DCGAN_BIN_DIR="$BIN"
host_run 1 timeout 300 "$train_sh" --np 4 --hostfile "$tmp/hostfile" -- "${args[@]}" --out "$tmp/two" \
  >"$tmp/two.out" 2>&1 || { cat "$tmp/two.out"; fail "2 hosts x 2 ranks"; }

fingerprints() { grep -E '^fingerprint_' "$1/checkpoints/step-000006/checkpoint.toml"; }
[ -n "$(fingerprints "$tmp/one")" ] || fail "no fingerprints"
[ "$(fingerprints "$tmp/one")" = "$(fingerprints "$tmp/two")" ] \
  || { diff <(fingerprints "$tmp/one") <(fingerprints "$tmp/two"); fail "2 hosts differ from 1 host"; }
for r in 0 1 2 3; do
  host="$HOST_PREFIX-$(( r / 2 + 1 ))"
  first=$(grep -m1 "placement" "$tmp/two/logs/rank-$r.log" || true)
  grep -q "placement: host $host, rank $r of 4, local rank $(( r % 2 )) of 2, device cpu, backend mpi" <<<"$first" \
    || { cat "$tmp/two/logs/rank-$r.log" | head -5; fail "rank $r's placement line"; }
  head -1 "$tmp/two/logs/rank-$r.log" | grep -q "placement: " || fail "rank $r's log does not start with its placement"
done

# Host 2 does not see the run directory.
mkdir -p "$tmp/unshared"
rc=0
HOSTS_PRIVATE_TMPFS="2:$tmp/unshared" host_run 1 timeout 120 "$train_sh" --np 4 --hostfile "$tmp/hostfile" -- \
  "${args[@]}" --out "$tmp/unshared" >"$tmp/unshared.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || { cat "$tmp/unshared.out"; fail "an unshared run directory exited $rc, expected 2"; }
grep -qE "rank [23] on host $HOST_PREFIX-2 does not see the run directory $tmp/unshared that rank 0 writes \(no $tmp/unshared/logs/run-token\) HINT: the run directory must be on a file system every node sees" \
  "$tmp/unshared.out" || { cat "$tmp/unshared.out"; fail "the refusal's message"; }
[ ! -e "$tmp/unshared/metrics.jsonl" ] && [ -z "$(ls -A "$tmp/unshared/checkpoints" 2>/dev/null)" ] \
  || fail "training started in an unshared run directory"
echo "test_multinode_mpirun: ok"
