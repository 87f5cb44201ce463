#!/usr/bin/env bash
# The recurrent kernels on the GPU machine, over a build from scripts/build-gpu.sh: test_cuda's
# LSTM/GRU cases (every launch mode; MIRIAM_CUDA_FILTER, default "rnn,lstm,gru"), then
# scripts/bench_gpu.py for the zoo's lstm and gru against PyTorch (RNN_SMS, default "0,16";
# RNN_BENCH_ARGS, default "--quick --precision tf32"). Logs: $OUT/rnn-tests.log, $OUT/rnn.md.
#
#   bash scripts/gpu-rnn.sh    (on the GPU machine, build-gpu-pack/ copied along)
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
bash scripts/gpu-check.sh __none >/dev/null 2>&1
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
MIRIAM_CUDA_FILTER=${MIRIAM_CUDA_FILTER:-rnn,lstm,gru} timeout "${T_RNN_TESTS:-240}" \
    build-gpu/tests/test_cuda >"$OUT/rnn-tests.log" 2>&1
echo "test_cuda rc=$?" | tee -a "$OUT/rnn-tests.log"
tail -n 5 "$OUT/rnn-tests.log"
# shellcheck disable=SC2086
timeout "${T_RNN_BENCH:-240}" python3 scripts/bench_gpu.py --miriam build-gpu/miriam \
    --models lstm,gru --sms "${RNN_SMS:-0,16}" ${RNN_BENCH_ARGS:---quick --precision tf32} \
    --out "$OUT/rnn.md" >"$OUT/rnn-bench.log" 2>&1
echo "bench rc=$?"
cat "$OUT/rnn.md" 2>/dev/null || tail -n 20 "$OUT/rnn-bench.log"
