#!/bin/bash
# Virtual hosts on one machine, for multi-host tests and benchmarks: N network namespaces
# ("hosts") each with lo up and eth0 = 10.S.S.(i+1)/24, joined by veth pairs to a bridge that
# lives in its own "switch" namespace, so nothing of a run appears in the root namespace.
# Strata tells hosts apart by hostname + boot id + network namespace, so each namespace is a host
# to it. Everything is removed on every exit path (EXIT, INT, TERM), processes left inside the
# namespaces included; a run also removes what an earlier run of this script left when it was
# killed (namespaces whose creator's pid is gone). Needs root and iproute2.
#
# Names: stn-<tag>-<pid>-h<i> and stn-<tag>-<pid>-sw, where <pid> is this shell's pid (unique
# among live runs, so parallel ctest jobs never collide) and <tag> is NETNS_TAG (default "run").
# Addresses are per run (each run has its own switch), so parallel runs may share NETNS_SUBNET.
#
# As a command:
#   scripts/netns.sh [-n HOSTS] [-t SECONDS] --on HOST 'CMD' [--on HOST 'CMD']...
#       starts every CMD (bash -c) at once inside host HOST (0-based), each under a timeout, and
#       exits 0 only when all exit 0 (124 when one timed out, else the first failure's status).
#   scripts/netns.sh [-n HOSTS] [-t SECONDS] -- DRIVER [ARGS...]
#       runs DRIVER in the root namespace; it starts its own processes with
#       `ip netns exec "$NETNS_NS_<i>" ...` (see the variables below).
#   scripts/netns.sh exec I CMD...     (inside a run: NETNS_PREFIX set) CMD inside host I
#   scripts/netns.sh agent [-options] HOST 'COMMAND LINE'
#       an ssh stand-in for MPI launchers started inside the hosts (see _netns_agent).
#   Each CMD/DRIVER sees NETNS_PREFIX, NETNS_HOSTS, NETNS_NS_<i>, NETNS_ADDR_<i> (i = 0..HOSTS-1)
#   and, for --on, NETNS_HOST (its own index). Example: scripts/netns.sh -n 2 --on 0 'ip -br addr' --on 1 'ping -c1 $NETNS_ADDR_0'
#   Exit status 77: namespaces cannot be made here (not root, no `ip`, no permission), with the
#   reason on stderr, unless STRATA_NETNS_REQUIRED=1 turns that into a failure (status 1).
#
# As a library (bash): source scripts/netns.sh; netns_up N; netns_exec I CMD...; and on exit
# everything is removed. Define a function netns_cleanup_hook to run first in that exit path
# (netns_up owns the EXIT/INT/TERM traps; do not replace them).
# Tunables: NETNS_SUBNET (default 10.201.0; 3 octets), NETNS_MTU (default 1500, as Ethernet),
# NETNS_TAG (default run), NETNS_HOSTNAMES=1 (each command also gets its own hostname).

_netns_prefix=""
_netns_hosts=0
PATH=$PATH:/usr/sbin:/sbin  # where Debian puts ip for non-login shells of other users

netns_skip() {  # netns_skip REASON: exit 77 (CTest's skip), or 1 where namespaces are required
  if [ "${STRATA_NETNS_REQUIRED:-0}" = 1 ]; then
    echo "netns: cannot make network namespaces: $1 (STRATA_NETNS_REQUIRED=1: failing)" >&2
    exit 1
  fi
  echo "netns: SKIPPED: cannot make network namespaces: $1" >&2
  exit 77
}

netns_name() { echo "${_netns_prefix:-$NETNS_PREFIX}-h$1"; }
netns_addr() { echo "${NETNS_SUBNET:-10.201.0}.$(($1 + 1))"; }
# netns_exec I CMD...: CMD inside host I. With NETNS_HOSTNAMES=1 also in its own UTS namespace
# with hostname = the namespace's name, for programs that tell hosts apart by hostname only (MPI
# launchers and libraries); Strata needs no such help (its host id includes the namespace).
netns_exec() {
  local i=$1 ns; shift
  ns=$(netns_name "$i")
  local cmd=(ip netns exec "$ns")
  [ "${NETNS_HOSTNAMES:-0}" != 1 ] || cmd+=(unshare --uts /bin/sh -c 'hostname "$0" && exec "$@"' "$ns")
  ${_netns_exec_mode:-} "${cmd[@]}" "$@"  # _netns_exec_mode=exec: replace this shell
}

