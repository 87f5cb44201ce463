#!/usr/bin/env bash
# Kernel parity on the GPU machine, over a build from scripts/build-gpu.sh: the whole zoo
# against PyTorch with scripts/bench_gpu.py (wall-clock and GPU-time tables, fp32 and TF32,
# the whole GPU and 16 SMs: PARITY_SMS, PARITY_MODELS, PARITY_ARGS), then `miriam steps` over
# the models named in PARITY_STEPS (default zoo:vgg16) on the same partitions, in TF32 or in
# PARITY_STEPS_PRECISION.
# Logs: $OUT/parity.md, $OUT/parity.csv, $OUT/parity-bench.log, $OUT/steps.md.
#
#   bash scripts/gpu-parity.sh    (on the GPU machine, build-gpu-pack/ copied along)
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
bash scripts/gpu-check.sh __none >/dev/null 2>&1
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
models=${PARITY_MODELS:-resnet18,resnet50,vgg16,alexnet,squeezenet1_1,mobilenet_v2,cifarnet,lstm,gru}
# shellcheck disable=SC2086
timeout "${T_PARITY_BENCH:-420}" python3 scripts/bench_gpu.py --miriam build-gpu/miriam \
    --models "$models" --sms "${PARITY_SMS:-0,16}" ${PARITY_ARGS:---quick --precision fp32,tf32} \
    --time-limit "${T_PARITY_BENCH:-420}" --out "$OUT/parity.md" --csv "$OUT/parity.csv" \
    >"$OUT/parity-bench.log" 2>&1
echo "bench rc=$?"
grep -E "^verdict|^parity" "$OUT/parity.md" 2>/dev/null || tail -n 20 "$OUT/parity-bench.log"
: >"$OUT/steps.md"
for sms in $(echo "${PARITY_SMS:-0,16}" | tr ',' ' '); do
    for m in ${PARITY_STEPS:-zoo:vgg16}; do
        prec=${PARITY_STEPS_PRECISION:-tf32}
        echo "## build-gpu/miriam steps $m --sms $sms --precision $prec --repeat 20" >>"$OUT/steps.md"
        timeout "${T_PARITY_STEPS:-60}" build-gpu/miriam steps "$m" --sms "$sms" \
            --precision "$prec" --repeat 20 >>"$OUT/steps.md" 2>&1
    done
done
grep -E "^\| all" "$OUT/steps.md"
