#!/bin/bash
# strata-plan end to end, as a user runs it: a machine preset, a topology file, a slice of a
# fabric, this host, --json (parsed), --explain, --plot (a real PNG), and bad input (a clear error
# and exit 1). Exit 0 only if all pass; every failure is printed.
#   strata_plan_cli.sh PATH/TO/strata-plan [SHARED/TOPOLOGIES/DIR]
set -u
tool=${1:?path to strata-plan}
topologies=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# run NAME ARGS...: exit 0 and a table with at least one data row.
run() {
  local name=$1
  shift
  if ! "$tool" "$@" >"$work/$name.out" 2>"$work/$name.err"; then
    fail "$name: strata-plan $* exited non-zero: $(head -c 400 "$work/$name.err")"
    return 1
  fi
  if ! grep -qE '^ +[0-9.]+ (B|KiB|MiB|GiB) ' "$work/$name.out"; then
    fail "$name: strata-plan $* printed no size rows: $(head -c 400 "$work/$name.out")"
    return 1
  fi
}

# bad NAME EXPECTED-TEXT ARGS...: exit 1 with the expected text on stderr.
bad() {
  local name=$1 expect=$2
  shift 2
  "$tool" "$@" >"$work/$name.out" 2>"$work/$name.err"
  local rc=$?
  [[ $rc -eq 1 ]] || fail "$name: strata-plan $* exited $rc, expected 1"
  grep -q -- "$expect" "$work/$name.err" || fail "$name: stderr lacks '$expect': $(head -c 300 "$work/$name.err")"
}

run preset --preset dgx-h100 -b 1M -e 64M -f 8 --all
# A single 8x H100 server: the ring's simulated busbw at 512 MiB is within 10 % of NCCL's
# measured 370 GB/s (shared/facts/FABRICS.md).
if run ring8 --preset dgx-h100 -b 512M -e 512M --algos ring; then
  busbw=$(awk '$2 == "MiB" {print $6}' "$work/ring8.out")
  python3 -c "import sys; b=float('$busbw'); sys.exit(0 if 333 <= b <= 407 else 1)" ||
    fail "ring busbw on dgx-h100 is $busbw GB/s, not within 10 % of 370"
fi
run fabric --fabric colossus:100k --ranks 256 -b 8 -e 16M -f 64 --explain
grep -q "traffic (all ranks, simulated)" "$work/fabric.out" || fail "--explain printed no traffic line"
grep -q "phase  0" "$work/fabric.out" || fail "--explain printed no phases"
# --chunk reaches the schedule: a quarter of the default chunk, a quarter of the elements.
if run chunk4m --fabric colossus:100k --ranks 256 -b 1G -e 1G --algos hier-radix-hd --explain &&
   run chunk1m --fabric colossus:100k --ranks 256 -b 1G -e 1G --algos hier-radix-hd --explain --chunk 1M; then
  e4=$(grep -oE 'chunks of [0-9]+ elements' "$work/chunk4m.out" | grep -oE '[0-9]+')
  e1=$(grep -oE 'chunks of [0-9]+ elements' "$work/chunk1m.out" | grep -oE '[0-9]+')
  [[ -n "$e4" && -n "$e1" && $((e1 * 4)) -ge $((e4 - 4)) && $((e1 * 4)) -le $((e4 + 4)) ]] ||
    fail "--chunk 1M gave chunks of '$e1' elements where 4M gives '$e4'"
fi
run host --host 4 --per-host 2 -b 4K -e 1M -f 16
if [[ -n "$topologies" && -f "$topologies/azure-ndv4-topo.xml" ]]; then
  run input --input "$topologies/azure-ndv4-topo.xml" -b 1M -e 1M  # an NCCL topology file
fi

if "$tool" --fabric superpod:1su -b 1K -e 1M -f 32 --json >"$work/json.out" 2>"$work/json.err"; then
  python3 - "$work/json.out" <<'PY' || fail "--json output is not what it promises"
import json, sys
doc = json.load(open(sys.argv[1]))
rows = doc["rows"]
assert len(rows) == 3, rows
for r in rows:
    assert r["time_us"] > 0 and r["busbw_GBps"] > 0, r
    assert 0 < r["fraction_of_bound"] <= 1.0000001, r   # a bound never exceeds what runs
    assert r["algorithm"] in r["algorithms"], r
    assert r["nccl_model"]["time_us"] > 0, r
PY
else
  fail "--json exited non-zero: $(head -c 300 "$work/json.err")"
fi

# Above 8,192 ranks only the cost model's best five within 4x are simulated, the others shown by
# their estimate; --simulate-all simulates every one.
if "$tool" --fabric colossus:100k --ranks 8200 -b 8 -e 8 --json >"$work/pruned.out" 2>"$work/pruned.err" &&
   "$tool" --fabric colossus:100k --ranks 8200 -b 8 -e 8 --algos hier-radix-rd,hier-tree --simulate-all --json \
     >"$work/every.out" 2>"$work/every.err"; then
  python3 - "$work/pruned.out" "$work/every.out" <<'PY' || fail "pruning by estimate is not what --help says"
import json, sys
pruned, every = (json.load(open(f)) for f in sys.argv[1:3])
assert pruned["candidates_pruned_by_estimate"] and not every["candidates_pruned_by_estimate"]
row = pruned["rows"][0]
algos = row["algorithms"]
best = min(a["estimate_us"] for a in algos.values())
simulated = [n for n, a in algos.items() if a["simulated"]]
assert 1 <= len(simulated) <= 5 and len(algos) > len(simulated), algos
assert row["algorithm"] in simulated, row
for name, a in algos.items():
    assert a["simulated"] == ("time_us" in a), a
    if a["simulated"]:
        assert a["estimate_us"] <= 4 * best, (name, a)
for name, a in algos.items():   # what was left out estimates above the simulated or beyond 4x
    if not a["simulated"]:
        assert a["estimate_us"] > 4 * best or all(a["estimate_us"] >= algos[s]["estimate_us"] for s in simulated), name
assert not algos["hier-tree"]["simulated"], algos["hier-tree"]   # about 5x the best at 8 B
assert all(a["simulated"] and a["time_us"] > 0 for a in every["rows"][0]["algorithms"].values()), every
PY
else
  fail "pruning runs exited non-zero: $(head -c 300 "$work/pruned.err" "$work/every.err")"
fi

if "$tool" --preset dgx-h100 -b 1M -e 1G -f 8 --plot "$work/plot.png" >"$work/plot.out" 2>&1; then
  head -c 8 "$work/plot.png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" || fail "--plot did not write a PNG"
else
  if grep -q "built without cairo" "$work/plot.out"; then echo "SKIP: --plot (built without cairo)"
  else fail "--plot exited non-zero: $(head -c 300 "$work/plot.out")"; fi
fi

bad no-source "exactly one of" -b 1K
bad two-sources "exactly one of" --preset dgx-h100 --fabric colossus:100k
bad unknown-fabric "colossus:100k" --fabric no-such-fabric
bad zero-chunk "at least one byte" --preset dgx-h100 -b 1M -e 1M --chunk 0
bad unknown-preset "dgx-h100" --preset no-such-machine
bad bad-size "bad size" --preset dgx-h100 -b 12Q
bad reversed "larger than" --preset dgx-h100 -b 1G -e 1K
bad unknown-algo "known:" --preset dgx-h100 --algos warp-drive
bad unknown-collective "unknown collective" --preset dgx-h100 -c alltoall

if [[ $failures -ne 0 ]]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "strata-plan: all checks passed"
