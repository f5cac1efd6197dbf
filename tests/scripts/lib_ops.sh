# Sourced by tests/scripts/test_ops_*.sh: tools, a scratch folder that is removed on exit, the
# processes a test started (and only those) stopped on exit, bounded waits, tiny data sets and
# a checkpoint comparison that loads the tensors.
# shellcheck shell=bash
set -uo pipefail

OPS_ROOT=${DCGAN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
OPS_BIN=${DCGAN_BIN_DIR:-$OPS_ROOT/build/bin}
OPS_PY=${DCGAN_PYTHON:-python3}
export DCGAN_BIN_DIR=$OPS_BIN OMP_NUM_THREADS=1
# Tiny and fast: 32x32 RGB, 8 feature maps, batch 8, one thread per rank, no periodic work.
OPS_TRAIN_ARGS=(--ngf 8 --ndf 8 --nz 16 --batch-size 8 --threads 1 --device cpu --log-every 1
                --sample-every 100000 --ckpt-every 100000 --check-every 0)
OPS_PIDS=()
OPS_FAILS=0

ops_fail() { echo "FAIL: $*"; OPS_FAILS=$((OPS_FAILS + 1)); }
ops_pass() { echo "ok: $*"; }
ops_check() {  # ops_check DESCRIPTION CMD...: passes when CMD succeeds
  local what=$1; shift
  if "$@"; then ops_pass "$what"; else ops_fail "$what"; fi
}
ops_finish() {
  if [ "$OPS_FAILS" = 0 ]; then echo "PASS"; exit 0; fi
  echo "$OPS_FAILS check(s) failed"; exit 1
}

ops_cleanup() {
  local pid
  for pid in "${OPS_PIDS[@]+"${OPS_PIDS[@]}"}"; do
    # The whole process group when the test made one (set -m), else the process.
    kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
  done
  [ -n "${OPS_SCRATCH:-}" ] && [ "${OPS_KEEP:-0}" != 1 ] && rm -rf "$OPS_SCRATCH"
  return 0
}

# ops_setup NAME: checks the tools and makes $OPS_SCRATCH.
# ops_backtraces DIR: gdb's backtrace of every core file under DIR. With `ulimit -c unlimited`
# in the shell that starts the ranks (Slurm passes the submitting shell's limits to its tasks)
# and the kernel's core_pattern "core", a rank that crashes leaves DIR/core or DIR/core.PID in
# its working directory; a drill that calls this on exit then shows where it crashed.
ops_backtraces() {
  local core
  while IFS= read -r core; do
    echo "---- $core"
    if command -v gdb >/dev/null; then
      gdb -q -batch -ex "info sharedlibrary" -ex "thread apply all bt 40" "$OPS_BIN/dcgan-train" \
        "$core" 2>&1 | grep -v "^\[New LWP\|^warning: " | tail -n 120
    else
      echo "(no gdb: apt-get install gdb for the backtrace)"
    fi
  done < <(find "$1" -maxdepth 4 -type f -regex '.*/core\(\.[0-9]+\)?' -size +0 2>/dev/null)
}

ops_setup() {
  local tool
  for tool in dcgan-train dcgan-prep; do
    [ -x "$OPS_BIN/$tool" ] || { echo "FAIL: $OPS_BIN/$tool is not built"; exit 1; }
  done
  OPS_SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/dcgan-$1.XXXXXX")
  trap ops_cleanup EXIT
}

# ops_wait SECONDS CMD...: polls CMD every 0.2 s; false when time runs out.
ops_wait() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

# ops_wait_exit PID SECONDS: waits for a child of this shell; sets OPS_RC (124 when it is
# still running at the deadline; the process is left to ops_cleanup).
ops_wait_exit() {
  local pid=$1 deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -ge "$deadline" ] && { OPS_RC=124; return 1; }
    sleep 0.2
  done
  wait "$pid"; OPS_RC=$?
}

# ops_mpirun NP CMD...: CMD on NP local ranks (oversubscribed; as root where the test runs as root).
ops_mpirun() {
  local np=$1; shift
  if [ "$(id -u)" = 0 ]; then set -- --allow-run-as-root "$@"; fi
  mpirun --oversubscribe -np "$np" "$@"
}