# A remote-shell agent for launchers (Open MPI's plm_rsh_agent, MPICH hydra's -launcher-exec):
# called as `agent [-options] HOST 'COMMAND LINE'`, like ssh, it runs the command line with
# /bin/sh inside the host whose address or namespace name is HOST. Needs NETNS_PREFIX and the
# NETNS_ADDR_<i> variables that netns_up exports.
_netns_agent() {
  while [ $# -gt 0 ] && [ "${1:0:1}" = - ]; do shift; done
  local host=${1:?agent: no host}; shift
  local i addr
  for ((i = 0; i < ${NETNS_HOSTS:-0}; i++)); do
    addr=NETNS_ADDR_$i
    if [ "$host" = "${!addr}" ] || [ "$host" = "$NETNS_PREFIX-h$i" ]; then
      _netns_exec_mode="exec" netns_exec "$i" /bin/sh -c "$*"
    fi
  done
  echo "netns agent: no host '$host' in ${NETNS_PREFIX:-?}" >&2
  return 255
}

# Kills what runs inside namespace $1 (first TERM, then KILL), then deletes it.
_netns_remove() {
  local ns=$1 pids
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [ -z "$pids" ] && break
      sleep 0.1
    done
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
  fi
  ip netns del "$ns" 2>/dev/null || true
}

# Namespaces of earlier runs of this script whose creator is gone (it was killed with SIGKILL,
# or the machine lost power between creation and cleanup).
_netns_remove_stale() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^stn-[A-Za-z0-9_.]+-[0-9]+-(sw|h[0-9]+)$' || true); do
    pid=${ns%-*}
    pid=${pid##*-}
    if ! kill -0 "$pid" 2>/dev/null || ! grep -qa netns "/proc/$pid/cmdline" 2>/dev/null; then
      echo "netns: removing $ns, left by an earlier run (pid $pid is gone)" >&2
      _netns_remove "$ns"
    fi
  done
}

netns_down() {
  [ -n "$_netns_prefix" ] || return 0
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$_netns_prefix-(sw|h[0-9]+)$" || true); do
    _netns_remove "$ns"
  done
  if ip netns list 2>/dev/null | grep -q "^$_netns_prefix-"; then
    echo "netns: could not remove every namespace of $_netns_prefix" >&2
  fi
  _netns_prefix=""
}

_netns_on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if declare -F netns_cleanup_hook >/dev/null; then netns_cleanup_hook || true; fi
  netns_down
  exit "$rc"
}

