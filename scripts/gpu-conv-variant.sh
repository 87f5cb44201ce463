#!/usr/bin/env bash
# A convolution study variant (scripts/build-variant.sh NAME src/cuda/conv.cu ...) against the
# build, on the GPU machine, after `bash scripts/gpu-check.sh __none` unpacked the build:
#   1. the outputs of the variant against those of the build, bit for bit, for each model, width
#      and launch (elastic, plain; the kernels must issue the same tensor-core operations in the
#      same order);
#   2. `miriam steps` (plain and elastic sums, per-step table) for the build and the variant in
#      turn, CONV_REPS times.
# Environment: CONV_VARIANT (name, required), CONV_MODELS (default "vgg16 resnet50"), CONV_SMS
# (default "16 0"), CONV_PRECISION (default tf32), CONV_REPS (default 2). Logs under $OUT.
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
v=${CONV_VARIANT:?CONV_VARIANT: the name of the variant}
xz -dc "build-gpu-pack/variants/miriam-$v.xz" >"build-gpu/miriam-$v" && chmod +x "build-gpu/miriam-$v"
prec=${CONV_PRECISION:-tf32}
models=${CONV_MODELS:-vgg16 resnet50}
for m in $models; do
  for sms in ${CONV_SMS:-16 0}; do
    for launch in elastic plain; do
      build-gpu/miriam run "zoo:$m" --device cuda --sms "$sms" --precision "$prec" --repeat 1 \
        --launch "$launch" --output "$OUT/ref.npy" >/dev/null 2>&1
      timeout 60 "build-gpu/miriam-$v" run "zoo:$m" --device cuda --sms "$sms" --precision "$prec" \
        --repeat 1 --launch "$launch" --compare "$OUT/ref.npy" --rtol 0 --atol 0 \
        >"$OUT/cmp.log" 2>&1
      echo "== $v: $m, sms $sms, $launch: the build's bits: rc=$?"
    done
  done
done
rm -f "$OUT/ref.npy" "$OUT/cmp.log"
zoo=$(for m in $models; do printf 'zoo:%s ' "$m"; done)
for r in $(seq "${CONV_REPS:-2}"); do
  for b in miriam "miriam-$v"; do
    for sms in ${CONV_SMS:-16 0}; do
      # shellcheck disable=SC2086
      timeout 120 "build-gpu/$b" steps $zoo --sms "$sms" --repeat 20 --precision "$prec" \
        >"$OUT/steps-$b-$sms-$r.log" 2>&1
      echo "== steps $b sms $sms rep $r: rc=$?"
      grep -i "sum of the steps" "$OUT/steps-$b-$sms-$r.log"
    done
  done
done
exit 0
