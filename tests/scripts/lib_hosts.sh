# Simulated hosts for the multinode drills: each host is a network namespace (its own address on
# a private subnet, joined to the others by veth pairs on a bridge inside a switch namespace) and
# a UTS namespace (its own hostname). They share the file system, as a cluster's nodes share
# theirs. Everything is made by the test, named after its own pid, and removed on exit.
#
#   hosts_up N            hosts $HOST_PREFIX-1 .. -N at 10.231.X.1 .. N; exits 77 (a ctest skip)
#                         with the reason when namespaces cannot be made here
#   host_run K cmd...     runs cmd on host K
#   HOSTS_AGENT           Open MPI's plm_rsh_agent into the hosts ("agent HOST command")
#   HOSTS_SUBNET          the subnet, for btl_tcp_if_include / oob_tcp_if_include
#   hosts_mpi_env         exports the OMPI_MCA_* settings that make mpirun use them
#   HOSTS_PRIVATE_TMPFS="K:DIR"  the agent starts host K's processes in a private mount namespace
#                         with an empty tmpfs over DIR (a run directory that host does not see)
# shellcheck shell=bash
HOST_PREFIX="dh$$"
HOSTS_DIR="/run/dcgan-hosts-$$"
HOSTS_SUBNET="10.231.$(( $$ % 250 )).0/24"
HOSTS_AGENT="$HOSTS_DIR/agent"
_hosts_n=0

hosts_down() {
  local k
  for k in $(seq 1 "$_hosts_n"); do
    ip netns pids "$HOST_PREFIX-$k" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$HOST_PREFIX-$k" 2>/dev/null || true
    umount "$HOSTS_DIR/uts-$k" 2>/dev/null || true
  done
  ip netns del "$HOST_PREFIX-sw" 2>/dev/null || true
  rm -rf "$HOSTS_DIR"
  # Open MPI's session folders (ompi.HOST.UID) of this drill's hosts: their daemons are killed
  # with the namespaces, so nothing else removes them from the shared /tmp.
  rm -rf /tmp/ompi."$HOST_PREFIX"-[0-9]*.* "${TMPDIR:-/tmp}"/ompi."$HOST_PREFIX"-[0-9]*.*
}

hosts_up() {
  local n=$1 k net="${HOSTS_SUBNET%.0/24}"
  command -v ip >/dev/null && command -v nsenter >/dev/null && command -v unshare >/dev/null \
    || { echo "SKIP: needs ip, nsenter and unshare"; exit 77; }
  [ "$(id -u)" = 0 ] || { echo "SKIP: making network namespaces needs root"; exit 77; }
  ip netns add "$HOST_PREFIX-probe" 2>/dev/null && ip netns del "$HOST_PREFIX-probe" \
    || { echo "SKIP: network namespaces cannot be made here"; exit 77; }
  trap 'hosts_down; rm -rf "${tmp:-}"' EXIT
  mkdir -p "$HOSTS_DIR"
  ip netns add "$HOST_PREFIX-sw"
  ip -n "$HOST_PREFIX-sw" link add br0 type bridge
  ip -n "$HOST_PREFIX-sw" link set br0 up
  for k in $(seq 1 "$n"); do
    local h="$HOST_PREFIX-$k"
    _hosts_n=$k
    ip netns add "$h"
    ip link add "v$$-$k" type veth peer name eth0 netns "$h"
    ip link set "v$$-$k" netns "$HOST_PREFIX-sw"
    ip -n "$HOST_PREFIX-sw" link set "v$$-$k" master br0 up
    ip -n "$h" addr add "$net.$k/24" dev eth0
    ip -n "$h" link set eth0 up
    ip -n "$h" link set lo up
    touch "$HOSTS_DIR/uts-$k"
    unshare --uts="$HOSTS_DIR/uts-$k" hostname "$h"
  done
  # The agent: "agent HOST command" as ssh would run it, inside that host's namespaces.
  cat >"$HOSTS_AGENT" <<AGENT
#!/bin/sh
host=\$1; shift
k=\${host##*-}
if [ -n "\${HOSTS_PRIVATE_TMPFS:-}" ] && [ "\${HOSTS_PRIVATE_TMPFS%%:*}" = "\$k" ]; then
  exec nsenter --net=/run/netns/\$host --uts=$HOSTS_DIR/uts-\$k -- unshare --mount --propagation private \\
    sh -c "mount -t tmpfs none \${HOSTS_PRIVATE_TMPFS#*:} && exec \$*"
fi
exec nsenter --net=/run/netns/\$host --uts=$HOSTS_DIR/uts-\$k -- sh -c "\$*"
AGENT
  chmod +x "$HOSTS_AGENT"
}

host_run() {
  local k=$1; shift
  nsenter --net="/run/netns/$HOST_PREFIX-$k" --uts="$HOSTS_DIR/uts-$k" -- "$@"
}

hosts_mpi_env() {
  export OMPI_MCA_plm_rsh_agent="$HOSTS_AGENT"
  export OMPI_MCA_btl=tcp,self
  export OMPI_MCA_btl_tcp_if_include="$HOSTS_SUBNET"
  export OMPI_MCA_oob_tcp_if_include="$HOSTS_SUBNET"
}
