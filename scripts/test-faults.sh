#!/usr/bin/env bash
# Allocation-failure test: configures build-faults with MIRIAM_FAULT_INJECTION=ON and
# AddressSanitizer (whose leak checker the test queries), builds tests/test_faults.c and runs
# it: the scenario is repeated with the 1st, 2nd, 3rd, ... allocation failing until it
# completes (see docs/ROBUSTNESS.md). Extra arguments go to ctest.
#   MIRIAM_FAULTS_BUILD_DIR  build directory (default build-faults)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${MIRIAM_FAULTS_BUILD_DIR:-build-faults}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMIRIAM_ASAN=ON -DMIRIAM_CUDA=OFF \
    -DMIRIAM_FAULT_INJECTION=ON -DMIRIAM_WERROR=ON >/dev/null
cmake --build "$dir" -j"$(nproc)" --target test_faults >/dev/null
exec ctest --test-dir "$dir" --output-on-failure -R '^faults$' "$@"
