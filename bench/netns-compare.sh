#!/bin/bash
# Strata against MPI peers between two hosts made of network namespaces on this machine
# (scripts/netns.sh: two namespaces, veth pairs to a bridge, 1500-byte MTU), one rank in each:
#   strata tcp : strata-bench, STRATA_TRANSPORT=tcp
#   ompi tcp   : Open MPI (ob1, --mca btl tcp,self), mpirun in host 0 starting the remote rank
#                through scripts/netns.sh as its rsh agent
#   strata ucx : strata-bench, STRATA_TRANSPORT=ucx UCX_TLS=tcp (skipped, with the reason, while
#                this build has no UCX transport)
#   mpich ucx  : MPICH (ch4:ucx) with UCX_TLS=tcp, hydra in host 0 with the same agent
# The same method for all: float32 sum, out-of-place, 8 B .. MAX doubling, each size timed for
# about TARGET seconds, time = max over ranks of the mean per op, busbw = algbw * 2(n-1)/n
# (= algbw for 2 ranks), every element checked (../shared/peers/BASELINES.md). The runs are
# interleaved ROUNDS times and the median per size is reported (bench/results/README.md).
# Every process runs under a timeout; the namespaces are removed on every exit path.
#
# Usage: bench/netns-compare.sh [--rounds 3] [--max 256M] [--target 0.5]
#          [--bench build/bench/strata-bench] [--out bench/results/<date>-allreduce-netns-2hosts.md]
# Needs root, iproute2, the peers (../shared/peers/build.sh builds them into $PEERS_BIN, default
# /tmp/strata-peers, and is run here when they are missing) and python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
rounds=3
max=256M
target=0.5
bench=$root/build/bench/strata-bench
out=$root/bench/results/$(date -u +%Y-%m-%d)-allreduce-netns-2hosts.md
run_timeout=${NETNS_RUN_TIMEOUT:-900}
cmdline="bench/netns-compare.sh $*"
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --max) max=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --bench) bench=$(realpath "$2"); shift 2 ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "netns-compare: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case $max in
  *K) max_bytes=$((${max%K} << 10)) ;;
  *M) max_bytes=$((${max%M} << 20)) ;;
  *G) max_bytes=$((${max%G} << 30)) ;;
  *) max_bytes=$max ;;
esac
[ -x "$bench" ] || { echo "netns-compare: no strata-bench at $bench (scripts/build.sh, or --bench)" >&2; exit 2; }
peers_dir=$(cd "$root/../shared/peers" 2>/dev/null && pwd) ||
  { echo "netns-compare: no ../shared/peers beside the checkout" >&2; exit 2; }
peers_bin=${PEERS_BIN:-/tmp/strata-peers}
[ -x "$peers_bin/allreduce_ompi" ] && [ -x "$peers_bin/allreduce_mpich" ] || "$peers_dir/build.sh" >&2

