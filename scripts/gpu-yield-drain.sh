#!/usr/bin/env bash
# The elastic policy's yield flag against short critical requests, on the GPU machine, over a
# scripts/build-gpu.sh build (build-gpu-pack/ copied along): runs test_coord (whose CUDA part
# has the "yield drain" case: CifarNet critical requests again and again beside a MobileNet-V2
# normal task, every normal output compared bit for bit) YIELD_REPS times (default 3), and the
# same for each build-gpu-pack/variants/test_coord-NAME.xz named in YIELD_VARIANTS (e.g. a
# test_coord linked against an earlier engine). Logs: $OUT/yield-drain.log.
#
#   YIELD_VARIANTS="old" bash scripts/gpu-yield-drain.sh
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${OUT:-/tmp/yield-drain}
mkdir -p "$out"
log=$out/yield-drain.log
bash scripts/gpu-check.sh __none >/dev/null 2>&1 || true
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
bins=(build-gpu/tests/test_coord)
for v in ${YIELD_VARIANTS:-}; do
  xz -dc "build-gpu-pack/variants/test_coord-$v.xz" >"build-gpu/tests/test_coord-$v"
  chmod +x "build-gpu/tests/test_coord-$v"
  bins+=("build-gpu/tests/test_coord-$v")
done
for b in "${bins[@]}"; do
  for ((r = 1; r <= ${YIELD_REPS:-3}; r++)); do
    echo "== $b, run $r" | tee -a "$log"
    (cd build-gpu/tests && "../../$b" 2>&1) | grep -E "coord: cuda|FAIL|failed|passed" | tee -a "$log"
  done
done
