#!/usr/bin/env bash
# The checks and measurements of the persistent recurrence's computed slots (rnn_pstep's
# `fixed`, docs/KERNEL_NOTES.md 25), on the GPU machine after `bash scripts/gpu-check.sh
# __none` unpacked the build, with a `-DRNN_FIXED=0` variant packed as "nofixed"
# (scripts/build-variant.sh nofixed src/cuda/rnn.cu -DRNN_FIXED=0):
#   1. test_cuda's recurrent op cases and zoo LSTM/GRU, every launch mode, both precisions;
#   2. scripts/gpu-rnn-variants.sh: the variant's bits against the build's, `miriam steps`
#      twice, and bench_gpu.py (GPU time against PyTorch) for both;
#   3. MDTB workload D (critical LSTM, normal ResNet-50) on 16 SMs, TF32, for both;
#   4. compute-sanitizer memcheck and racecheck over the stacked LSTM case in the prefilled and
#      plain modes (the ones that compute their slots).
# Logs under $OUT.
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
echo "== test_cuda, recurrent cases"
MIRIAM_CUDA_FILTER=op/rnn,zoo/lstm,zoo/gru timeout 240 build-gpu/tests/test_cuda >"$OUT/test_rnn.log" 2>&1
echo "rc=$?"
grep -E "checks|FAIL" "$OUT/test_rnn.log" | tail -n 5
echo "== variants"
RNN_VARIANTS=nofixed RNN_SMS=16,0 RNN_PRECISIONS="tf32 fp32" RNN_REPS=2 RNN_BENCH=1 \
  OUT="$OUT/variants" bash scripts/gpu-rnn-variants.sh
for b in miriam miriam-nofixed; do
  echo "== workload D, $b"
  timeout 60 "build-gpu/$b" compare bench/workloads/d.json --sms 16 --duration 4 --warmup 1 \
    --policies priority,elastic --precision tf32 --no-plots -o "$OUT/d-$b" >"$OUT/d-$b.log" 2>&1
  echo "rc=$?"
  grep -E "^\|" "$OUT/d-$b.log" | head -n 12
done
for tool in memcheck racecheck; do
  echo "== compute-sanitizer $tool"
  MIRIAM_CUDA_FILTER=op/rnn/stack_lstm_h512 MIRIAM_CUDA_MODES=prefilled,plain/v0 timeout 120 \
    compute-sanitizer --tool "$tool" --error-exitcode 99 --print-limit 20 \
    build-gpu/tests/test_cuda >"$OUT/san-$tool.log" 2>&1
  echo "rc=$?"
  grep -E "SUMMARY|checks" "$OUT/san-$tool.log" | tail -n 3
done
exit 0
