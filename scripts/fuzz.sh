#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang into build-fuzz and runs each for a
# bounded time, starting from generated seed corpora (tests/fuzz/make_corpus.sh). Fails if any
# harness finds a crash, a sanitizer report, a leak, a timeout or an out-of-memory; the
# reproducer is left in build-fuzz/fuzz-artifacts/<harness>/ (see docs/ROBUSTNESS.md).
#   FUZZ_SECONDS          seconds per harness (default 60)
#   FUZZ_HARNESSES        which harnesses (default: fuzz_onnx fuzz_npy fuzz_workload)
#   MIRIAM_FUZZ_BUILD_DIR build directory (default build-fuzz)
# Extra arguments go to every harness (e.g. -runs=1000000 or -seed=1).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${MIRIAM_FUZZ_BUILD_DIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
read -r -a harnesses <<<"${FUZZ_HARNESSES:-fuzz_onnx fuzz_npy fuzz_workload}"

command -v clang >/dev/null || { echo "fuzz: clang not found (scripts/install-deps.sh)" >&2; exit 1; }
cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMIRIAM_FUZZ=ON \
    -DMIRIAM_TESTS=OFF -DMIRIAM_CUDA=OFF >/dev/null
cmake --build "$dir" -j"$(nproc)" --target "${harnesses[@]}" >/dev/null
tests/fuzz/make_corpus.sh "$dir/fuzz-corpus"

failed=()
for h in "${harnesses[@]}"; do
    # New inputs go to fuzz-work (the first directory); the seeds are only read.
    work=$dir/fuzz-work/$h
    artifacts=$dir/fuzz-artifacts/$h
    mkdir -p "$work" "$artifacts"
    dict=()
    case $h in
    fuzz_onnx) dict=(-dict=tests/fuzz/onnx.dict) ;;
    fuzz_npy) dict=(-dict=tests/fuzz/npy.dict) ;;
    fuzz_workload) dict=(-dict=tests/fuzz/workload.dict) ;;
    esac
    echo "fuzz: $h for ${seconds}s"
    # -timeout: one input running this long is a hang. -rss_limit_mb: the fuzzing build caps
    # each allocation at 64 MiB, so no input of these sizes needs anywhere near 2 GiB.
    if ! "$dir/tests/fuzz/$h" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "$@" \
        "$work" "$dir/fuzz-corpus/$h" >"$dir/fuzz-$h.log" 2>&1; then
        tail -n 60 "$dir/fuzz-$h.log" >&2
        echo "fuzz: $h FAILED: reproducer in $artifacts/ (log $dir/fuzz-$h.log)" >&2
        failed+=("$h")
        continue
    fi
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
        "$dir/fuzz-$h.log" | sed "s/^/fuzz: $h: /"
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: failures in ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: all harnesses passed"
