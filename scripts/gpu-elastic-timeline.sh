#!/usr/bin/env bash
# Where the elastic form of a multi-wave launch loses time against the plain grid, on the GPU
# machine after `bash scripts/gpu-check.sh __none` unpacked the build and with the study
# variant `scripts/build-variant.sh tl src/cuda/conv.cu -DMR_ELASTIC_TIMELINE` packed beside it
# (TL_VARIANT names another): `miriam steps` for TL_MODELS (default ResNet-18 and MobileNet-V2)
# on TL_SMS SMs (default 16) in TF32 with the build, then one run of each with the variant,
# whose convolution blocks print their SM and timestamps, summarised by
# scripts/elastic_timeline.py (docs/KERNEL_NOTES.md, 28). Logs under $OUT.
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
# shellcheck source=scripts/gpu-steps-lib.sh
. scripts/gpu-steps-lib.sh
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
models=${TL_MODELS:-"zoo:resnet18 zoo:mobilenet_v2"}
sms=${TL_SMS:-16}
# shellcheck disable=SC2086 # the model list is split on purpose
timeout 120 build-gpu/miriam steps $models --sms "$sms" --precision tf32 --repeat 30 \
  --csv "$OUT/steps.csv" >"$OUT/steps.log" 2>&1
echo "steps rc=$?"
tl=${TL_VARIANT:-tl}
unpack_variant "$tl"
for m in $models; do
  name=${m#zoo:}
  timeout 60 "build-gpu/miriam-$tl" steps "$m" --sms "$sms" --precision tf32 --repeat 1 \
    --warmup 0 >"$OUT/tl-$name.txt" 2>&1
  echo "timeline $m rc=$? lines=$(grep -c '^etl' "$OUT/tl-$name.txt")"
  python3 scripts/elastic_timeline.py "$OUT/tl-$name.txt" >"$OUT/tl-$name.md"
  cat "$OUT/tl-$name.md"
done
exit 0
