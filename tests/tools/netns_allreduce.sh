#!/bin/bash
# Multi-host all-reduce on one machine: HOSTS network namespaces (scripts/netns.sh), each a host
# to Strata, with RANKS_PER_HOST strata-bench processes in each, started as a launcher would
# (STRATA_RANK, STRATA_NRANKS, STRATA_ROOT_ADDR = rank 0's address in its namespace) with the
# algorithm forced (STRATA_ALGO) and the transport chosen (STRATA_TRANSPORT).
#
# Passes when
#  - every rank exits 0 before its own timeout (strata-bench checks every element of every size,
#    out-of-place and in-place, exactly; a wrong element makes every rank exit 1);
#  - every row of the table ran ALGO over the expected transports (auto: "shm+tcp" with several
#    ranks per host, "tcp" with one) and the table ends with "Out of bounds values : 0 OK";
#  - each rank reports HOSTS hosts around it: rank 0's topology line says "N ranks on HOSTS
#    host(s)" and every rank's ready line has RANKS_PER_HOST local ranks and that transport.
# Self-checks of the harness (MODE): "wrong" gives one rank other input values (--seed 2; a
# different op or count would be refused as a mismatched call, docs/errors.md), so every rank's
# results are wrong: passes only when every rank exits 1 and the table says FAILED. "hang"
# replaces the last rank by a process that never joins: passes only when the harness reports the
# failure (the ranks' own deadlines, then the per-process timeout) within its time bound.
#
# Usage: netns_allreduce.sh BENCH HOSTS RANKS_PER_HOST ALGO TRANSPORT [MODE=ok]
#   TRANSPORT: auto | tcp (today's values) | shm+tcp | shm+ucx | ucx (the UCX transport's):
#   a UCX value is run with UCX_TLS=tcp and skipped (77) when this build has no UCX transport.
# Exit: 0 pass, 1 fail, 77 skipped (no namespaces here, or no UCX transport).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=${1:?path to strata-bench}
hosts=${2:?hosts}
per_host=${3:?ranks per host}
algo=${4:?algorithm}
transport=${5:?STRATA_TRANSPORT value}
mode=${6:-ok}
nranks=$((hosts * per_host))
# The whole run must end within these (ctest's TIMEOUT is above them): the library's own
# deadline first, then a kill of every process still alive.
strata_timeout=${NETNS_STRATA_TIMEOUT:-30}
proc_timeout=${NETNS_PROC_TIMEOUT:-60}
sizes=(-b 8 -e 8M -f 4)
if [ "$mode" != ok ]; then
  sizes=(-b 8 -e 64K -f 8)
  strata_timeout=3
  proc_timeout=6
fi
# The namespaces share this machine's cores, which the library cannot see (it counts the ranks
# of one host, i.e. one namespace): with more ranks than cores in all, spinning ranks take the
# CPU from the rank they wait for (8 ranks on 2 cores: 10 ms at 8 B, 1.4 s at 8 MiB). So tell
# it, with the value it picks itself for an oversubscribed host.
spin=()
[ "$nranks" -le "$(nproc)" ] || spin=("STRATA_SPIN_COUNT=${STRATA_SPIN_COUNT:-20}")

transport_doc=$("$bench" --help-env 2>/dev/null | grep '^STRATA_TRANSPORT' || true)
extra_env=()
case $transport in
  *ucx*)
    if [ "${STRATA_HAVE_UCX:-}" = OFF ] || [ "${STRATA_HAVE_UCX:-}" = 0 ]; then
      echo "SKIPPED: this build has no UCX (STRATA_HAVE_UCX=OFF: pkg-config found no ucx at configure time)"
      exit 77
    fi
    if ! grep -q ucx <<<"$transport_doc"; then
      echo "SKIPPED: this build has no UCX transport (strata-bench --help-env: STRATA_TRANSPORT has no ucx value)"
      exit 77
    fi
    extra_env=(UCX_TLS=tcp)
    inter=ucx ;;
  *) inter=tcp ;;
esac
# Before STRATA_TRANSPORT had the value shm+tcp, auto meant exactly that.
if [ "$transport" = shm+tcp ] && ! grep -q 'shm+tcp' <<<"$transport_doc"; then
  echo "(STRATA_TRANSPORT has no shm+tcp value in this build: using auto, its equivalent)"
  transport=auto
fi
# The transports a rank with peers on its own host and on others uses (RoutedTransport's name).
if [ "$per_host" -gt 1 ] && [ "$transport" != tcp ] && [ "$transport" != ucx ]; then
  expect_transport="shm+$inter"
else
  expect_transport=$inter
fi