export NETNS_SUBNET=${NETNS_SUBNET:-10.201.0}
netns=$root/scripts/netns.sh
# shellcheck source=../scripts/netns.sh
source "$netns"
work=""
sampler=""
netns_cleanup_hook() {
  [ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
  [ -z "$work" ] || rm -rf "$work"
}
# Distinct hostnames too: the MPI launchers and libraries tell hosts apart by name.
export NETNS_HOSTNAMES=1
NETNS_TAG="bench" netns_up 2
work=$(mktemp -d /tmp/strata-netns-compare.XXXXXX)
a0=$(netns_addr 0)
a1=$(netns_addr 1)
# The launchers' ssh stand-in (plm_rsh_agent takes no arguments, -launcher-exec a path).
agent=$work/agent
printf '#!/bin/sh\nexec %q agent "$@"\n' "$netns" >"$agent"
chmod +x "$agent"

strata_ucx_reason=""
transport_doc=$("$bench" --help-env | grep '^STRATA_TRANSPORT' || true)
grep -q ucx <<<"$transport_doc" ||
  strata_ucx_reason="this build's STRATA_TRANSPORT has no ucx value (strata-bench --help-env: ${transport_doc#STRATA_TRANSPORT*default })"

sweep=(-b 8 -e "$max_bytes" -f 2 -d float -o sum --target-seconds "$target")
# Each run's command as recorded (host 0's part); the runner below is what executes it.
declare -A shown
shown[strata-tcp]="STRATA_TRANSPORT=tcp STRATA_RANK=<0|1> STRATA_NRANKS=2 STRATA_ROOT_ADDR=$a0:29500 strata-bench ${sweep[*]}   (one process in each namespace)"
shown[strata-ucx]="STRATA_TRANSPORT=ucx UCX_TLS=tcp STRATA_RANK=<0|1> STRATA_NRANKS=2 STRATA_ROOT_ADDR=$a0:29500 strata-bench ${sweep[*]}   (one process in each namespace)"
# shellcheck disable=SC2054  # the commas are in --host's value
ompi=(mpirun.openmpi --allow-run-as-root --bind-to none -np 2 --host "$a0,$a1"
      --mca plm_rsh_agent "$agent" --mca pml ob1 --mca btl tcp,self
      --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0
      "$peers_bin/allreduce_ompi" "$max_bytes" "$target")
mpich=(mpirun.mpich -launcher ssh -launcher-exec "$agent" -hosts "$a0,$a1" -np 2
       -genv UCX_TLS tcp -genv UCX_NET_DEVICES eth0
       "$peers_bin/allreduce_mpich" "$max_bytes" "$target")
shown[ompi-tcp]="${ompi[*]}   (in namespace 0; the agent starts rank 1's orted in namespace 1)"
shown[mpich-ucx]="${mpich[*]}   (in namespace 0; the agent starts rank 1's proxy in namespace 1)"

# run NAME ROUND: one sweep; rank 0's table in $work/NAME.ROUND.out
run() {
  local name=$1 round=$2 o=$work/$1.$2.out e=$work/$1.$2.err
  echo "netns-compare: round $round: $name" >&2
  local rc=0
  case $name in
    strata-*)
      local env=(STRATA_TRANSPORT=tcp) pids=() r
      [ "$name" = strata-ucx ] && env=(STRATA_TRANSPORT=ucx UCX_TLS=tcp UCX_NET_DEVICES=eth0)
      for r in 0 1; do
        timeout -k 5 "$run_timeout" "$netns" exec $r \
          env "${env[@]}" STRATA_RANK=$r STRATA_NRANKS=2 STRATA_ROOT_ADDR="$a0:29500" \
          "$bench" "${sweep[@]}" >"$o.$r" 2>"$e.$r" &
        pids+=($!)
      done
      for r in 0 1; do wait "${pids[$r]}" || rc=$?; done
      mv "$o.0" "$o"; cat "$e.0" "$e.1" >"$e"; rm -f "$o.1" "$e.0" "$e.1" ;;
    ompi-tcp) timeout -k 5 "$run_timeout" "$netns" exec 0 "${ompi[@]}" >"$o" 2>"$e" || rc=$? ;;
    mpich-ucx) timeout -k 5 "$run_timeout" "$netns" exec 0 "${mpich[@]}" >"$o" 2>"$e" || rc=$? ;;
  esac
  if [ $rc -ne 0 ]; then
    echo "netns-compare: $name failed (exit $rc):" >&2
    tail -20 "$o" "$e" >&2
    exit 1
  fi
}

names=(strata-tcp ompi-tcp)
[ -n "$strata_ucx_reason" ] || names+=(strata-ucx)
names+=(mpich-ucx)
started=$(date -u +%Y-%m-%dT%H:%MZ)
# The 1-minute load average every 10 s: the machine is shared, and the two ranks alone make ~2.
(while :; do cut -d' ' -f1 /proc/loadavg; sleep 10; done) >"$work/load" &
sampler=$!
for ((round = 1; round <= rounds; round++)); do
  for name in "${names[@]}"; do run "$name" "$round"; done
done

