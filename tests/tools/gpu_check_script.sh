#!/bin/bash
# scripts/gpu-check.sh parses, and on a machine without a GPU stops at once, before building,
# with a message that says so (exit 77), also written to OUTDIR/summary.md. Where a GPU is
# present this test skips (77): the full check takes minutes and is the script's own job.
set -u
script=${1:?usage: gpu_check_script.sh path/to/gpu-check.sh}
bash -n "$script" || { echo "FAIL: $script does not parse"; exit 1; }
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  echo "SKIP: this machine has a GPU; run $script OUTDIR there for the full check"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
GPU_CHECK_BUILD_DIR=$work/build "$script" "$work/results" >"$work/stdout" 2>&1
rc=$?
cat "$work/stdout"
[ "$rc" = 77 ] || { echo "FAIL: exit status $rc, expected 77 (no GPU)"; exit 1; }
grep -q "no GPU on this machine" "$work/stdout" || { echo "FAIL: no clear message on stdout"; exit 1; }
grep -q "no GPU on this machine" "$work/results/summary.md" || { echo "FAIL: summary.md lacks the message"; exit 1; }
[ ! -e "$work/build" ] || { echo "FAIL: it started building before finding out there is no GPU"; exit 1; }
[ $(( $(date +%s) - start )) -le 10 ] || { echo "FAIL: took more than 10 s to say there is no GPU"; exit 1; }
echo "PASS: gpu-check.sh parses and stops without a GPU"
