#!/usr/bin/env bash
# Builds miriam with its tests (installing the Debian dependencies if missing) and runs the
# whole test suite with ctest. Extra arguments go to ctest (e.g. -R golden).
#   MIRIAM_BUILD_DIR  build directory (default build)
#   MIRIAM_CMAKE_ARGS extra CMake arguments (e.g. -DMIRIAM_ASAN=ON)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dir=${MIRIAM_BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DMIRIAM_WERROR=ON ${MIRIAM_CMAKE_ARGS:-} >/dev/null
cmake --build "$dir" -j"$(nproc)"
exec ctest --test-dir "$dir" --output-on-failure "$@"
