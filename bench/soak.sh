#!/usr/bin/env bash
# Soak test (outside CI; tests/scripts/test_soak_short.sh runs a 3-minute version): 2 CPU ranks
# train through launch/train.sh for --minutes, with FD every --eval-every steps and TensorBoard
# (always on). Every --preempt-every minutes the launcher gets SIGUSR1, the ranks checkpoint and
# exit 75, and the next attempt starts with --resume RUN, as cluster/slurm/train.sbatch's requeue
# does. At --minutes the run is stopped the same way and resumed for --tail-steps more steps
# to a normal end at step S; a straight run of --steps S (no preemption) follows. With
# --straight beside, the straight run trains from the start beside the soak instead, keeping
# every checkpoint; S is rounded up to a checkpoint step (every 1,000) and the straight run is
# stopped once it has saved step S. The soak's load then includes it, so it needs --tput-pct 0
# (no throughput verdict), and the extra flags may not set --keep or --ckpt-every.
#
# Every --sample-every seconds it reads, for each rank of the current attempt (the dcgan-train
# children of the mpirun this script started, told apart by OMPI_COMM_WORLD_RANK):
# /proc/PID/smaps_rollup (Rss; Private_Clean + Private_Dirty), the entries of /proc/PID/fd, and
# the last step in metrics.jsonl. Prints one table row per sample and a verdict:
#   RSS       per rank, the largest settled RSS from --rss-from minutes on is at most
#             --rss-max-pct above the first settled one from then (settled: after the first
#             sample that saw the attempt train; see bench/soak_report.py)
#   fds       per rank, max - min <= --fd-range over the settled samples of all attempts
#   img/s     no drift: the median img/s of each third of the clean intervals (those where
#             the machine's other load, other processes and steal, stayed under 10%) within
#             --tput-pct of the median of all (--tput-pct 0: shown, not checked); single
#             intervals are shown (bench/soak_report.py has the definitions)
#   bits      the final checkpoint's fingerprints and tensors equal the straight run's
# Exit: 0 every criterion met, 1 one failed (or a run failed), 2 usage error.
#
#   bench/soak.sh [--minutes 30] [--preempt-every 3] [--sample-every 60] [--rss-from 5]
#                 [--rss-max-pct 5] [--fd-range 2] [--tput-pct 10] [--tail-steps 50]
#                 [--straight after|beside] [--work DIR] [-- extra dcgan-train flags]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../launch/common.sh"
# lib_ops.sh: ops_pack (tiny synthetic data), ops_latest, ops_same_params (the drills' bit check).
source "$here/../tests/scripts/lib_ops.sh"
set -e  # lib_ops.sh is written for scripts without -e; this one keeps it

minutes=30 preempt_min=3 sample_s=60 rss_from_min=5 rss_max_pct=5 fd_range=2 tput_pct=10
tail_steps=50 straight_mode=after work="$DCGAN_ROOT/runs/soak-$(date +%Y%m%d-%H%M%S)" extra=()
usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; }
die_usage() { echo "soak.sh: error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=${2:?}; shift 2 ;;
    --preempt-every) preempt_min=${2:?}; shift 2 ;;
    --sample-every) sample_s=${2:?}; shift 2 ;;
    --rss-from) rss_from_min=${2:?}; shift 2 ;;
    --rss-max-pct) rss_max_pct=${2:?}; shift 2 ;;
    --fd-range) fd_range=${2:?}; shift 2 ;;
    --tput-pct) tput_pct=${2:?}; shift 2 ;;
    --tail-steps) tail_steps=${2:?}; shift 2 ;;
    --work) work=${2:?}; shift 2 ;;
    --straight) straight_mode=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) die_usage "unknown option '$1' (see --help)" ;;
  esac
done
for v in "$minutes" "$preempt_min" "$sample_s"; do
  [[ "$v" =~ ^[0-9]+([.][0-9]+)?$ ]] || die_usage "--minutes, --preempt-every and --sample-every take a number (got '$v')"