# netns_up N: makes hosts 0..N-1 and the switch; exports NETNS_HOSTS, NETNS_NS_<i>, NETNS_ADDR_<i>.
netns_up() {
  local n=$1 tag=${NETNS_TAG:-run} subnet=${NETNS_SUBNET:-10.201.0} mtu=${NETNS_MTU:-1500} i ns sw
  [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 250 ] || { echo "netns: HOSTS must be 1..250" >&2; exit 2; }
  [[ $tag =~ ^[A-Za-z0-9_.]+$ ]] || { echo "netns: NETNS_TAG may hold letters, digits, _ and ." >&2; exit 2; }
  [ "$(id -u)" = 0 ] || netns_skip "not root (uid $(id -u))"
  command -v ip >/dev/null || netns_skip "no 'ip' command (install iproute2)"
  # `ip netns exec` remounts / in a mount namespace of its own: where / is no mount point (a
  # plain chroot) it cannot, and `ip netns add` would leave its /run/netns mount behind.
  mountpoint -q / || netns_skip "/ is not a mount point (a chroot?): ip netns exec cannot work"
  _netns_remove_stale
  _netns_prefix="stn-$tag-$$"
  _netns_hosts=$n
  trap _netns_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  sw="$_netns_prefix-sw"
  local err
  if ! err=$(ip netns add "$sw" 2>&1); then
    _netns_prefix=""
    netns_skip "ip netns add: $err"
  fi
  # A namespace can be made but not entered where / is no mount point (a plain chroot): `ip netns
  # exec` needs its own mount namespace with /sys remounted.
  if ! err=$(ip netns exec "$sw" true 2>&1); then
    netns_skip "ip netns exec: $err"
  fi
  ip -n "$sw" link set lo up
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  export NETNS_HOSTS=$n NETNS_PREFIX=$_netns_prefix
  for ((i = 0; i < n; i++)); do
    ns=$(netns_name "$i")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # eth0 inside the host, h<i> on the switch's side.
    ip -n "$ns" link add eth0 mtu "$mtu" type veth peer name "h$i" netns "$sw"
    ip -n "$sw" link set "h$i" mtu "$mtu" master br0 up
    ip -n "$ns" addr add "$subnet.$((i + 1))/24" dev eth0
    ip -n "$ns" link set eth0 up
    export "NETNS_NS_$i=$ns" "NETNS_ADDR_$i=$subnet.$((i + 1))"
  done
  # Without STP a bridge port forwards as soon as it is up; wait for that state anyway (bounded).
  local tries=0
  while [ "$(ip -n "$sw" -d link show master br0 2>/dev/null | grep -c 'bridge_slave state forwarding')" -lt "$n" ]; do
    tries=$((tries + 1))
    [ $tries -lt 50 ] || { echo "netns: the bridge's ports did not reach the forwarding state" >&2; exit 1; }
    sleep 0.1
  done
}

_netns_main() {
  set -euo pipefail
  local hosts=2 timeout=300 driver=() ons=() cmds=()
  while [ $# -gt 0 ]; do
    case $1 in
      -n) hosts=$2; shift 2 ;;
      -t) timeout=$2; shift 2 ;;
      --on) ons+=("$2"); cmds+=("$3"); shift 3 ;;
      --) shift; driver=("$@"); break ;;
      -h|--help) sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; return 0 ;;
      *) echo "netns: unknown argument '$1' (see --help)" >&2; return 2 ;;
    esac
  done
  if [ ${#driver[@]} -eq 0 ] && [ ${#ons[@]} -eq 0 ]; then
    echo "netns: nothing to run: give --on HOST CMD or -- DRIVER (see --help)" >&2
    return 2
  fi
  local h
  for h in "${ons[@]}"; do
    [[ $h =~ ^[0-9]+$ ]] && [ "$h" -lt "$hosts" ] || { echo "netns: no host $h among $hosts" >&2; return 2; }
  done
  netns_up "$hosts"
  echo "netns: $hosts host(s): $(for ((i = 0; i < hosts; i++)); do printf '%s=%s ' "$(netns_name $i)" "$(netns_addr $i)"; done)" >&2
  if [ ${#driver[@]} -gt 0 ]; then
    local rc=0
    timeout -k 5 "$timeout" "${driver[@]}" || rc=$?
    return $rc
  fi
  local pids=() k rc=0 status
  for k in "${!ons[@]}"; do
    NETNS_HOST=${ons[$k]} timeout -k 5 "$timeout" "${BASH_SOURCE[0]}" exec "${ons[$k]}" bash -c "${cmds[$k]}" &
    pids+=($!)
  done
  for k in "${!pids[@]}"; do
    status=0
    wait "${pids[$k]}" || status=$?
    if [ $status -ne 0 ]; then
      echo "netns: command $k on host ${ons[$k]} exited with $status$([ $status -eq 124 ] && echo " (timed out after ${timeout}s)")" >&2
      if [ $rc -eq 0 ] || [ $status -eq 124 ]; then rc=$status; fi
    fi
  done
  return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case ${1:-} in
    agent) shift; _netns_agent "$@"; exit $? ;;
    exec) shift; _netns_exec_mode="exec" netns_exec "$@" ;;
  esac
  _netns_main "$@"
  exit $?
fi