# ops_pack DIR COUNT: synthetic 32x32 RGB data set.
ops_pack() {
  "$OPS_BIN/dcgan-prep" pack --source synthetic --count "$2" --size 32 --channels 3 --out "$1" \
    > "$OPS_SCRATCH/pack.log" 2>&1 || { cat "$OPS_SCRATCH/pack.log"; echo "FAIL: pack"; exit 1; }
}

# Steps logged so far (rank 0 writes one metrics line per step with --log-every 1).
ops_steps_logged() { [ -f "$1/metrics.jsonl" ] && wc -l < "$1/metrics.jsonl" || echo 0; }
ops_has_steps() { [ "$(ops_steps_logged "$1")" -ge "$2" ]; }

# The step every rank reported stopping after ("stop signal: every rank stops after step N"),
# one line per rank log.
ops_stop_steps() { grep -ho 'every rank stops after step [0-9]*' "$1"/logs/rank-*.log | awk '{print $NF}'; }

# The step directory that checkpoints/latest points at.
ops_latest() {
  local c=$1/checkpoints
  if [ -L "$c/latest" ]; then readlink -f "$c/latest"
  elif [ -f "$c/latest" ]; then local name; name=$(tr -d '[:space:]' < "$c/latest"); echo "$c/${name##*/}"
  else return 1; fi
}

# ops_ckpt_complete DIR: every file of the checkpoint layout is there and non-empty.
ops_ckpt_complete() {
  local f
  for f in checkpoint.toml config.toml generator.pt discriminator.pt optim_g.pt optim_d.pt state.pt; do
    [ -s "$1/$f" ] || { echo "missing or empty: $1/$f"; return 1; }
  done
}

# ops_same_params A B: both checkpoints hold identical tensors (G, D, both Adam states), loaded
# and compared element by element in Python; prints the first difference.
ops_same_params() {
  "$OPS_PY" - "$1" "$2" <<'PYEOF'
import sys, zipfile, torch
a, b = sys.argv[1], sys.argv[2]

def storages(path):
    """The raw bytes of every tensor storage in a torch::save archive, by record name."""
    with zipfile.ZipFile(path) as z:
        return {n.split("/", 1)[1]: z.read(n) for n in z.namelist() if "/data/" in n}

ok = True
for f in ("generator.pt", "discriminator.pt"):
    # Modules: load them and compare every named parameter and buffer.
    sa = torch.jit.load(f"{a}/{f}", map_location="cpu").state_dict()
    sb = torch.jit.load(f"{b}/{f}", map_location="cpu").state_dict()
    bad = [k for k in sa if k not in sb or sa[k].shape != sb[k].shape or not torch.equal(sa[k], sb[k])]
    if not sa or bad or sorted(sa) != sorted(sb):
        k = bad[0] if bad else "(names)"
        print(f"{f}: {len(bad)} of {len(sa)} tensors differ, first {k}"); ok = False
    else:
        print(f"{f}: {len(sa)} tensors, {sum(t.numel() for t in sa.values())} values identical")
for f in ("optim_g.pt", "optim_d.pt"):
    # Adam state (step, exp_avg, exp_avg_sq per parameter). libtorch writes the per-parameter
    # states in hash-map order, which differs between processes, so compare the storages as a
    # multiset of byte strings; the trainer's ordered fingerprint is compared below.
    ra, rb = storages(f"{a}/{f}"), storages(f"{b}/{f}")
    if not ra or sorted(ra.values()) != sorted(rb.values()):
        same = sum(1 for v in ra.values() if v in set(rb.values()))
        print(f"{f}: {len(ra) - same} of {len(ra)} storages have no identical counterpart"); ok = False
    else:
        print(f"{f}: {len(ra)} storages, {sum(len(v) for v in ra.values())} bytes identical")
def fingerprints(d):
    with open(f"{d}/checkpoint.toml") as fh:
        return sorted(l.strip() for l in fh if l.startswith("fingerprint_"))
fa, fb = fingerprints(a), fingerprints(b)
if len(fa) < 4 or fa != fb:
    print(f"checkpoint.toml fingerprints differ: {fa} vs {fb}"); ok = False
else:
    print(f"checkpoint.toml: {len(fa)} fingerprints equal")
sys.exit(0 if ok else 1)
PYEOF
}
