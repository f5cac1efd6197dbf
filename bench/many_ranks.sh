#!/usr/bin/env bash
# Many CPU ranks on one machine, for the control plane at scale:
#  1. Start-up: for each R of --ranks (default "1 8 32 64"), R ranks of the drills' tiny nets
#     (32x32, 8 feature maps, one thread each) start through mpirun; the table gives the time
#     from the launch to the first step in metrics.jsonl, and each rank's memory read at that
#     moment from /proc/PID/smaps_rollup: Private_Dirty (what each added rank costs; the clean
#     pages of the libraries' code are shared by the ranks) and Pss, the median over the ranks,
#     and the Private_Dirty total.
#  2. Invariance and resume at --np (default 64): tests/scripts/test_ops_many_ranks.sh with
#     OPS_MANY_RANKS=NP (NP x 128/NP against 1 x 128 with --sync-bn after 4 steps; NP's step 2
#     resumed on 1 and NP/4 ranks), whose lines give the largest relative difference per module.
# Exit: 0 all ran and passed, 1 a run or a check failed, 2 usage error.
#
#   bench/many_ranks.sh [--ranks "1 8 32 64"] [--np 64] [--work DIR]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../launch/common.sh"
source "$here/../tests/scripts/lib_ops.sh"
set -e

ranks="1 8 32 64" np=64 work=""
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
die_usage() { echo "many_ranks.sh: error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) ranks=${2:?}; shift 2 ;;
    --np) np=${2:?}; shift 2 ;;
    --work) work=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die_usage "unknown option '$1' (see --help)" ;;
  esac
done
for r in $ranks $np; do [[ "$r" =~ ^[1-9][0-9]*$ ]] || die_usage "ranks must be positive integers (got '$r')"; done
[ -x "$OPS_BIN/dcgan-train" ] || dcgan_die "$OPS_BIN/dcgan-train is not built; HINT: cmake --build $DCGAN_BUILD_DIR --target dcgan-train dcgan-prep"
own_work=0
if [ -z "$work" ]; then work=$(mktemp -d); own_work=1; fi
launcher=""
cleanup() {
  if [ -n "$launcher" ] && kill -0 "$launcher" 2>/dev/null; then kill -TERM -- "-$launcher" 2>/dev/null || true; fi
  if [ "$own_work" = 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
OPS_SCRATCH=$work
mkdir -p "$work"
ops_pack "$work/data" 512

kb() { awk -v k="$1" '$1 == k":" {print $2}' "$2" 2>/dev/null || echo 0; }
echo "start-up: the drills' nets, 1 thread per rank, on $(nproc --all) cores of $(lscpu | sed -n 's/^Model name: *//p')"
printf '%-7s %14s %20s %13s %20s\n' ranks "to step 1 (s)" "private dirty MB/rank" "Pss MB/rank" "private dirty GB all"
for r in $ranks; do
  out=$work/start-$r
  flags=(--oversubscribe -np "$r")
  [ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
  t0=$(date +%s.%N)
  setsid mpirun "${flags[@]}" "$OPS_BIN/dcgan-train" --data "$work/data" --out "$out" --ngf 8 --ndf 8 \
    --nz 16 --batch-size 2 --threads 1 --device cpu --backend mpi --steps 100000 --time-limit 5 \
    --log-every 1 --sample-every 100000 --ckpt-every 100000 --check-every 0 >"$out.log" 2>&1 &
  launcher=$!
  first=""
  for _ in $(seq 6000); do  # at most 10 min
    if [ -s "$out/metrics.jsonl" ]; then first=$(date +%s.%N); break; fi
    kill -0 "$launcher" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$first" ] || { tail -n 20 "$out.log"; echo "many_ranks.sh: $r ranks did not reach step 1" >&2; exit 1; }
  private=() pss=()
  for pid in $(pgrep -x dcgan-train); do  # the ranks of this run: dcgan-train with --out OUT
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--out $out " || continue
    f=/proc/$pid/smaps_rollup
    [ -r "$f" ] || continue
    private+=($(( $(kb Private_Dirty "$f") / 1024 )))
    pss+=($(( $(kb Pss "$f") / 1024 )))
  done
  wait "$launcher" || { tail -n 20 "$out.log"; echo "many_ranks.sh: $r ranks failed" >&2; exit 1; }
  launcher=""
  median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
  total=$(printf '%s\n' "${private[@]}" | awk '{s += $1} END {printf "%.1f", s / 1024}')
  printf '%-7s %14.1f %20s %13s %20s\n' "$r" "$(awk -v a="$t0" -v b="$first" 'BEGIN {print b - a}')" \
    "$(median "${private[@]}")" "$(median "${pss[@]}")" "$total"
done

echo
echo "invariance and resume at $np ranks (tests/scripts/test_ops_many_ranks.sh):"
DCGAN_PYTHON=${DCGAN_PYTHON:-$DCGAN_VENV/bin/python} OPS_MANY_RANKS=$np \
  bash "$here/../tests/scripts/test_ops_many_ranks.sh"
