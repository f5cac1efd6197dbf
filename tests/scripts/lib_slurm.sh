# Sourced by tests after lib_ops.sh (it uses ops_wait): a private one-node Slurm (munged +
# slurmctld + slurmd) in a scratch folder.
# It never touches the system's munge key, socket or Slurm config: everything lives under the
# folder, on ports picked for this run, and the daemons are stopped by pid.
# shellcheck shell=bash
SLURM_LOCAL_PIDS=()
SLURM_LOCAL_DIR=""

# Free TCP port in the ephemeral range (bash's /dev/tcp: a refused connect means nobody listens).
slurm_local_free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 20000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  return 1
}

# slurm_local_start DIR: starts the daemons; exports SLURM_CONF and SLURM_LOCAL_PIDS.
slurm_local_start() {
  local dir=$1 root=${DCGAN_SOURCE_DIR:?}
  SLURM_LOCAL_DIR=$dir
  SLURM_LOCAL_PIDS=()
  mkdir -p "$dir"/{munge,munge-run,state,spool,run,log} "$dir/spool/slurmd-$(hostname -s)"
  chmod 755 "$dir"
  # munged insists on a key readable only by its own user, on directories nobody else can write,
  # and on a socket folder everyone can enter; it runs as the munge user with its key and log in
  # DIR/munge (private) and its socket and pid in DIR/munge-run.
  chown munge: "$dir/munge" "$dir/munge-run" && chmod 700 "$dir/munge" && chmod 755 "$dir/munge-run"
  head -c 1024 /dev/urandom > "$dir/munge/munge.key"
  chown munge: "$dir/munge/munge.key" && chmod 400 "$dir/munge/munge.key"
  runuser -u munge -- munged --key-file="$dir/munge/munge.key" --socket="$dir/munge-run/munge.socket" \
    --pid-file="$dir/munge-run/munged.pid" --log-file="$dir/munge/munged.log" \
    --seed-file="$dir/munge/munged.seed" || { echo "munged failed to start" >&2; return 1; }
  ops_wait 10 test -s "$dir/munge-run/munged.pid" || { echo "munged wrote no pid" >&2; return 1; }
  SLURM_LOCAL_PIDS+=("$(cat "$dir/munge-run/munged.pid")")

  local host ctld_port slurmd_port
  host=$(hostname -s)
  ctld_port=$(slurm_local_free_port) && slurmd_port=$(slurm_local_free_port) || return 1
  sed -e "s|@DIR@|$dir|g" -e "s|@HOST@|$host|g" -e "s|@CPUS@|$(getconf _NPROCESSORS_ONLN)|g" \
      -e "s|@CTLD_PORT@|$ctld_port|g" -e "s|@SLURMD_PORT@|$slurmd_port|g" \
      "$root/cluster/slurm/local/slurm.conf.in" > "$dir/slurm.conf"
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -c -f "$SLURM_CONF" || { echo "slurmctld failed to start" >&2; return 1; }
  ops_wait 15 test -s "$dir/run/slurmctld.pid" || { echo "slurmctld wrote no pid" >&2; return 1; }
  SLURM_LOCAL_PIDS+=("$(cat "$dir/run/slurmctld.pid")")
  slurmd -f "$SLURM_CONF" || { echo "slurmd failed to start" >&2; return 1; }
  ops_wait 15 test -s "$dir/run/slurmd-$host.pid" || { echo "slurmd wrote no pid" >&2; return 1; }
  SLURM_LOCAL_PIDS+=("$(cat "$dir/run/slurmd-$host.pid")")
  ops_wait 30 slurm_local_node_idle || { echo "node never became idle" >&2; return 1; }
}

slurm_local_no_jobs() { [ -z "$(squeue -h -o %i 2>/dev/null)" ] && ! pgrep -x slurmstepd >/dev/null; }
slurm_local_node_idle() { sinfo -h -o '%t' 2>/dev/null | grep -qx 'idle'; }

# Stops exactly the daemons slurm_local_start started, newest first, then waits for them.
slurm_local_stop() {
  local i pid
  # Jobs first: their slurmstepd and tasks outlive slurmd, so cancel them through the daemons.
  if [ -n "${SLURM_CONF:-}" ] && [ ${#SLURM_LOCAL_PIDS[@]} -ge 3 ]; then
    squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null
    ops_wait 30 slurm_local_no_jobs || echo "slurm_local_stop: jobs still running" >&2
  fi
  for (( i=${#SLURM_LOCAL_PIDS[@]}-1; i>=0; i-- )); do
    pid=${SLURM_LOCAL_PIDS[$i]}
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  done
  SLURM_LOCAL_PIDS=()
}

# Prints the daemon logs; for failure reports.
slurm_local_dump_logs() {
  local f
  for f in "$SLURM_LOCAL_DIR"/log/*.log "$SLURM_LOCAL_DIR"/munge/munged.log; do
    [ -f "$f" ] && { echo "---- $f"; tail -n 40 "$f"; }
  done
}
