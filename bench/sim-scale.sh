#!/bin/bash
# How long and how much memory the simulator takes for one size on 131,072 ranks (issue #4:
# <= 60 s and <= 8 GiB on the 2-core machine): strata-plan's fast mode on colossus:131k, one
# algorithm and one size per run, each run alone, with the machine otherwise idle. Wall time and
# peak RSS come from /usr/bin/time (the whole process: fabric, schedules and walk), the
# simulated time and simulate()'s own wall time from strata-plan --json. The tests check that such
# runs finish and stay within the memory; speed is measured here, not by a timed test.
#
# Usage: bench/sim-scale.sh [--plan build/src/tools/strata-plan] [--out FILE]
#   default FILE: bench/results/<date>-sim-131k.md
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
plan=$root/build/src/tools/strata-plan
out=$root/bench/results/$(date -u +%Y-%m-%d)-sim-131k.md
while [ $# -gt 0 ]; do
  case $1 in
    --plan) plan=$(realpath "$2"); shift 2 ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "sim-scale: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$plan" ] || { echo "sim-scale: no strata-plan at $plan (build first, or --plan)" >&2; exit 2; }

# algorithm:size: the one strata-plan picks at 1 GiB (hier-radix128-hd, since 2026-11-28; the
# slowest to walk), the one it picked before, a flat log-depth table (halving-doubling) and the
# ring; at 1 MiB, where blocks hold 2 elements, the one strata-plan picks and the slowest flat
# one to walk (mixed radix: every rank walks).
cases="hier-radix128-hd:1G hier-radix-hd:1G hd:256M ring:256M hier-radix-hd:1M radix-hd:1M"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rows=""
for c in $cases; do
  algo=${c%%:*}
  size=${c#*:}
  echo "== $algo $size on colossus:131k" >&2
  /usr/bin/time -f "%e %M" -o "$work/time" timeout 600 "$plan" --fabric colossus:131k -b "$size" -e "$size" \
    --algos "$algo" --json >"$work/out.json"
  read -r wall rss_kb <"$work/time"
  row=$(python3 - "$work/out.json" "$algo" "$size" "$wall" "$rss_kb" <<'EOF'
import json, sys
path, algo, size, wall, rss_kb = sys.argv[1:]
d = json.load(open(path))
a = d["rows"][0]["algorithms"][algo]
size = size.replace("G", " GiB").replace("M", " MiB")
print(f"| {algo} | {size} | {a['time_us']:.1f} | {float(wall):.1f} | {a['wall_s']:.1f} | "
      f"{int(rss_kb) / 1024 / 1024:.2f} | {a['ranks_per_walked_rank']} |")
EOF
)
  echo "$row" >&2
  rows+="$row"$'\n'
done

{
  echo "# The simulator on 131,072 ranks: wall time and memory ($(date -u +%Y-%m-%d))"
  echo
  echo "Machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB; commit $(git -C "$root" rev-parse --short HEAD)."
  echo "Command: \`bench/sim-scale.sh\` (each: \`strata-plan --fabric colossus:131k -b SIZE -e SIZE --algos ALGO --json\` under \`/usr/bin/time\`)."
  echo "Target (issue #4): one size in <= 60 s and <= 8 GiB."
  echo
  echo "| algorithm | size | simulated us | process wall s | simulate() wall s | peak RSS GiB | ranks per walked rank |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s' "$rows"
} >"$out"
echo "sim-scale: wrote $out" >&2