done
case "$straight_mode" in after|beside) ;; *) die_usage "--straight takes after or beside (got '$straight_mode')" ;; esac
if [ "$straight_mode" = beside ]; then
  awk -v v="$tput_pct" 'BEGIN { exit !(v + 0 == 0) }' ||
    die_usage "--straight beside loads the machine beside the soak: give --tput-pct 0"
  for a in "${extra[@]+"${extra[@]}"}"; do
    case "$a" in
      --keep|--keep=*|--ckpt-every|--ckpt-every=*) die_usage "--straight beside sets $a itself" ;;
    esac
  done
fi
[ -e "$work" ] && [ -n "$(ls -A "$work" 2>/dev/null)" ] && die_usage "--work $work is not empty"
py=${DCGAN_PYTHON:-$DCGAN_VENV/bin/python}
OPS_PY=$py OPS_SCRATCH=$work  # read by lib_ops.sh (ops_same_params, ops_pack)
for tool in dcgan-train dcgan-prep; do
  [ -x "$OPS_BIN/$tool" ] || dcgan_die "$OPS_BIN/$tool is not built; HINT: cmake --build $DCGAN_BUILD_DIR --target dcgan-train dcgan-prep"
done

ms() { awk -v v="$1" -v k="$2" 'BEGIN { printf "%d", v * k }'; }  # ms VALUE MS_PER_UNIT
deadline_ms=$(ms "$minutes" 60000) preempt_ms=$(ms "$preempt_min" 60000) sample_ms=$(ms "$sample_s" 1000)
now_us() { echo "${EPOCHREALTIME/./}"; }

# Tiny and fast, as the drills: 32x32 RGB, 8 feature maps, batch 8 per rank, one thread per
# rank. --steps is far away: the soak ends the run by signal, then sets the last step itself.
np=2 batch=8 ckpt_every=1000
train=(--data "$work/data" --ngf 8 --ndf 8 --nz 16 --batch-size "$batch" --threads 1 --device cpu
       --log-every 10 --eval-every 100 --eval-features "$work/features.pt" --eval-samples 64
       --sample-every 1000 --ckpt-every "$ckpt_every" --check-every 100)
mkdir -p "$work"
run=$work/run
ops_pack "$work/data" 1024
"$py" "$here/../tests/scripts/eval_features.py" "$work/features.pt" 3

launcher="" straight="" cmd=() attempt=0 t0_us=0
cleanup() {  # the launchers this script started (each its own process group), and nothing else
  local pid
  for pid in $launcher $straight; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || true
      sleep 2
      kill -9 -- "-$pid" 2>/dev/null || true
    fi
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

elapsed_ms() { echo $(( ($(now_us) - t0_us) / 1000 )); }
event() { printf '%s\t%s\t%s\t%s\n' "$(elapsed_ms)" "$1" "$attempt" "$2" >> "$work/events.tsv"; }

# train_cmd KEEP: sets cmd to launch/train.sh with the soak's flags, --keep KEEP and the extra
# flags, for the caller to add --steps and --out: every attempt and the straight run train the
# same way. An array, not a function: a function run with & is a subshell, and SIGUSR1 must
# reach train.sh itself.
train_cmd() {
  cmd=("$DCGAN_ROOT/launch/train.sh" --np "$np" -- "${train[@]}" --keep "$1" "${extra[@]+"${extra[@]}"}")
}

# await_exit PID EXPECTED_RC LOG WHAT: waits up to 300 s for PID to end, and dies (the log's
# last lines first) unless it ended with EXPECTED_RC.
await_exit() {
  local pid=$1 want=$2 log=$3 what=$4 rc=0 deadline=$((SECONDS + 300))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -ge "$deadline" ] && dcgan_die "$what did not exit within 300 s (see $log)"
    sleep 0.2
  done
  wait "$pid" || rc=$?
  [ "$rc" = "$want" ] || { tail -n 20 "$log" >&2; dcgan_die "$what exited $rc, expected $want"; }
}

