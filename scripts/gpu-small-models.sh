#!/usr/bin/env bash
# The small zoo models beside PyTorch's own kernels, on the GPU machine, over a build from
# scripts/build-gpu.sh: `miriam steps` (TF32, the whole GPU) and scripts/torch_kernels.py for
# the models in SMALL_MODELS (default squeezenet1_1 mobilenet_v2 cifarnet).
# Logs: $OUT/steps-small.md, $OUT/torch-kernels.md.
#
#   bash scripts/gpu-small-models.sh    (on the GPU machine, build-gpu-pack/ copied along)
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
models=${SMALL_MODELS:-squeezenet1_1 mobilenet_v2 cifarnet}
bash scripts/gpu-check.sh __none >/dev/null 2>&1
# shellcheck disable=SC2086
timeout "${T_SMALL:-120}" python3 scripts/torch_kernels.py $models >"$OUT/torch-kernels.md" 2>&1
echo "torch_kernels rc=$?"
: >"$OUT/steps-small.md"
for m in $models; do
    LD_LIBRARY_PATH=$PWD/build-gpu/devlibs timeout "${T_SMALL:-120}" build-gpu/miriam steps \
        "zoo:$m" --precision tf32 --repeat 20 >>"$OUT/steps-small.md" 2>&1
done
grep -E "^## |^\| all" "$OUT/steps-small.md" "$OUT/torch-kernels.md"
