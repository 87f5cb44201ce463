#!/usr/bin/env bash
# Runs the test suite under Valgrind's memcheck (ctest -T memcheck) on a build without
# sanitizers, and fails on any memory error or definite leak (see docs/ROBUSTNESS.md,
# "Valgrind"). By default it reuses build/, the build of scripts/test.sh (Release, with the
# CUDA backend when nvcc is present: without a GPU driver the CUDA runtime gives up at once,
# and Valgrind stays quiet). Long tests run a reduced load, and a few tests are left out
# (their names and why: below). Extra arguments go to ctest (e.g. -R stress).
#   MIRIAM_VALGRIND_BUILD_DIR  build directory (default build)
#   MIRIAM_CMAKE_ARGS          extra CMake arguments when configuring it
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
command -v valgrind >/dev/null || { echo "valgrind: not found (scripts/install-deps.sh)" >&2; exit 1; }
dir=${MIRIAM_VALGRIND_BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DMIRIAM_WERROR=ON ${MIRIAM_CMAKE_ARGS:-} >/dev/null
cmake --build "$dir" -j"$(nproc)" >/dev/null

# Reduced loads (each test documents its knob). The stress test keeps every policy, task
# and thread, with 1000 requests per policy instead of ~167000; the zoo test builds, runs and
# checks one model (cifarnet, against its reference) instead of every model at full size, and
# the export test exports, re-imports and runs that one model.
export MIRIAM_STRESS_REQUESTS=${MIRIAM_STRESS_REQUESTS:-6000}
export MIRIAM_ZOO_ONLY=${MIRIAM_ZOO_ONLY:-cifarnet}

# Left out:
#  conformance, mdtb_torch  shell scripts driving the CLI and PyTorch (nothing of ours runs
#                           in the process Valgrind would watch);
#  coord                    full-size models (resnet18, squeezenet1_1) in every policy, with
#                           no size knob: over 15 minutes under Valgrind (the coordinator's
#                           code runs under Valgrind in stress, admission, coord_profiles
#                           and custom_op, which drive it under every policy);
#  compare                  its checks need ~20 requests to complete within 0.2-0.4 s
#                           workloads, which a 50x slowdown does not allow;
#  stress_cuda              the GPU variant of stress;
#  faults                   only exists in the fault-injection build (scripts/test-faults.sh).
exclude='^(conformance|mdtb_torch|coord|compare|stress_cuda|faults)$'

# ctest reads the memory checker from DartConfiguration.tcl. --error-exitcode fails a test
# on any error Valgrind reports, definite leaks included (possible leaks are left to the
# report: BLIS keeps its memory pools in statics).
valgrind=$(command -v valgrind)
cat >"$dir/DartConfiguration.tcl" <<EOF
MemoryCheckCommand: $valgrind
MemoryCheckCommandOptions: --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --num-callers=30 --track-origins=no
MemoryCheckSuppressionFile: $PWD/scripts/valgrind.supp
EOF
rm -rf "$dir/Testing/Temporary/MemoryChecker."*
status=0
ctest --test-dir "$dir" -T memcheck -E "$exclude" -j"$(nproc)" --output-on-failure "$@" || status=$?
# Any log with an error summary above 0 is a failure even if its test passed.
bad=$(grep -l -E "ERROR SUMMARY: [1-9]" "$dir"/Testing/Temporary/MemoryChecker.*.log 2>/dev/null || true)
if [[ -n "$bad" ]]; then
  for f in $bad; do
    echo "valgrind: errors in $f:" >&2
    grep -E "^==[0-9]+== " "$f" | head -n 80 >&2
  done
  status=1
fi
exit "$status"