# start_attempt STEPS: the next attempt in the background, with --resume once a checkpoint
# exists (train.sbatch's rule). set -m gives it its own process group for cleanup; SIGUSR1 goes
# to the launcher's pid only, as train.sbatch sends it.
start_attempt() {
  local resume=()
  [ -e "$run/checkpoints/latest" ] && resume=(--resume "$run" --lock-wait 60)
  attempt=$((attempt + 1))
  set -m
  train_cmd 3
  "${cmd[@]}" --steps "$1" --out "$run" "${resume[@]+"${resume[@]}"}" \
    > "$work/attempt-$attempt.log" 2>&1 &
  launcher=$!
  set +m
  event start 0
}

# finish_attempt EXPECTED_RC [SIGNAL]: signals the launcher (when given) and waits up to 300 s.
finish_attempt() {
  local step
  if [ $# -ge 2 ]; then
    event signal "$2"
    kill "-$2" "$launcher"
  fi
  await_exit "$launcher" "$1" "$work/attempt-$attempt.log" "attempt $attempt"
  launcher=""
  step=$(sed -n 's/.*every rank stops after step \([0-9]*\).*/\1/p' "$work/attempt-$attempt.log" | tail -n 1)
  event stop "${step:-end}"
}

straight_died() {
  local rc=0
  wait "$straight" || rc=$?
  straight=""
  tail -n 20 "$work/straight.log" >&2
  dcgan_die "the straight run beside the soak exited $rc (see $work/straight.log)"
}

# The ranks of the current attempt: dcgan-train processes whose parent is our mpirun.
rank_pids() {
  local pid
  for pid in $(ps -o pid= --ppid "$launcher" 2>/dev/null || true); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = dcgan-train ] && echo "$pid"
  done
  return 0
}

