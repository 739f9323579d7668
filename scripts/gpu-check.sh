#!/bin/bash
# The GPU checks of issue #6 in one command, for a machine with a GPU, nvcc and CMake, and maybe
# nothing else (no network, no apt; fmt, GoogleTest, hwloc and UCX may be missing):
#
#   scripts/gpu-check.sh OUTDIR
#
# 1. builds strata-gpu-check on its own (src/tools/gpu_check: it needs only the CUDA toolkit),
#    for this GPU's architecture, with ninja if there is one, else make;
# 2. runs the GPU kernel tests (every type and op against the CPU kernels, bit for bit), and the
#    GoogleTest GPU tests too where the full build's dependencies are present;
# 3. measures the reduction kernels against a device-to-device copy at 256 MiB;
# 4. all-reduces with 2 and 4 ranks (processes) sharing the GPU through CUDA IPC, bfloat16 sums
#    checked element by element, in an nccl-tests-style table with the ratio to the bound set by
#    the bytes each rank reads and writes;
# 5. checks the stream proxy of device-buffer collectives (stream order, early return, errors);
#    this one needs fmt's headers: where the GPU machine has no fmt, first run
#      scripts/gpu-check.sh --carry-deps
#    on a machine that has it (libfmt-dev): it copies them into .gpu-deps/ (git-ignored), and
#    builds strata-unit-tests there with the shared libraries it needs (for the GoogleTest GPU
#    tests; `--carry-deps --headers-only` skips that), which must then travel with the checkout
#    (e.g. the device tool's `carry: [".gpu-deps"]`);
# 6. lists the GPU topology (CUDA devices, peer access; nvidia-smi topo -m where present).
#
# OUTDIR gets summary.md (the tables and verdicts) and one log per step. Exit status: 0 when
# every check passed, 1 when one failed or missed its performance target, 77 when there is no GPU (said before anything is built).
# About 2-3 minutes on an H100 with 16 cores, most of it the build.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = --carry-deps ]; then
  # fmt's headers, for the header-only build of the stream proxy check on a machine without fmt.
  src=$(pkg-config --variable=includedir fmt 2>/dev/null || echo /usr/include)
  [ -f "$src/fmt/format.h" ] || { echo "gpu-check: no fmt headers in $src/fmt (install libfmt-dev)"; exit 1; }
  mkdir -p "$root/.gpu-deps/include"
  rm -rf "$root/.gpu-deps/include/fmt"
  cp -r "$src/fmt" "$root/.gpu-deps/include/fmt"
  echo "gpu-check: fmt's headers copied to $root/.gpu-deps/include/fmt"
  # The GoogleTest GPU tests need the full build (fmt, pugixml, hwloc, GoogleTest), which a bare
  # GPU machine cannot configure: build strata-unit-tests here (CUDA on, sm_90 too), stripped, with
  # the shared libraries it needs that are not glibc's, so it runs there unchanged.
  if [ "${2:-}" != --headers-only ]; then
    tests_build=${GPU_CHECK_TESTS_BUILD_DIR:-$root/build-gpu-check-tests}
    if cmake -S "$root" -B "$tests_build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_BENCH=OFF \
         >"$root/.gpu-deps/build.log" 2>&1 && cmake --build "$tests_build" --target strata-unit-tests >>"$root/.gpu-deps/build.log" 2>&1; then
      mkdir -p "$root/.gpu-deps/bin" "$root/.gpu-deps/lib"
      strip --strip-debug -o "$root/.gpu-deps/bin/strata-unit-tests" "$tests_build/tests/strata-unit-tests"
      ldd "$tests_build/tests/strata-unit-tests" | awk '$3 ~ /^\// {print $3}' |
        grep -Ev '/(libc|libm|libpthread|libdl|librt|libgcc_s|libstdc\+\+|ld-linux[^/]*)\.so' |
        while read -r lib; do cp -L "$lib" "$root/.gpu-deps/lib/"; done
      echo "gpu-check: strata-unit-tests and $(ls "$root/.gpu-deps/lib" | wc -l) libraries in $root/.gpu-deps ($(du -sh "$root/.gpu-deps" | cut -f1))"
    else
      echo "gpu-check: could not build strata-unit-tests here (.gpu-deps/build.log); the GoogleTest GPU tests will need the full build there"
    fi
  fi
  echo "gpu-check: carry .gpu-deps to the GPU machine"
  exit 0
fi
out=${1:?usage: scripts/gpu-check.sh OUTDIR  (or --carry-deps)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
summary=$out/summary.md
status=0
skipped=""

say() { echo "$@" | tee -a "$summary"; }

# ---- Is there a GPU? -----------------------------------------------------------------------------
# Asked before building, so that a machine without one stops at once with the reason.
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >"$out/nvidia-smi.txt" 2>&1 && grep -q '^GPU' "$out/nvidia-smi.txt"; then
  gpu_found=1
elif ls /dev/nvidia[0-9]* >/dev/null 2>&1; then
  gpu_found=1  # a driver's device node without nvidia-smi: let CUDA decide below
else
  gpu_found=0
fi
if [ "$gpu_found" = 0 ]; then
  echo "gpu-check: no GPU on this machine (no working nvidia-smi, no /dev/nvidia*): nothing to check." | tee "$summary"
  echo "gpu-check: run this on a machine with an NVIDIA GPU, its driver, nvcc and CMake." | tee -a "$summary"
  exit 77
fi

nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -z "$nvcc" ]; then
  say "gpu-check: no nvcc on PATH or in /usr/local/cuda/bin: cannot build"
  exit 1
