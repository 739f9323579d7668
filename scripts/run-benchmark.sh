#!/bin/bash
# Quick start, command 1: installs what is missing, builds, and runs the all-reduce benchmark
# on local ranks (2 ranks by default, float32 sum, 8 B to 256 MiB). Extra arguments go to
# strata-bench, e.g. scripts/run-benchmark.sh --ranks 4 -e 64M
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
args=("$@")
[[ " ${args[*]} " == *" --ranks "* ]] || args=(--ranks 2 "${args[@]}")
[[ " ${args[*]} " == *" -e "* ]] || args=(-b 8 -e 256M -f 2 "${args[@]}")
exec build/bench/strata-bench "${args[@]}"
