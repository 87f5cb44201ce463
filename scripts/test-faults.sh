#!/usr/bin/env bash
# Allocation-failure test: configures a build with MIRIAM_FAULT_INJECTION=ON and
# AddressSanitizer (whose leak checker the test queries), builds tests/test_faults.c and runs
# it: the scenario is repeated with the 1st, 2nd, 3rd, ... allocation failing until it
# completes (see docs/ROBUSTNESS.md). Extra arguments go to ctest.
#   MIRIAM_FAULTS_CUDA=1     also build the CUDA backend (default build dir build-faults-cuda):
#                            on a machine with a GPU the test then fails device allocations
#                            and kernel launches too; without one that part is skipped
#   MIRIAM_FAULTS_BUILD_DIR  build directory (default build-faults)
set -euo pipefail
cd "$(dirname "$0")/.."
cuda=OFF
dir=${MIRIAM_FAULTS_BUILD_DIR:-build-faults}
if [[ "${MIRIAM_FAULTS_CUDA:-0}" == 1 ]]; then
    cuda=ON
    dir=${MIRIAM_FAULTS_BUILD_DIR:-build-faults-cuda}
    # The CUDA driver maps memory where ASan keeps its shadow gap, and keeps allocations for
    # the life of the process (suppressed: they are not ours).
    export ASAN_OPTIONS=${ASAN_OPTIONS:-protect_shadow_gap=0}
    export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan-cuda.supp}
fi
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMIRIAM_ASAN=ON -DMIRIAM_CUDA=$cuda \
    -DMIRIAM_FAULT_INJECTION=ON -DMIRIAM_WERROR=ON >/dev/null
cmake --build "$dir" -j"$(nproc)" --target test_faults >/dev/null
exec ctest --test-dir "$dir" --output-on-failure -R '^faults$' "$@"