# shellcheck source=../../scripts/netns.sh
source "$here/../../scripts/netns.sh"
logs=""
netns_cleanup_hook() { [ -z "$logs" ] || rm -rf "$logs"; }
NETNS_TAG="test" netns_up "$hosts"
logs=$(mktemp -d /tmp/strata-netns-test.XXXXXX)

echo "== $nranks ranks on $hosts hosts ($per_host per host): STRATA_ALGO=$algo STRATA_TRANSPORT=$transport ${spin[*]} ${extra_env[*]} (mode $mode)"
root="$(netns_addr 0):29500"
start=$(date +%s%N)
pids=()
for ((r = 0; r < nranks; r++)); do
  h=$((r / per_host))
  args=("${sizes[@]}" -n 3 -w 1 -d float -o sum)
  [ "$mode" = wrong ] && [ $r -eq 1 ] && args+=(--seed 2)
  cmd=(env "STRATA_RANK=$r" "STRATA_NRANKS=$nranks" STRATA_ROOT_ADDR="$root" STRATA_ALGO="$algo"
       STRATA_TRANSPORT="$transport" "STRATA_TIMEOUT=$strata_timeout" STRATA_DEBUG=INFO
       "${spin[@]}" "${extra_env[@]}" "$bench" "${args[@]}")
  [ "$mode" = hang ] && [ $r -eq $((nranks - 1)) ] && cmd=(sleep $((proc_timeout * 10)))
  timeout -k 5 "$proc_timeout" ip netns exec "$(netns_name $h)" "${cmd[@]}" \
    >"$logs/rank$r.out" 2>"$logs/rank$r.err" &
  pids+=($!)
done
statuses=()
for ((r = 0; r < nranks; r++)); do
  s=0
  wait "${pids[$r]}" || s=$?
  statuses+=("$s")
done
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))ms
echo "exit statuses by rank: ${statuses[*]} (124: killed at the ${proc_timeout}s timeout); ${elapsed}"

show_logs() {
  for ((r = 0; r < nranks; r++)); do
    echo "---- rank $r (host $((r / per_host))) stdout"; cat "$logs/rank$r.out"
    echo "---- rank $r stderr"; cat "$logs/rank$r.err"
  done
}
fail() { echo "FAIL: $*"; show_logs; exit 1; }
[ -z "${NETNS_SHOW:-}" ] || show_logs

case $mode in
  wrong)
    for ((r = 0; r < nranks; r++)); do
      [ "${statuses[$r]}" = 1 ] || fail "rank $r exited ${statuses[$r]}, not 1 (wrong values)"
    done
    grep -q '^# Out of bounds values : [1-9][0-9]* FAILED' "$logs/rank0.out" || fail "the table does not say FAILED"
    echo "PASS: one rank's other input values made every rank exit 1 (wrong values detected)"
    exit 0 ;;
  hang)
    failed=0
    for ((r = 0; r < nranks; r++)); do [ "${statuses[$r]}" = 0 ] || failed=$((failed + 1)); done
    [ "${statuses[$((nranks - 1))]}" = 124 ] || fail "the absent rank was not stopped by the timeout"
    [ $failed -eq "$nranks" ] || fail "only $failed of $nranks ranks failed with one rank absent"
    echo "PASS: with one rank absent every rank failed and the harness stopped all within ${elapsed}"
    exit 0 ;;
esac

for ((r = 0; r < nranks; r++)); do
  [ "${statuses[$r]}" = 0 ] || fail "rank $r exited ${statuses[$r]}"
done
out=$logs/rank0.out
grep -q '^# Out of bounds values : 0 OK' "$out" || fail "rank 0's table does not end with 0 wrong values"
rows=$(grep -cv '^#' "$out" || true)
[ "$rows" -gt 0 ] || fail "rank 0 printed no rows"
bad=$(grep -v '^#' "$out" | awk -v want="$algo/$expect_transport" '$NF != want' | head -3)
[ -z "$bad" ] || fail "rows that did not run $algo/$expect_transport: $bad"
grep -q "INFO: $nranks ranks on $hosts host(s):" "$logs/rank0.err" ||
  fail "rank 0 does not report $nranks ranks on $hosts hosts"
for ((r = 0; r < nranks; r++)); do
  grep -q "INFO: rank $r/$nranks ready on .*, $per_host local ranks, transport $expect_transport\$" "$logs/rank$r.err" ||
    fail "rank $r does not report $per_host local ranks and transport $expect_transport"
done
grep "ranks on .* host(s)" "$logs/rank0.err" | sed 's/^strata [0-9]* INFO: /rank 0: /'
echo "PASS: $rows sizes of $algo/$expect_transport on $hosts hosts x $per_host ranks, every element exact"
