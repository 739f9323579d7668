#!/bin/bash
# Quick start, command 2: installs what is missing, builds, and runs the whole test suite.
# SANITIZE=address,undefined or SANITIZE=thread builds into build-<name>/ with that sanitizer.
# The multi-host tests on network namespaces (ctest -L netns) need root; without it they skip
# (STRATA_NETNS_REQUIRED=1 makes that a failure, as in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# UCX patches mmap/munmap to track registered memory (its "mmap hooks"); under TSan, whose
# interceptors own those calls, every threaded test binary linked with UCX then crashes at exit.
# The tests register no memory that is unmapped behind UCX's back, so the hooks are not needed.
if [[ "${SANITIZE:-}" == *thread* ]]; then export UCX_MEM_MMAP_HOOK_MODE=none; fi
if [ -n "${SANITIZE:-}" ]; then
  export BUILD_DIR=build-${SANITIZE//,/-}
  # Without CUDA: the sanitizer passes run where no GPU is (CI), so CUDA's host code would only be
  # compiled, which the plain build already does; this way CI also builds the host-only library
  # (STRATA_WITH_CUDA=OFF) that GPU-less users get, and saves the nvcc time.
  scripts/build.sh -DSTRATA_SANITIZE="${SANITIZE//,/;}" -DSTRATA_WITH_CUDA=OFF
else
  scripts/build.sh
fi
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
