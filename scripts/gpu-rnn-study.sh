#!/usr/bin/env bash
# The recurrent kernels' study on the GPU machine, over a build from scripts/build-gpu.sh and
# the variants from scripts/build-variant.sh:
#   1. scripts/gpu-rnn.sh: test_cuda's recurrent cases, lstm/gru against PyTorch;
#   2. the same benchmark with one launch per step (--no-persistent-rnn; RNN_PER_STEP= skips);
#   3. each variant in RNN_VARIANTS (names; default every packed one): its lstm/gru outputs
#      checked bit for bit against the build's, then the benchmark; for a variant named
#      *trace* (a -DRNN_TRACE build) its clock stamps per stage of a step instead, on the
#      whole GPU and on 16 SMs;
#   4. PyTorch's own kernels for lstm and gru (scripts/torch_kernels.py; RNN_TORCH_KERNELS=
#      skips).
# RNN_SMS: the partitions benchmarked (default "0,16"). Logs under $OUT.
#
#   bash scripts/gpu-rnn-study.sh    (on the GPU machine, build-gpu-pack/ copied along)
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export OUT
bash scripts/gpu-rnn.sh
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
bench() { # NAME MIRIAM [EXTRA_ARGS]
  timeout "${T_RNN_BENCH:-240}" python3 scripts/bench_gpu.py --miriam "$2" --models lstm,gru \
    --sms "${RNN_SMS:-0,16}" --quick --precision tf32 --miriam-args="${3:-}" \
    --out "$OUT/rnn-$1.md" >"$OUT/rnn-$1.log" 2>&1
  echo "== $1: rc=$?"
  grep -E "^\| (lstm|gru)" "$OUT/rnn-$1.md" 2>/dev/null || tail -n 5 "$OUT/rnn-$1.log"
}
[[ -n ${RNN_PER_STEP-1} ]] && bench per-step build-gpu/miriam --no-persistent-rnn
all=$(find build-gpu-pack/variants -name 'miriam-*.xz' 2>/dev/null | sed 's|.*/miriam-||; s/\.xz$//' | sort)
for v in ${RNN_VARIANTS:-$all}; do
  [[ -f build-gpu-pack/variants/miriam-$v.xz ]] || {
    echo "== $v: no build-gpu-pack/variants/miriam-$v.xz"
    continue
  }
  xz -dc "build-gpu-pack/variants/miriam-$v.xz" >"build-gpu/miriam-$v" && chmod +x "build-gpu/miriam-$v"
  case $v in
  *trace*) # the clock stamps of a -DRNN_TRACE build (src/cuda/rnn.cu), whole GPU and 16 SMs
    for sms in 0 16; do
      timeout 60 "build-gpu/miriam-$v" bench zoo:lstm --device cuda --repeat 3 --warmup 1 \
        --sms "$sms" >"$OUT/$v-sms$sms.log" 2>&1
      echo "== $v, sms $sms: rc=$?"
      grep "^trace" "$OUT/$v-sms$sms.log" | tail -n 4
    done ;;
  *) # the same outputs as the build's own CUDA kernels, bit for bit, then the benchmark
    for m in lstm gru; do
      for sms in 0 16; do
        build-gpu/miriam run "zoo:$m" --device cuda --sms "$sms" --repeat 1 \
          --output "$OUT/ref.npy" >/dev/null 2>&1
        "build-gpu/miriam-$v" run "zoo:$m" --device cuda --sms "$sms" --repeat 1 \
          --compare "$OUT/ref.npy" --rtol 0 --atol 0 >/dev/null 2>&1
        echo "== $v: $m on sms $sms equals the build's output: rc=$?"
      done
    done
    rm -f "$OUT/ref.npy"
    bench "$v" "build-gpu/miriam-$v" ;;
  esac
done
if [[ -n ${RNN_TORCH_KERNELS-1} ]]; then
  timeout 120 python3 scripts/torch_kernels.py lstm gru --top 12 >"$OUT/torch-kernels.md" 2>&1
  echo "== torch kernels: rc=$?"
  cat "$OUT/torch-kernels.md"
fi
exit 0