last_step() {  # last_step [RUN_DIR]
  local line
  line=$(tail -n 1 "${1:-$run}/metrics.jsonl" 2>/dev/null || true)
  [[ "$line" =~ \"step\":\ ([0-9]+) ]] && echo "${BASH_REMATCH[1]}" || echo 0
}

# The machine's CPU ticks from /proc/stat: "busy steal" (busy: user, nice, system, irq, softirq).
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 "\t" $9; exit }' /proc/stat; }

# One row per rank: t_ms attempt rank pid rss_kb private_kb fds step cpu_ticks machine_busy
# machine_steal (cpu_ticks: the rank's user + system time, /proc/PID/stat). A sample with a rank
# missing (start-up, or a rank just gone) is skipped whole.
take_sample() {
  local t step pid rank mem fds rows=() entries ticks machine
  t=$(elapsed_ms) step=$(last_step) machine=$(machine_ticks)
  shopt -s nullglob
  for pid in $(rank_pids); do
    rank=$(tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p' || true)
    mem=$(awk '/^Rss:/ {r = $2} /^Private_(Clean|Dirty):/ {p += $2} END {if (r) print r "\t" p}' \
      "/proc/$pid/smaps_rollup" 2>/dev/null || true)
    entries=("/proc/$pid/fd/"*)
    fds=${#entries[@]}
    # Fields 14 and 15 after the command name, which ends at the last ')'.
    ticks=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }' || true)
    [ -n "$rank" ] && [ -n "$mem" ] && [ "$fds" -gt 0 ] && [ -n "$ticks" ] &&
      rows+=("$t	$attempt	$rank	$pid	$mem	$fds	$step	$ticks	$machine")
  done
  shopt -u nullglob
  [ "${#rows[@]}" = "$np" ] && printf '%s\n' "${rows[@]}" >> "$work/samples.tsv"
  return 0
}

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
echo "soak: $minutes min, SIGUSR1 every $preempt_min min, a sample every $sample_s s; $np ranks on" \
  "$(getconf _NPROCESSORS_ONLN) cores ($cpu); work dir $work"
: > "$work/samples.tsv"
: > "$work/events.tsv"
t0_us=$(now_us)
if [ "$straight_mode" = beside ]; then
  # Its own process group, as an attempt's; it keeps every checkpoint, so step S is there
  # however far ahead of the soak it runs.
  set -m
  train_cmd 1000000
  "${cmd[@]}" --steps 1000000000 --out "$work/straight" > "$work/straight.log" 2>&1 &
  straight=$!
  set +m
fi
start_attempt 1000000000
next_sample_ms=$sample_ms next_preempt_ms=$preempt_ms
while :; do
  t=$(elapsed_ms)
  if [ "$t" -ge "$next_sample_ms" ] && [ "$next_sample_ms" -le "$deadline_ms" ]; then
    take_sample
    # On a fixed grid: a slot missed while an attempt stopped and restarted is skipped.
    while [ "$next_sample_ms" -le "$t" ]; do next_sample_ms=$((next_sample_ms + sample_ms)); done
  fi
  if [ "$t" -ge "$deadline_ms" ]; then break; fi
  if [ "$t" -ge "$next_preempt_ms" ] && [ "$next_preempt_ms" -lt "$deadline_ms" ]; then
    finish_attempt 75 USR1
    start_attempt 1000000000
    next_preempt_ms=$((next_preempt_ms + preempt_ms))
  fi
  kill -0 "$launcher" 2>/dev/null || finish_attempt 75  # an attempt that ends by itself fails here
  [ -z "$straight" ] || kill -0 "$straight" 2>/dev/null || straight_died
  sleep 0.5
done
finish_attempt 75 USR1
stop=$(awk -F'\t' '$2 == "stop" {s = $4} END {print s}' "$work/events.tsv")
final_steps=$((stop + tail_steps))
# Beside: S on a checkpoint step, which the straight run saves on its way.
[ "$straight_mode" = beside ] && final_steps=$(( (final_steps + ckpt_every - 1) / ckpt_every * ckpt_every ))
# The last resume ends normally at step S; the straight run stops there too.
start_attempt "$final_steps"
finish_attempt 0
if [ "$straight_mode" = after ]; then
  echo "soak: stopped at step $stop, resumed to step $final_steps; straight run of $final_steps steps"
  train_cmd 3
  "${cmd[@]}" --steps "$final_steps" --out "$work/straight" > "$work/straight.log" 2>&1 ||
    { tail -n 20 "$work/straight.log" >&2; dcgan_die "the straight run failed"; }
  straight_ckpt=$(ops_latest "$work/straight")
else
  echo "soak: stopped at step $stop, resumed to step $final_steps; the straight run beside it saves step $final_steps"
  straight_ckpt=$work/straight/checkpoints/$(printf 'step-%06d' "$final_steps")
  deadline=$((SECONDS + 600))
  # A checkpoint appears whole (its directory is renamed into place), and a logged step past S
  # means the straight run has moved on from it.
  until [ -f "$straight_ckpt/checkpoint.toml" ] && [ "$(last_step "$work/straight")" -gt "$final_steps" ]; do
    kill -0 "$straight" 2>/dev/null || straight_died
    [ "$SECONDS" -ge "$deadline" ] && dcgan_die "the straight run did not pass step $final_steps in 600 s (see $work/straight.log)"
    sleep 0.2
  done
  kill -USR1 "$straight" 2>/dev/null || true
  await_exit "$straight" 75 "$work/straight.log" "the straight run, after SIGUSR1,"
  straight=""
fi

bits=0
if ops_same_params "$(ops_latest "$run")" "$straight_ckpt" > "$work/bits.txt" 2>&1; then bits=1; fi
python3 "$here/soak_report.py" --samples "$work/samples.tsv" --events "$work/events.tsv" \
  --global-batch $((np * batch)) --rss-from-min "$rss_from_min" --rss-max-pct "$rss_max_pct" \
  --fd-range "$fd_range" --tput-pct "$tput_pct" --bits-ok "$bits" --bits-detail "$work/bits.txt" \
  --cpu "$cpu" --hz "$(getconf CLK_TCK)" --cores "$(getconf _NPROCESSORS_ONLN)"
