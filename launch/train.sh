#!/usr/bin/env bash
# Data-parallel training launcher: one rank per GPU (or N CPU ranks on a machine without one),
# started by mpirun on a workstation or by srun inside a Slurm allocation. Every argument this
# script does not know goes to dcgan-train unchanged.
#
#   launch/train.sh --data data/celeba64 --out runs/a --epochs 5
#   launch/train.sh --np 4 --dry-run -- --data d --out runs/b
#
# Launcher options (before the trainer's; `--` ends them):
#   --np N               ranks (default: GPUs seen by nvidia-smi / CUDA_VISIBLE_DEVICES,
#                        SLURM_NTASKS inside an allocation, DCGAN_CPU_RANKS=2 without a GPU)
#   --launcher L         mpirun | srun (default: srun --mpi=pmix inside Slurm when the pmix
#                        plugin exists, else mpirun, which reads the allocation itself)
#   --bind B             none (default) | numa | core: where ranks may run (mpirun --bind-to;
#                        srun --cpu-bind)
#   --hostfile F         mpirun hostfile for several machines outside Slurm
#   --mpi-arg ARG        one extra argument for the launcher (repeatable)
#   --dry-run            print the command instead of running it
#
# The launcher is exec'd, so signals sent to this script's pid reach it: mpirun and srun both
# forward SIGUSR1 to every rank (the trainer checkpoints and exits 75). SIGTERM makes mpirun
# terminate the ranks (SIGTERM, then SIGKILL after DCGAN_SIGKILL_TIMEOUT s, default 5, so a
# checkpoint in progress can finish); prefer SIGUSR1 for a clean stop.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
DCGAN_BIN=${DCGAN_BIN_DIR:-$DCGAN_BIN}
TRAIN=${DCGAN_TRAIN:-$DCGAN_BIN/dcgan-train}

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }
die_usage() { echo "train.sh: error: $*" >&2; echo "see: launch/train.sh --help" >&2; exit 2; }

np="" launcher="" bind=none hostfile="" dry_run=0
mpi_extra=() train_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --np) [ $# -ge 2 ] || die_usage "--np needs a value"; np=$2; shift 2 ;;
    --launcher) [ $# -ge 2 ] || die_usage "--launcher needs a value"; launcher=$2; shift 2 ;;
    --bind) [ $# -ge 2 ] || die_usage "--bind needs a value"; bind=$2; shift 2 ;;
    --hostfile) [ $# -ge 2 ] || die_usage "--hostfile needs a value"; hostfile=$2; shift 2 ;;
    --mpi-arg) [ $# -ge 2 ] || die_usage "--mpi-arg needs a value"; mpi_extra+=("$2"); shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; train_args+=("$@"); break ;;
    *) train_args+=("$1"); shift ;;
  esac
done
case "$bind" in none|numa|core) ;; *) die_usage "--bind must be none, numa or core (got '$bind')" ;; esac
case "$launcher" in ""|mpirun|srun) ;; *) die_usage "--launcher must be mpirun or srun (got '$launcher')" ;; esac
[ -z "$np" ] || [[ "$np" =~ ^[1-9][0-9]*$ ]] || die_usage "--np must be a positive integer (got '$np')"

# GPUs this process may use: CUDA_VISIBLE_DEVICES wins over what nvidia-smi lists.
count_gpus() {
  if [ -n "${CUDA_VISIBLE_DEVICES+x}" ]; then
    [ -z "$CUDA_VISIBLE_DEVICES" ] && { echo 0; return; }
    tr ',' '\n' <<<"$CUDA_VISIBLE_DEVICES" | grep -c .
  elif command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true
  else
    echo 0
  fi
}

has_arg() { local a; for a in "${train_args[@]+"${train_args[@]}"}"; do [ "$a" = "$1" ] && return 0; done; return 1; }

in_slurm=0
[ -n "${SLURM_JOB_ID:-}" ] && in_slurm=1
if [ -z "$launcher" ]; then
  launcher=mpirun
  if [ "$in_slurm" = 1 ] && srun --mpi=list 2>&1 | grep -qw pmix; then launcher=srun; fi
