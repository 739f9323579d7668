#!/bin/bash
# Configures and builds Strata into BUILD_DIR (default build/). Extra arguments go to cmake.
# BUILD_TARGETS (space-separated) builds only those targets (CI's TSan pass needs two binaries).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
# shellcheck disable=SC2086  # BUILD_TARGETS is a list of names
cmake --build "$build" -j "$(nproc)" ${BUILD_TARGETS:+--target $BUILD_TARGETS}
