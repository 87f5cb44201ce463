#!/usr/bin/env bash
# Targeted checks on the GPU machine after a kernel or feature change, over a build made by
# scripts/build-gpu.sh (carry build-gpu-pack):
#
#   run(command="bash scripts/gpu-verify.sh", carry=["build-gpu-pack"])
#
# 1. ctest of CTEST_RE (default: custom operators, tuned profiles, admission, stress on CUDA);
# 2. test_cuda limited to MIRIAM_CUDA_FILTER (default: the recurrent ops and models);
# 3. conformance against PyTorch for CONF_MODELS (default lstm,gru);
# 4. miriam vs PyTorch latency for BENCH_MODELS (default lstm,gru) at the whole GPU and 16 SMs;
# 5. the custom-operator example run, plain and elastic, and tuned on 16 SMs;
# 6. compare of workload A on 8 SMs (partition cannot split them: left out with a note).
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-$PWD/gpu-verify-out}
mkdir -p "$OUT"
CTEST_ARGS="-R ${CTEST_RE:-^(custom_op|coord_profiles|admission|stress_cuda)$}" \
  MIRIAM_CUDA_FILTER=${MIRIAM_CUDA_FILTER:-op/rnn,lstm,gru} CONF_MODELS=${CONF_MODELS:-lstm,gru} \
  BENCHTORCH_ARGS="--models ${BENCH_MODELS:-lstm,gru} --sms 0,16 --quick" OUT=$OUT \
  bash scripts/gpu-check.sh tests cuda conformance benchtorch
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
m=build-gpu/miriam
ex=build-gpu/examples/custom_op
echo "==== custom operator example"
(cd "$ex" && ./miriam_example_make_model scaled_tanh.onnx) && for launch in plain elastic; do
  $m run "$ex/scaled_tanh.onnx" --op-library "$ex/libmiriam_example_ops.so" --device cuda \
    --launch $launch --repeat 20 2>&1 | tail -3
done
MIRIAM_CACHE_DIR=$OUT/cache $m tune "$ex/scaled_tanh.onnx" --op-library "$ex/libmiriam_example_ops.so" \
  --device cuda --sms 16 --quick 2>&1 | tail -6
rm -rf "$OUT/cache"
echo "==== compare on 8 SMs"
$m compare bench/workloads/a.json --device cuda --sms 8 --duration 0.5 --warmup 0.2 --no-plots \
  -o /tmp/compare-8 2>&1 | tail -14
rm -f "$OUT"/ctest-full.log