fi
[ "$launcher" = srun ] && [ "$in_slurm" = 0 ] && die_usage "--launcher srun needs a Slurm allocation (SLURM_JOB_ID is unset)"

gpus=$(count_gpus)
if [ -z "$np" ]; then
  if [ "$in_slurm" = 1 ] && [ -n "${SLURM_NTASKS:-}" ]; then np=$SLURM_NTASKS
  elif [ "$gpus" -gt 0 ]; then np=$gpus
  else np=${DCGAN_CPU_RANKS:-2}
  fi
fi
# Without a GPU the trainer's --device auto would pick the CPU anyway; saying so makes the log
# and the dry run explicit.
if [ "$gpus" = 0 ] && [ "$in_slurm" = 0 ] && ! has_arg --device; then train_args+=(--device cpu); fi

# Environment the ranks need on every node (mpirun starts remote ranks with a bare environment).
export_vars=()
for v in $(compgen -e | grep -E '^(NCCL_|OMP_NUM_THREADS$|CUDA_VISIBLE_DEVICES$|CUDA_LAUNCH_BLOCKING$|TORCH_|PYTORCH_|DCGAN_|LD_LIBRARY_PATH$|PATH$)' || true); do
  export_vars+=(-x "$v")
done

cmd=()
if [ "$launcher" = srun ]; then
  # srun exports the whole environment by default; -K1 ends the step when any rank dies.
  cmd=(srun --mpi=pmix --ntasks="$np" --kill-on-bad-exit=1)
  case "$bind" in none) cmd+=(--cpu-bind=none) ;; numa) cmd+=(--cpu-bind=ldoms) ;; core) cmd+=(--cpu-bind=cores) ;; esac
else
  cmd=(mpirun)
  [ "$(id -u)" = 0 ] && cmd+=(--allow-run-as-root)
  cmd+=(-np "$np")
  if [ "$in_slurm" = 0 ]; then cmd+=(--oversubscribe); fi
  [ -n "$hostfile" ] && cmd+=(--hostfile "$hostfile")
  case "$bind" in
    none) cmd+=(--map-by slot --bind-to none) ;;
    # Consecutive ranks share a NUMA domain, like GPUs 0..k-1 usually share a socket.
    numa) cmd+=(--map-by slot --bind-to numa) ;;
    core) cmd+=(--map-by slot --bind-to core) ;;
  esac
  cmd+=(--mca odls_base_sigkill_timeout "${DCGAN_SIGKILL_TIMEOUT:-5}")
  # A node whose link dies sends nothing, not even a reset: without keepalives mpirun waits on its
  # daemon there for many minutes after the trainer's --comm-timeout has aborted the job. Probe
  # an idle daemon connection after 5 s, every 2 s, and drop it after 3 missed answers: mpirun
  # gives up about 10 s after the abort. The price: a network outage of over ~11 s ends the job
  # (it resumes from its checkpoint). OMPI_MCA_oob_tcp_keepalive_{time,intvl,probes} win.
  for setting in time=5 intvl=2 probes=3; do
    name=oob_tcp_keepalive_${setting%=*}
    env_name=OMPI_MCA_$name
    [ -n "${!env_name:-}" ] || cmd+=(--mca "$name" "${setting#*=}")
  done
  cmd+=("${export_vars[@]}")
fi
cmd+=("${mpi_extra[@]+"${mpi_extra[@]}"}" "$TRAIN" "${train_args[@]+"${train_args[@]}"}")

if [ "$dry_run" = 1 ]; then
  printf '%q ' "${cmd[@]}"; echo
  exit 0
fi
[ -x "$TRAIN" ] || { echo "train.sh: error: $TRAIN is not built (run launch/setup.sh)" >&2; exit 1; }
echo "train.sh: $np rank(s), $gpus GPU(s) visible, launcher $launcher" >&2
exec "${cmd[@]}"
