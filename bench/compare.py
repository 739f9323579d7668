#!/usr/bin/env python3
"""Side-by-side all-reduce comparison of strata-bench and a peer (../shared/peers/run.sh),
float32 sum, out-of-place, on this machine, in the same session.

The machine is noisy and its speed drifts between runs, so the two are interleaved: ROUNDS times
(strata, peer); the median per size of each is reported with the ratio strata/peer.

Usage: bench/compare.py --ranks 2 --peer ompi [--rounds 3] [--max 256M] [--target 0.3]
       [--bench build/bench/strata-bench] [--peers ../shared/peers/run.sh] [--markdown FILE]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys


def parse_size(text):
    m = re.fullmatch(r"(\d+)([KMG]?)", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {text}")
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)]


def run_strata(args):
    cmd = [args.bench, "--ranks", str(args.ranks), "-b", "8", "-e", str(args.max), "-f", "2",
           "-d", "float", "-o", "sum", "--target-seconds", str(args.target)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if line.startswith("#") or len(f) < 13:
            continue
        rows[int(f[0])] = (float(f[5]), float(f[7]), int(f[8]), f[-1])  # time us, busbw, wrong, algo
    return rows, " ".join(cmd)


def run_peer(args):
    cmd = [args.peers, args.peer, str(args.ranks), str(args.max), str(args.target)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if line.startswith("#") or len(f) < 9 or not f[0].isdigit():
            continue
        rows[int(f[0])] = (float(f[3]), float(f[7]), 0 if f[8] == "OK" else 1, args.peer)
    return rows, " ".join(cmd)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--peer", default="ompi")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--max", type=parse_size, default=256 << 20)
    p.add_argument("--target", type=float, default=0.3)
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--bench", default=os.path.join(here, "..", "build", "bench", "strata-bench"))
    p.add_argument("--peers", default=os.path.join(here, "..", "..", "shared", "peers", "run.sh"))
    p.add_argument("--markdown", help="also write the table to this file")
    args = p.parse_args()

    strata_runs, peer_runs = [], []
    for r in range(args.rounds):
        print(f"# round {r + 1}/{args.rounds}", file=sys.stderr, flush=True)
        rows, strata_cmd = run_strata(args)
        strata_runs.append(rows)
        rows, peer_cmd = run_peer(args)
        peer_runs.append(rows)

    def median(runs, size, i):
        vals = [run[size][i] for run in runs if size in run]
        return statistics.median(vals) if vals else float("nan")

    sizes = sorted(set(strata_runs[0]) & set(peer_runs[0]))
    lines = [
        f"ranks {args.ranks}, float32 sum, out-of-place; medians of {args.rounds} interleaved rounds",
        f"strata: `{strata_cmd}`",
        f"peer:   `{peer_cmd}`",
        "",
        f"| size (B) | strata time (us) | {args.peer} time (us) | time ratio | strata busbw (GB/s) | {args.peer} busbw (GB/s) | busbw ratio | wrong | algorithm |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in sizes:
        st, pt = median(strata_runs, s, 0), median(peer_runs, s, 0)
        sb, pb = median(strata_runs, s, 1), median(peer_runs, s, 1)
        wrong = sum(run[s][2] for run in strata_runs if s in run)
        algo = strata_runs[-1][s][3]
        lines.append(f"| {s} | {st:.2f} | {pt:.2f} | {st / pt:.2f} | {sb:.2f} | {pb:.2f} | "
                     f"{(sb / pb if pb > 0 else float('nan')):.2f} | {wrong} | {algo} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
