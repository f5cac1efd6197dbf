#!/usr/bin/env bash
# What each phase of a training run takes: the figures behind the two deadlines of Note
# [Deadlines by phase] (include/dcgan/distributed/communicator.h). NP CPU ranks train the drills'
# tiny nets (32x32, 8 feature maps, batch 8 per rank, one thread per rank) through
# launch/train.sh, with a checkpoint every --ckpt-every steps and FD every --eval-every steps,
# and the script reads rank 0's log (RUN/logs/rank-0.log, --verbose):
#   start       the launch to the first step's line (MPI, data, models, FD's real statistics)
#   step        the time per step between metrics lines that hold no checkpoint and no FD
#   checkpoint  rank 0's write ("checkpoint DIR (S s)")
#   FD          one measurement ("FD of step N took S s")
#   end         the last metrics line to the launcher's exit (samples, the last checkpoint)
# Prints the median and the largest of each beside the deadline that covers it and the margin
# (deadline / largest). Exit: 0 printed, 1 the run failed, 2 usage error.
#
#   bench/phases.sh [--np 4] [--steps 400] [--ckpt-every 100] [--eval-every 100] [--work DIR]
#                   [-- extra dcgan-train flags, e.g. --step-timeout 60 --comm-timeout 600]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../launch/common.sh"
source "$here/../tests/scripts/lib_ops.sh"
set -e

np=4 steps=400 ckpt_every=100 eval_every=100 work="" extra=()
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
die_usage() { echo "phases.sh: error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --np) np=${2:?}; shift 2 ;;
    --steps) steps=${2:?}; shift 2 ;;
    --ckpt-every) ckpt_every=${2:?}; shift 2 ;;
    --eval-every) eval_every=${2:?}; shift 2 ;;
    --work) work=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) die_usage "unknown option '$1' (see --help)" ;;
  esac
done
for v in "$np" "$steps" "$ckpt_every" "$eval_every"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die_usage "--np, --steps, --ckpt-every and --eval-every take a positive integer (got '$v')"
done
(( eval_every % 10 == 0 )) || die_usage "--eval-every must be a multiple of the log period, 10"
py=${DCGAN_PYTHON:-$DCGAN_VENV/bin/python}
[ -x "$OPS_BIN/dcgan-train" ] || dcgan_die "$OPS_BIN/dcgan-train is not built; HINT: cmake --build $DCGAN_BUILD_DIR --target dcgan-train dcgan-prep"
own_work=0
if [ -z "$work" ]; then work=$(mktemp -d); own_work=1; fi
trap '[ "$own_work" = 1 ] && rm -rf "$work"' EXIT
OPS_PY=$py OPS_SCRATCH=$work
mkdir -p "$work"

ops_pack "$work/data" 1024
"$py" "$here/../tests/scripts/eval_features.py" "$work/features.pt" 3
launched=$(date +%s.%N)
if ! "$DCGAN_ROOT/launch/train.sh" --np "$np" -- --data "$work/data" --out "$work/run" \
    --ngf 8 --ndf 8 --nz 16 --batch-size 8 --threads 1 --device cpu --backend mpi \
    --steps "$steps" --log-every 10 --ckpt-every "$ckpt_every" --keep 2 --sample-every 100000 \
    --eval-every "$eval_every" --eval-features "$work/features.pt" --eval-samples 64 --verbose \
    "${extra[@]+"${extra[@]}"}" >"$work/train.out" 2>&1; then
  tail -n 20 "$work/train.out"
  echo "phases.sh: the run failed (its output: $work/train.out)" >&2
  own_work=0
  exit 1
fi
ended=$(date +%s.%N)

"$py" - "$work/run/logs/rank-0.log" "$launched" "$ended" "$np" "$work/run/config.toml" <<'EOF'
import datetime, re, statistics, sys
log, launched, ended, np_, config = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
stamp = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) ")
def seconds(line):
    m = stamp.match(line)
    return datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp() if m else None
steps, ckpts, fds, lines, busy = [], [], [], [], set()  # lines: metrics lines' times
for line in open(log):
    t = seconds(line)
    if t is None:
        continue
    # A checkpoint or an FD measurement follows its step's metrics line (FD is computed before
    # it): the intervals on both sides of that line are not plain steps.
    if m := re.search(r" checkpoint \S+ \(([\d.]+) s\)$", line):
        ckpts.append(float(m.group(1))); busy |= {len(lines) - 1, len(lines)}
    elif m := re.search(r" FD of step \d+ took ([\d.]+) s$", line):
        fds.append(float(m.group(1))); busy |= {len(lines) - 1, len(lines)}
    elif re.search(r"\]\[\d+/\d+\]", line):  # a metrics line: [epoch/E][batch/B]
        lines.append(t)
if len(lines) < 3:
    sys.exit(f"phases.sh: fewer than 3 metrics lines in {log}")
deadlines = dict(re.findall(r"^(step-timeout|comm-timeout) *= *(\d+)", open(config).read(), re.M))
step_s, comm_s = int(deadlines.get("step-timeout", 60)), int(deadlines.get("comm-timeout", 600))
step_s = min(step_s, comm_s)
# Each metrics line after the first ends 10 steps (--log-every 10).
for i in range(1, len(lines)):
    if i not in busy:
        steps.append((lines[i] - lines[i - 1]) / 10)
rows = [("start", [lines[0] - launched], comm_s, "comm"),
        ("step", steps, step_s, "step"),
        ("checkpoint", ckpts, comm_s, "comm"),
        ("FD", fds, comm_s, "comm"),
        ("end", [ended - lines[-1]], comm_s, "comm")]
print(f"{np_} CPU ranks, the drills' nets; deadlines --step-timeout {step_s} s, --comm-timeout {comm_s} s")
print(f"{'phase':<12}{'n':>5}{'median s':>11}{'largest s':>11}{'deadline s':>12}{'margin':>10}")
for name, values, deadline, _ in rows:
    if not values:
        print(f"{name:<12}{0:>5}{'-':>11}{'-':>11}{deadline:>12}{'-':>10}"); continue
    largest = max(values)
    print(f"{name:<12}{len(values):>5}{statistics.median(values):>11.3f}{largest:>11.3f}"
          f"{deadline:>12}{deadline / max(largest, 1e-3):>9.0f}x")
EOF
