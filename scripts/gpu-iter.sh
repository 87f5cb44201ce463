#!/usr/bin/env bash
# One kernel iteration on the GPU machine, over a build from scripts/build-gpu.sh: test_cuda
# (MIRIAM_CUDA_FILTER, default every case; T_TESTS seconds at most), then scripts/gpu-parity.sh
# (the zoo against PyTorch, wall-clock and GPU time) and, with ITER_STEPS, scripts/
# gpu-small-models.sh (miriam steps beside PyTorch's kernels). Logs under $OUT.
#
#   MIRIAM_CUDA_FILTER=op/ bash scripts/gpu-iter.sh    (on the GPU machine, build-gpu-pack/ copied along)
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
bash scripts/gpu-check.sh __none >/dev/null 2>&1
LD_LIBRARY_PATH=$PWD/build-gpu/devlibs timeout "${T_TESTS:-300}" build-gpu/tests/test_cuda \
    >"$OUT/test_cuda.log" 2>&1
echo "test_cuda rc=$?"
grep -E "FAIL|checks" "$OUT/test_cuda.log" | tail -n 8
bash scripts/gpu-parity.sh
[[ -n ${ITER_STEPS:-} ]] && bash scripts/gpu-small-models.sh
exit 0