fi
if ! command -v cmake >/dev/null 2>&1; then
  say "gpu-check: no cmake: cannot build"
  exit 1
fi
generator="Unix Makefiles"
command -v ninja >/dev/null 2>&1 && generator=Ninja
# This GPU's architecture only (a quicker build than CI's sm_80 + sm_90 + PTX).
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
[ -z "$arch" ] && arch=native
jobs=$(nproc 2>/dev/null || echo 4)

{
  echo "# Strata GPU check"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- GPU: $(head -1 "$out/nvidia-smi.txt" 2>/dev/null); CUDA arch $arch; nvcc: $("$nvcc" --version | tail -1)"
  echo "- generator: $generator, $jobs jobs"
  echo
} >"$summary"

# ---- 1. Build ------------------------------------------------------------------------------------
build=${GPU_CHECK_BUILD_DIR:-$root/build-gpu-check}
start=$(date +%s)
if ! { CUDACXX=$nvcc cmake -S "$root/src/tools/gpu_check" -B "$build" -G "$generator" \
         -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$arch" &&
       cmake --build "$build" -j "$jobs"; } >"$out/build.log" 2>&1; then
  say "FAIL: building strata-gpu-check (build.log):"
  tail -20 "$out/build.log" | tee -a "$summary"
  exit 1
fi
say "- built strata-gpu-check in $(( $(date +%s) - start )) s"
check=$build/strata-gpu-check

# step NAME TIMEOUT ARGS...: runs one check, its output to NAME.log and into the summary.
step() {
  local name=$1 limit=$2
  shift 2
  echo >>"$summary"
  echo "## $name" >>"$summary"
  echo >>"$summary"
  timeout "$limit" "$check" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  cat "$out/$name.log" >>"$summary"
  case $rc in
    0) echo "[$name] passed" ;;
    77) echo "[$name] skipped (see its log)"; skipped="$skipped $name" ;;
    3) echo "[$name] exact, but BELOW its performance target" | tee -a "$summary"; status=1 ;;
    124) echo "[$name] TIMED OUT after $limit s" | tee -a "$summary"; status=1 ;;
    *) echo "[$name] FAILED (exit $rc)"; status=1 ;;
  esac
}

# ---- 2-5. The checks -------------------------------------------------------------------------------
step gpu-kernels 120 kernels
step reduce-bandwidth 60 bandwidth 256
step allreduce-2ranks 90 allreduce 2 256
step allreduce-4ranks 90 allreduce 4 256
step stream-proxy 60 proxy
step topology 30 topology
if command -v nvidia-smi >/dev/null 2>&1; then
  { echo; echo '```'; nvidia-smi topo -m 2>&1; echo '```'; } >>"$summary"
fi

# The GoogleTest GPU tests, where the full build's dependencies are here (on a bare GPU machine
# they are usually not: then strata-gpu-check's kernel step above is the same comparison).
full=$root/build-gpu-check-full
if cmake -S "$root" -B "$full" -G "$generator" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$arch" \
     -DSTRATA_BUILD_BENCH=OFF >"$out/full-configure.log" 2>&1; then
  echo >>"$summary"
  echo "## GoogleTest GPU tests" >>"$summary"
  if timeout 240 cmake --build "$full" -j "$jobs" --target strata-unit-tests >"$out/full-build.log" 2>&1 &&
     timeout 120 "$full/tests/strata-unit-tests" --gtest_filter='Gpu*' >"$out/gtest-gpu.log" 2>&1; then
    tail -3 "$out/gtest-gpu.log" >>"$summary"
    echo "[gtest-gpu] passed"
  else
    tail -30 "$out/gtest-gpu.log" "$out/full-build.log" 2>/dev/null >>"$summary"
    echo "[gtest-gpu] FAILED"
    status=1
  fi
elif [ -x "$root/.gpu-deps/bin/strata-unit-tests" ]; then
  # Built elsewhere by --carry-deps (libstdc++ and glibc from here, as new or newer).
  echo >>"$summary"
  echo "## GoogleTest GPU tests (strata-unit-tests carried in .gpu-deps)" >>"$summary"
  if LD_LIBRARY_PATH=$root/.gpu-deps/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} timeout 180 \
       "$root/.gpu-deps/bin/strata-unit-tests" --gtest_filter='Gpu*:CommTopology*' >"$out/gtest-gpu.log" 2>&1; then
    grep -E '^\[  (PASSED|SKIPPED) |^\[==========\]' "$out/gtest-gpu.log" | tail -3 >>"$summary"
    echo "[gtest-gpu] passed"
  else
    tail -40 "$out/gtest-gpu.log" >>"$summary"
    echo "[gtest-gpu] FAILED"
    status=1
  fi
else
  echo >>"$summary"
  echo "- GoogleTest GPU tests not run: the full build does not configure here ($(grep -m1 -i 'error\|could not find' "$out/full-configure.log")) and no strata-unit-tests was carried (scripts/gpu-check.sh --carry-deps)" >>"$summary"
fi

echo >>"$summary"
case $status in
  0) if [ -z "$skipped" ]; then say "RESULT: every GPU check passed"
     else say "RESULT: no check failed, but some were SKIPPED:$skipped (see their logs)"; fi ;;
  77) say "RESULT: skipped, no usable GPU (see the logs)" ;;
  *) say "RESULT: some GPU check FAILED (see the logs in $out)" ;;
esac
echo "gpu-check: results in $out (summary.md)"
exit $status
