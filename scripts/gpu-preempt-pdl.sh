#!/usr/bin/env bash
# Preemptible launches with programmatic dependent launch (docs/KERNEL_NOTES.md 27), on the GPU
# machine after `bash scripts/gpu-check.sh __none` unpacked the build (the change), with the
# build of the commit before packed as the variant "before" and, optionally, further variants
# named in PDL_VARIANTS (build-gpu-pack/variants/miriam-NAME.xz; e.g. a build with the first
# take before the grid-dependency wait):
#   tests  test_cuda, every case and launch mode;
#   steps  `miriam steps` over the CNNs of the zoo (whole GPU and 16 SMs, tf32) for every
#          build, interleaved: the sums of the steps per form, and one CSV of every step;
#   drain  `miriam drain` (VGG-16 and ResNet-50 on 16 SMs, tf32) for every build: how long a
#          preemptible launch takes to leave the SMs once the yield word is set (on the whole
#          GPU VGG-16's heaviest TF32 step ends before a yield catches it: no valid samples);
#   mdtb   MDTB workloads A (normal VGG-16), D (normal ResNet-50) and B (normal ResNet-18)
#          under solo and elastic, tf32, 16 SMs and the whole GPU, every build (5 s each);
#   crit   workloads A and B under elastic alone, whole GPU, tf32, 20 s each, two rounds of
#          the builds in turn: the critical tasks' p99 over 601 and 387 requests.
# PDL_STAGES picks them (default "steps drain"). Logs under $OUT.
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
# shellcheck source=scripts/gpu-steps-lib.sh
. scripts/gpu-steps-lib.sh
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
builds="miriam-before miriam"
for v in before ${PDL_VARIANTS:-}; do
  unpack_variant "$v"
  [[ $v == before ]] || builds="$builds miriam-$v"
done
stages=" ${PDL_STAGES:-steps drain} "
on() { [[ $stages == *" $1 "* ]]; }
on tests && run_test_cuda
if on steps; then
  steps_builds "$builds" "zoo:resnet18 zoo:resnet50 zoo:vgg16 zoo:mobilenet_v2 zoo:squeezenet1_1" \
    "0:tf32 16:tf32"
fi
if on drain; then
  for cfg in "vgg16 16" "resnet50 16"; do
    read -r m sms <<<"$cfg"
    for b in $builds; do
      timeout 60 "build-gpu/$b" drain "zoo:$m" --sms "$sms" --precision tf32 --repeat 200 \
        >"$OUT/drain.log" 2>&1
      echo "== drain $b $m sms $sms: rc=$?"
      grep -iE "p50|p99|drain" "$OUT/drain.log" | tail -n 4
    done
  done
  rm -f "$OUT/drain.log"
fi
if on mdtb; then
  for w in a d b; do
    for sms in 16 0; do
      for b in $builds; do
        echo "== workload $w, $b, sms $sms"
        timeout 60 "build-gpu/$b" bench "bench/workloads/$w.json" --device cuda --sms "$sms" \
          --policy solo,elastic --duration 5 --warmup 1 --precision tf32 >"$OUT/w.log" 2>&1
        echo "rc=$?"
        grep -E "^\|" "$OUT/w.log" | head -n 12
      done
    done
  done
  rm -f "$OUT/w.log"
fi
if on crit; then
  for r in 1 2; do
    for w in a b; do
      for b in $builds; do
        echo "== workload $w, $b, round $r (policy, task, completed, p50, p90, p99, max, req/s)"
        bench_elastic_rows "$b" "$w" 0 20 2
      done
    done
  done
  rm -f "$OUT/w.log"
fi
exit 0
