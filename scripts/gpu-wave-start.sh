#!/usr/bin/env bash
# What the preemptible form pays for its yield reads (docs/KERNEL_NOTES.md 34), on the GPU
# machine after `bash scripts/gpu-check.sh __none` unpacked the build, with study variants
# packed beside it by scripts/build-variant.sh:
#   scripts/build-variant.sh noread src/cuda/conv.cu -DMR_STUDY_WAVE_NO_READ
#   scripts/build-variant.sh takenoread src/cuda/conv.cu -DMR_STUDY_TAKE_NO_READ
#   scripts/build-variant.sh gemvb3 src/cuda/gemm.cu -DMR_STUDY_GEMV_MIN_BLOCKS=3
# `miriam steps` over the CNNs of the zoo (WAVE_MODELS), TF32, whole GPU and 16 SMs
# (WAVE_CONFIGS), for the build and each variant named in WAVE_VARIANTS (default "noread
# takenoread"). Logs under $OUT.
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
# shellcheck source=scripts/gpu-steps-lib.sh
. scripts/gpu-steps-lib.sh
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
builds="miriam"
for v in ${WAVE_VARIANTS-noread takenoread}; do
  if unpack_variant "$v"; then builds="$builds miriam-$v"; else echo "no variant $v"; fi
done
specs=""
for m in ${WAVE_MODELS:-resnet18 resnet50 vgg16 alexnet squeezenet1_1 mobilenet_v2}; do specs="$specs zoo:$m"; done
steps_builds "$builds" "$specs" "${WAVE_CONFIGS:-0:tf32 16:tf32}"
