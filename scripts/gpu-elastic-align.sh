#!/usr/bin/env bash
# The checks and measurements of the elastic kernels' shared-memory alignment and of shards
# that start without taking (docs/KERNEL_NOTES.md 26), on the GPU machine after `bash
# scripts/gpu-check.sh __none` unpacked the build, with a build of the commit before packed as
# the variant "before" (here: `git worktree add /tmp/before COMMIT`, scripts/build-gpu.sh
# there, then `xz -c /tmp/before/build-gpu/miriam > build-gpu-pack/variants/miriam-before.xz`):
#   1. test_cuda, every case and launch mode;
#   2. the outputs of both builds bit for bit (every zoo model, whole GPU and ALIGN_SMS2 SMs,
#      fp32 and tf32, elastic and plain launches: no kernel's arithmetic changed);
#   3. `miriam steps` over the zoo for both builds (whole GPU and 16 SMs, tf32 and fp32): the
#      sums of the steps per form;
#   4. MDTB workload A (critical ResNet-50, normal VGG-16) under solo and elastic, TF32, 16 SMs
#      and the whole GPU, both builds;
#   5. scripts/bench_gpu.py --quick (GPU time against PyTorch) for the build.
# ALIGN_STAGES picks them (default "tests bits steps mdtb"; "bench" is 5). Logs under $OUT.
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
# shellcheck source=scripts/gpu-steps-lib.sh
. scripts/gpu-steps-lib.sh
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
unpack_variant before
zoo="resnet18 resnet50 vgg16 alexnet squeezenet1_1 mobilenet_v2 cifarnet lstm gru"
stages=" ${ALIGN_STAGES:-tests bits steps mdtb} "
on() { [[ $stages == *" $1 "* ]]; }
on tests && run_test_cuda
if on bits; then
  echo "== bits: before against after"
  bad=0
  for m in $zoo; do
    for sms in 0 "${ALIGN_SMS2:-16}"; do
      for prec in fp32 tf32; do
        for launch in elastic plain; do
          build-gpu/miriam-before run "zoo:$m" --device cuda --sms "$sms" --precision "$prec" \
            --repeat 1 --launch "$launch" --output "$OUT/ref.npy" >/dev/null 2>&1
          if ! timeout 60 build-gpu/miriam run "zoo:$m" --device cuda --sms "$sms" \
            --precision "$prec" --repeat 1 --launch "$launch" --compare "$OUT/ref.npy" --rtol 0 \
            --atol 0 >"$OUT/cmp.log" 2>&1; then
            echo "DIFFERENT: $m sms $sms $prec $launch"
            bad=$((bad + 1))
          fi
        done
      done
    done
  done
  echo "bits: $bad combinations differ"
  rm -f "$OUT/ref.npy" "$OUT/cmp.log"
fi
if on steps; then
  specs=$(for m in $zoo; do printf 'zoo:%s ' "$m"; done)
  steps_builds "miriam-before miriam" "$specs" "0:tf32 16:tf32 0:fp32 16:fp32"
fi
if on mdtb; then
  for sms in 16 0; do
    for b in miriam-before miriam; do
      echo "== workload A, $b, sms $sms"
      timeout 60 "build-gpu/$b" bench bench/workloads/a.json --device cuda --sms "$sms" \
        --policy solo,elastic --duration 5 --warmup 1 --precision tf32 >"$OUT/a.log" 2>&1
      echo "rc=$?"
      grep -E "^\|" "$OUT/a.log" | head -n 12
    done
  done
  rm -f "$OUT/a.log"
fi
if on bench; then
  timeout 280 python3 scripts/bench_gpu.py --miriam build-gpu/miriam --sms 0,16 --quick \
    --precision fp32,tf32 --out "$OUT/bench.md" >"$OUT/bench.log" 2>&1
  echo "== bench_gpu.py: rc=$?"
  grep -E "^\| " "$OUT/bench.md" 2>/dev/null | head -n 40 || tail -n 5 "$OUT/bench.log"
fi
exit 0
