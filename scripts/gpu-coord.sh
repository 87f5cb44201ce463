#!/usr/bin/env bash
# The coordinator on the GPU machine: the coordinator test (its CUDA part: every policy,
# outputs equal to solo runs) and workload A under every policy and solo, on 16 SMs and on
# the whole GPU. Runs over a build made by scripts/build-gpu.sh (carry build-gpu-pack):
#
#   run(command="bash scripts/gpu-coord.sh", carry=["build-gpu-pack"])
#
# Environment: DURATION / WARMUP (seconds per run, default 5 / 1), WORKLOADS (default
# bench/workloads/a.json), SMS (default "16 0"; 0 = the whole GPU), POLICIES (default all,solo).
# Output under $OUT: coord-test.log, bench-<workload>-<sms>.md/.json.
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-$PWD/gpu-coord-out}
mkdir -p "$OUT"
# Unpacks the build (and runs the coordinator test through ctest).
T_CTEST=${T_COORD_TEST:-120} CTEST_ARGS='-R ^coord$' bash scripts/gpu-check.sh tests >"$OUT/coord-test.log" 2>&1
tail -5 "$OUT/coord-test.log"
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
for w in ${WORKLOADS:-bench/workloads/a.json}; do
  for s in ${SMS:-16 0}; do
    name=$(basename "$w" .json)-$s
    args=(--device cuda --policy "${POLICIES:-all,solo}" --duration "${DURATION:-5}"
      --warmup "${WARMUP:-1}")
    ((s > 0)) && args+=(--sms "$s")
    echo "==== $w sms=$s"
    timeout "${T_BENCH_RUN:-150}" build-gpu/miriam bench "$w" "${args[@]}" -o md --out "$OUT/bench-$name.md" \
      2>"$OUT/bench-$name.err"
    echo "rc=$?"
    cat "$OUT/bench-$name.md" "$OUT/bench-$name.err"
  done
done
