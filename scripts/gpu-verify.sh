#!/usr/bin/env bash
# Targeted checks on the GPU machine after a kernel or feature change, over a build made by
# scripts/build-gpu.sh (build-gpu-pack/ copied along):
#
#   bash scripts/gpu-verify.sh    (on the GPU machine, build-gpu-pack/ copied along)
#
# 1. ctest of CTEST_RE (default: custom operators, tuned profiles, admission, stress on CUDA);
# 2. test_cuda limited to MIRIAM_CUDA_FILTER (default: the recurrent ops and models);
# 3. conformance against PyTorch for CONF_MODELS (default lstm,gru);
# 4. miriam vs PyTorch latency for BENCH_MODELS (default lstm,gru) at the whole GPU and 16 SMs;
# 5. the custom-operator example run, plain and elastic, and tuned on 16 SMs;
# 6. compare of workload A on 8 SMs (partition cannot split them: left out with a note);
# 7. with build-faults-pack carried too (made here: see scripts/test-faults.sh; the pack holds
#    test_faults of a MIRIAM_FAULTS_CUDA=1 build, xz-compressed, and the sanitizer runtimes
#    libasan.so.8 and libubsan.so.1), the allocation- and launch-failure test on the GPU.
# STAGES picks gpu-check's stages (default "tests cuda conformance benchtorch"); SKIP_EXTRA=1
# skips 5 and 6.
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-$PWD/gpu-verify-out}
mkdir -p "$OUT"
# STAGES is a list of stage names
# shellcheck disable=SC2086
CTEST_ARGS="-R ${CTEST_RE:-^(custom_op|coord_profiles|admission|stress_cuda)$}" \
  MIRIAM_CUDA_FILTER=${MIRIAM_CUDA_FILTER:-op/rnn,lstm,gru} CONF_MODELS=${CONF_MODELS:-lstm,gru} \
  BENCHTORCH_ARGS="--models ${BENCH_MODELS:-lstm,gru} --sms 0,16 --quick" OUT=$OUT \
  bash scripts/gpu-check.sh ${STAGES:-tests cuda conformance benchtorch}
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
m=build-gpu/miriam
ex=build-gpu/examples/custom_op
if [[ -f build-faults-pack/test_faults.xz ]]; then
  echo "==== test_faults (fault injection, ASan, CUDA)"
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
    build-faults-pack/test_faults.xz /tmp/test_faults && chmod +x /tmp/test_faults
  (
    set -o pipefail
    ASAN_OPTIONS=protect_shadow_gap=0 LSAN_OPTIONS=suppressions=$PWD/scripts/lsan-cuda.supp \
      LD_LIBRARY_PATH=$PWD/build-faults-pack:$LD_LIBRARY_PATH timeout 400 /tmp/test_faults 2>&1 |
      tee "$OUT/faults.log" | tail -25
  )
  echo "test_faults rc=$?"
fi
[[ -n ${SKIP_EXTRA:-} ]] && exit 0
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