kill "$sampler" 2>/dev/null || true
sampler=""
load=$(sort -n "$work/load" | awk '{v[NR] = $1} END {printf "%s .. %s (median %s)", v[1], v[NR], v[int((NR + 1) / 2)]}')
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | head -1)
mkdir -p "$(dirname "$out")"
{
  echo "# All-reduce between two hosts (network namespaces), one rank each: Strata vs Open MPI and MPICH"
  echo
  echo "Measured $started on $(hostname) ($(nproc) cores, $(uname -r)), commit $commit${dirty:+ (with uncommitted changes)},"
  echo "with \`$cmdline\`."
  echo "Two network namespaces joined by veth pairs to a Linux bridge (MTU 1500), one rank in each,"
  echo "so every byte crosses the kernel's TCP stack and the bridge; same machine, so the \"network\""
  echo "is memory copies: no wire limit, and the two ranks share the $(nproc) cores with the kernel's"
  echo "network processing. Load average (1 min) during the runs: $load; the two ranks alone make"
  echo "about 2, more means other work shared the cores (the figures then say less)."
  echo "$rounds interleaved rounds, medians per size. float32 sum, out-of-place,"
  echo "time = max over ranks of the mean per op, busbw = algbw = size / time for 2 ranks (computed"
  echo "here from the times, which the tables print with more digits), every element checked."
  echo "Peers: Open MPI $(mpirun.openmpi --version 2>/dev/null | head -1 | awk '{print $NF}'), MPICH $(mpirun.mpich --version 2>/dev/null | awk '/Version:/ {print $2; exit}') (ch4:ucx),"
  echo "UCX $(ucx_info -v 2>/dev/null | awk '/Version/ {print $NF; exit}') (\`../shared/peers/\`, built by its build.sh)."
  echo
  echo "Commands (AGENT = a two-line script running \`scripts/netns.sh agent \"\$@\"\`, the launchers' ssh;"
  echo "the namespaces come from scripts/netns.sh; every process under a timeout):"
  echo
  for name in "${names[@]}"; do echo "- $name: \`${shown[$name]//$agent/AGENT}\`"; done
  [ -z "$strata_ucx_reason" ] || echo "- strata-ucx: not run: $strata_ucx_reason"
  echo
  python3 - "$work" "$rounds" "${names[@]}" <<'EOF'
import statistics, sys
work, rounds, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def parse(path, strata):
    rows = {}
    for line in open(path):
        f = line.split()
        if line.startswith("#") or not f or not f[0].isdigit():
            continue
        # busbw from the time (GB/s = B/us/1e3; busbw = algbw for 2 ranks): the tables print
        # 2 or 3 decimals, too few below 64 KiB.
        size = int(f[0])
        if strata:  # size count type redop root time algbw busbw #wrong ... algorithm
            t, wrong, algo = float(f[5]), int(f[8]), f[-1]
        else:       # size_B count iters time_us min_us avg_us algbw busbw check
            t, wrong, algo = float(f[3]), 0 if f[8] == "OK" else 1, ""
        rows[size] = (t, size / t / 1e3 if t > 0 else float("nan"), wrong, algo)
    return rows

runs = {n: [parse(f"{work}/{n}.{r}.out", n.startswith("strata")) for r in range(1, rounds + 1)] for n in names}

def med(name, size, i):
    vals = [run[size][i] for run in runs.get(name, []) if size in run]
    return statistics.median(vals) if vals else float("nan")

def fmt(x, digits=2):
    return "-" if x != x else f"{x:.{digits}f}"

def ratio(a, b):
    return a / b if b == b and a == a and b > 0 else float("nan")

sizes = sorted(set.intersection(*(set(runs[n][0]) for n in names)))
wrong = {n: sum(run[s][2] for run in runs[n] for s in run) for n in names}
have_ucx = "strata-ucx" in names
algos = sorted({run[s][3] for run in runs["strata-tcp"] for s in run})

print("| size (B) | strata tcp busbw (GB/s) | ompi tcp busbw (GB/s) | strata/ompi | "
      "strata ucx busbw (GB/s) | mpich ucx busbw (GB/s) | strata ucx/mpich |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for s in sizes:
    st, ot = med("strata-tcp", s, 1), med("ompi-tcp", s, 1)
    su, mu = (med("strata-ucx", s, 1) if have_ucx else float("nan")), med("mpich-ucx", s, 1)
    print(f"| {s} | {fmt(st, 3)} | {fmt(ot, 3)} | {fmt(ratio(st, ot))} | {fmt(su, 3)} | {fmt(mu, 3)} | {fmt(ratio(su, mu))} |")
print()
print("Every round's busbw from 1 MiB up (GB/s; rounds in order, to show the spread the medians hide):")
print()
print("| size (B) | " + " | ".join(names) + " |")
print("|---:|" + "---|" * len(names))
for s in [s for s in sizes if s >= 1 << 20]:
    cells = [" / ".join(fmt(run[s][1]) if s in run else "-" for run in runs[n]) for n in names]
    print(f"| {s} | " + " | ".join(cells) + " |")
print()
# The rounds run the implementations one after another, so one round's figures share the
# machine's state; this VM swings about 2x between rounds, which per-column medians do not cancel.
pairs = [(a, b) for a, b in (("strata-tcp", "ompi-tcp"), ("strata-ucx", "mpich-ucx")) if a in names and b in names]
if pairs:
    print("Paired by round: Strata's busbw over the peer's in the same round, from 1 MiB up:")
    print()
    print("| size (B) | " + " | ".join(f"{a}/{b} per round | median" for a, b in pairs) + " |")
    print("|---:|" + "---|---:|" * len(pairs))
    for s in [s for s in sizes if s >= 1 << 20]:
        cells = []
        for a, b in pairs:
            r = [ratio(x[s][1], y[s][1]) for x, y in zip(runs[a], runs[b]) if s in x and s in y]
            cells += [" / ".join(fmt(v) for v in r), fmt(statistics.median(r)) if r else "-"]
        print(f"| {s} | " + " | ".join(cells) + " |")
    print()
print("Time per op (us, medians):")
print()
print("| size (B) | strata tcp | ompi tcp | strata/ompi | strata ucx | mpich ucx | strata ucx/mpich |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for s in [s for s in sizes if s <= 1024]:
    st, ot = med("strata-tcp", s, 0), med("ompi-tcp", s, 0)
    su, mu = (med("strata-ucx", s, 0) if have_ucx else float("nan")), med("mpich-ucx", s, 0)
    print(f"| {s} | {fmt(st, 3)} | {fmt(ot, 3)} | {fmt(ratio(st, ot))} | {fmt(su, 3)} | {fmt(mu, 3)} | {fmt(ratio(su, mu))} |")
print()
big = [s for s in sizes if s >= 1 << 20]
def verdict(a, b, label):
    if not big or a not in runs or b not in runs:
        return f"- {label}: not measured"
    lose = [s for s in big if not ratio(med(a, s, 1), med(b, s, 1)) >= 1.0]
    return (f"- {label} at every size >= 1 MiB: " + ("yes" if not lose else
            "no (below at " + ", ".join(f"{s >> 20} MiB" for s in lose) + ")"))
print("Against the issue's targets:")
print()
print(verdict("strata-tcp", "ompi-tcp", "Strata tcp busbw >= Open MPI tcp"))
t8 = ratio(med("strata-tcp", 8, 0), med("ompi-tcp", 8, 0)) if 8 in sizes else float("nan")
print(f"- Strata tcp time at 8 B <= Open MPI tcp: {'yes' if t8 <= 1.0 else 'no'} ({fmt(med('strata-tcp', 8, 0))} us vs {fmt(med('ompi-tcp', 8, 0))} us)")
print(verdict("strata-ucx", "mpich-ucx", "Strata ucx busbw >= MPICH ucx"))
print()
print("Wrong elements (all rounds): " + ", ".join(f"{n} {wrong[n]}" for n in names)
      + f". Strata's algorithm: {', '.join(algos)}.")
EOF
  echo
  echo "Every round's rank-0 table:"
  echo
  echo "<details><summary>raw output</summary>"
  echo
  for ((round = 1; round <= rounds; round++)); do
    for name in "${names[@]}"; do
      echo "#### $name, round $round"
      echo
      echo '```'
      cat "$work/$name.$round.out"
      echo '```'
      echo
    done
  done
  echo "</details>"
} >"$out"
echo "netns-compare: wrote $out" >&2
sed -n '/^| size/,/^Wrong/p' "$out"
