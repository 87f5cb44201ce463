#!/usr/bin/env bash
# A quick comparison of recurrent study variants (scripts/build-variant.sh) with the build
# itself, on the GPU machine, after `bash scripts/gpu-check.sh __none` unpacked the build:
#   1. each variant's lstm/gru outputs against the build's, bit for bit, per width and precision;
#   2. `miriam steps` (sum of the steps, plain and elastic) for the build and each variant, in
#      turn, RNN_REPS times, so that drift of the GPU's clocks shows as a difference between
#      repetitions rather than between builds;
#   3. with RNN_BENCH=1, scripts/bench_gpu.py for the build and each variant (against PyTorch).
# Environment: RNN_VARIANTS (names; default every packed one), RNN_SMS (default "16"),
# RNN_PRECISIONS (default "tf32 fp32"), RNN_REPS (default 2), RNN_MODELS (zoo models, default
# "lstm gru"; any zoo model, for variants of other kernel files). Logs under $OUT.
#
#   RNN_VARIANTS="a b" bash scripts/gpu-rnn-variants.sh
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
all=$(find build-gpu-pack/variants -name 'miriam-*.xz' 2>/dev/null | sed 's|.*/miriam-||; s/\.xz$//' | sort)
vs=()
for v in ${RNN_VARIANTS:-$all}; do
  if [[ -f build-gpu-pack/variants/miriam-$v.xz ]]; then
    xz -dc "build-gpu-pack/variants/miriam-$v.xz" >"build-gpu/miriam-$v" && chmod +x "build-gpu/miriam-$v"
    vs+=("$v")
  else
    echo "== $v: no build-gpu-pack/variants/miriam-$v.xz"
  fi
done
sms_list=${RNN_SMS:-16}
models=${RNN_MODELS:-lstm gru}
zoo=$(for m in $models; do printf 'zoo:%s ' "$m"; done)
for v in "${vs[@]}"; do
  for m in $models; do
    for sms in ${sms_list//,/ }; do
      for prec in ${RNN_PRECISIONS:-tf32 fp32}; do
        build-gpu/miriam run "zoo:$m" --device cuda --sms "$sms" --precision "$prec" --repeat 1 \
          --output "$OUT/ref.npy" >/dev/null 2>&1
        "build-gpu/miriam-$v" run "zoo:$m" --device cuda --sms "$sms" --precision "$prec" \
          --repeat 1 --compare "$OUT/ref.npy" --rtol 0 --atol 0 >"$OUT/cmp-$v.log" 2>&1
        echo "== $v: $m, sms $sms, $prec: the build's bits: rc=$?"
      done
    done
  done
done
rm -f "$OUT/ref.npy"
for r in $(seq "${RNN_REPS:-2}"); do
  for b in miriam "${vs[@]/#/miriam-}"; do
    for sms in ${sms_list//,/ }; do
      for prec in ${RNN_PRECISIONS:-tf32 fp32}; do
        # shellcheck disable=SC2086
        timeout 120 "build-gpu/$b" steps $zoo --sms "$sms" --repeat 30 \
          --precision "$prec" >"$OUT/steps-$b-$sms-$prec-$r.log" 2>&1
        echo "== steps $b sms $sms $prec rep $r: rc=$?"
        grep "sum of the steps" "$OUT/steps-$b-$sms-$prec-$r.log"
      done
    done
  done
done
if [[ -n ${RNN_BENCH-} ]]; then
  for b in miriam "${vs[@]/#/miriam-}"; do
    timeout 240 python3 scripts/bench_gpu.py --miriam "build-gpu/$b" --models "${models// /,}" \
      --sms "$sms_list" --quick --precision "${RNN_PRECISIONS%% *}" --out "$OUT/bench-$b.md" \
      >"$OUT/bench-$b.log" 2>&1
    echo "== bench $b: rc=$?"
    grep -E "^\| (${models// /|})" "$OUT/bench-$b.md" 2>/dev/null || tail -n 5 "$OUT/bench-$b.log"
  done
fi
exit 0
