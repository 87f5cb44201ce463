#!/usr/bin/env bash
# The coordinator on the GPU machine: the coordinator test (its CUDA part: every policy,
# outputs equal to solo runs) and workload A under every policy and solo, on 16 SMs and on
# the whole GPU. Runs over a build made by scripts/build-gpu.sh (build-gpu-pack/ copied along):
#
#   bash scripts/gpu-coord.sh    (on the GPU machine, build-gpu-pack/ copied along)
#
# Environment: DURATION / WARMUP (seconds per run, default 5 / 1), WORKLOADS (default
# bench/workloads/a.json), SMS (default "16 0"; 0 = the whole GPU), POLICIES (default all,solo),
# PRECISION (fp32 or tf32, default fp32), NO_TEST=1 (skip the test; the build must be unpacked).
# Output under $OUT: coord-test.log, bench-<workload>-<sms>[-tf32].md/.err.
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-$PWD/gpu-coord-out}
mkdir -p "$OUT"
# Unpacks the build (and runs the coordinator test through ctest).
if [[ -z ${NO_TEST:-} ]]; then
  T_CTEST=${T_COORD_TEST:-120} CTEST_ARGS='-R ^coord$' bash scripts/gpu-check.sh tests \
    >"$OUT/coord-test.log" 2>&1
  tail -5 "$OUT/coord-test.log"
fi
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
for w in ${WORKLOADS:-bench/workloads/a.json}; do
  for s in ${SMS:-16 0}; do
    name=$(basename "$w" .json)-$s${PRECISION:+-$PRECISION}
    args=(--device cuda --policy "${POLICIES:-all,solo}" --duration "${DURATION:-5}"
      --warmup "${WARMUP:-1}" --precision "${PRECISION:-fp32}")
    ((s > 0)) && args+=(--sms "$s")
    echo "==== $w sms=$s"
    timeout "${T_BENCH_RUN:-150}" build-gpu/miriam bench "$w" "${args[@]}" -o md --out "$OUT/bench-$name.md" \
      2>"$OUT/bench-$name.err"
    echo "rc=$?"
    cat "$OUT/bench-$name.md" "$OUT/bench-$name.err"
  done
done
