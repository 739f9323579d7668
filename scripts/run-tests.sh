#!/bin/bash
# Quick start, command 2: installs what is missing, builds, and runs the whole test suite.
# SANITIZE=address,undefined or SANITIZE=thread builds into build-<name>/ with that sanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -n "${SANITIZE:-}" ]; then
  export BUILD_DIR=build-${SANITIZE//,/-}
  scripts/build.sh -DSTRATA_SANITIZE="${SANITIZE//,/;}"
else
  scripts/build.sh
fi
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
