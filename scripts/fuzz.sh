#!/bin/bash
# Fuzzes the topology file readers (NCCL XML, hwloc XML) and the parsers of what bootstrap roots,
# ranks and transport peers receive (bootstrap_wire) with libFuzzer, ASan and UBSan: configures a
# separate Clang build in build-fuzz (BUILD_DIR overrides), builds the three fuzz targets and runs
# each for SECONDS (default 30). Crashing inputs are kept in build-fuzz/fuzz-artifacts/<target>/.
# Usage: scripts/fuzz.sh [SECONDS]   search for SECONDS per target (default 30)
#        scripts/fuzz.sh ci          the bounded, repeatable runs CI makes (ctest -L fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
build=${BUILD_DIR:-build-fuzz}

# The library is instrumented for coverage (fuzzer-no-link) and sanitized like the targets.
# Without CUDA: the topology file readers have no GPU code, and the normal build compiles it.
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSTRATA_SANITIZE="address;undefined" -DSTRATA_WITH_CUDA=OFF \
  -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link \
  -DSTRATA_BUILD_TESTS=ON -DSTRATA_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target fuzz_nccl_xml fuzz_hwloc_xml fuzz_bootstrap_wire -j "${JOBS:-$(nproc)}"

if [ "$seconds" = ci ]; then
  cd "$build" && exec ctest --output-on-failure -j "$(nproc)" -L fuzz
fi

# Leaks inside libhwloc itself are suppressed (see the file).
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
status=0
for target in nccl_xml hwloc_xml bootstrap_wire; do
  corpus="$build/tests/fuzz/corpus_$target"
  artifacts="$build/fuzz-artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  echo "== fuzz_$target for ${seconds}s (corpus $corpus)"
  if ! "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus"; then
    echo "fuzz_$target found a bug: see $artifacts/" >&2
    status=1
  fi
done
exit $status
