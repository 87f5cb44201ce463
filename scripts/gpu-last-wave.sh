#!/usr/bin/env bash
# The checks and measurements of how prefilled launches hand out the blocks past their first
# wave, and of the depthwise kernel (docs/KERNEL_NOTES.md 28-30), on the GPU machine after
# `bash scripts/gpu-check.sh __none` unpacked the build, with a build of the commit before
# packed as the variant "head" (`xz -c
# build-gpu/miriam > build-gpu-pack/variants/miriam-head.xz` before rebuilding):
#   tests   test_cuda, every case and launch mode;
#   bits    the outputs of the builds bit for bit (every zoo model, whole GPU and 16 SMs,
#           TF32, elastic launches: the changes keep every output's arithmetic);
#   steps   `miriam steps` over the zoo's CNNs for the builds (whole GPU and 16 SMs, tf32 and
#           fp32): the sums of the steps per form, and every step in steps-all.csv;
#   gpu     `miriam bench` GPU time (CUDA graph replay) of the CNNs, plain and elastic
#           launches of both builds (and of the variants LAST_WAVE_VARIANTS names), TF32,
#           16 SMs and the whole GPU, two rounds;
#   mdtb    MDTB workloads (LAST_WAVE_WORKLOADS, default b and c: those with MobileNet-V2)
#           under elastic, TF32, 16 SMs and the whole GPU, 10 s each, for every build;
#   map     with the study variant "tl" (scripts/build-variant.sh tl src/cuda/conv.cu
#           -DMR_ELASTIC_TIMELINE), which SM each block of the first launches of a full width
#           ran on, whole GPU and 16 SMs (does the GPU dispatch consecutive blocks to
#           different SMs?).
# LAST_WAVE_STAGES picks them (default: all); LAST_WAVE_MODELS the CNNs of the steps and gpu
# stages (default: the six below). Without a "head" variant packed, the build is compared with
# its study variants only. Logs under $OUT.
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
# shellcheck source=scripts/gpu-steps-lib.sh
. scripts/gpu-steps-lib.sh
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# study variants of this build (scripts/build-variant.sh) whose GPU time the gpu stage adds
extra=${LAST_WAVE_VARIANTS:-}
for v in head tl $extra; do
  [[ -f build-gpu-pack/variants/miriam-$v.xz ]] && unpack_variant "$v"
done
builds="miriam"
[[ -x build-gpu/miriam-head ]] && builds="miriam-head miriam"
for v in $extra; do builds="$builds miriam-$v"; done
cnns=${LAST_WAVE_MODELS:-resnet18 resnet50 vgg16 alexnet squeezenet1_1 mobilenet_v2}
zoo="resnet18 resnet50 vgg16 alexnet squeezenet1_1 mobilenet_v2 cifarnet lstm gru"
stages=" ${LAST_WAVE_STAGES:-tests bits steps gpu mdtb map} "
on() { [[ $stages == *" $1 "* ]]; }
on tests && run_test_cuda
if on bits; then
  bad=0
  for m in $zoo; do
    for sms in 0 16; do
      "build-gpu/${builds%% *}" run "zoo:$m" --device cuda --sms "$sms" --precision tf32 \
        --repeat 1 --output "$OUT/ref.npy" >/dev/null 2>&1
      for b in ${builds#* }; do
        if ! timeout 60 "build-gpu/$b" run "zoo:$m" --device cuda --sms "$sms" \
          --precision tf32 --repeat 1 --compare "$OUT/ref.npy" --rtol 0 --atol 0 \
          >"$OUT/cmp.log" 2>&1; then
          echo "DIFFERENT: $b $m sms $sms"
          bad=$((bad + 1))
        fi
      done
    done
  done
  echo "== bits: $bad combinations differ"
  rm -f "$OUT/ref.npy" "$OUT/cmp.log"
fi
if on steps; then
  specs=$(for m in $cnns; do printf 'zoo:%s ' "$m"; done)
  steps_builds "$builds" "$specs" "16:tf32 0:tf32 16:fp32 0:fp32"
fi
if on gpu; then
  specs=$(for m in $cnns; do printf 'zoo:%s ' "$m"; done)
  for sms in 16 0; do
    for round in 1 2; do
      for run in $(for b in $builds; do printf '%s:plain %s:elastic ' "$b" "$b"; done); do
        b=${run%:*} launch=${run#*:}
        # shellcheck disable=SC2086 # the model list is split on purpose
        timeout 200 "build-gpu/$b" bench $specs --device cuda --sms "$sms" --precision tf32 \
          --launch "$launch" --repeat 300 --warmup 30 --csv "$OUT/b.csv" >"$OUT/b.log" 2>&1
        echo "== sms $sms round $round $b $launch: rc=$?" >&2
        tail -n +2 "$OUT/b.csv" | sed "s/^/$sms,$round,$b,/"
      done
    done
  done >"$OUT/gpu.csv"
  rm -f "$OUT/b.csv" "$OUT/b.log"
  python3 - "$OUT/gpu.csv" <<'PY'
import collections, csv, statistics, sys
gpu = collections.defaultdict(list)
for row in csv.reader(open(sys.argv[1])):
    if len(row) < 16:
        continue
    sms, b, model, launch, g50 = row[0], row[2], row[3], row[13], row[14]
    gpu[(sms, model, b, launch)].append(float(g50))
print("| SMs | model | build | plain ms | elastic ms | over plain |")
print("|--:|---|---|--:|--:|--:|")
f = lambda v: " / ".join(f"{x:.3f}" for x in v)
builds = sorted({k[2] for k in gpu}, key=lambda b: (b != "miriam-head", b != "miriam", b))
for sms in ("16", "0"):
    for model in sorted({k[1] for k in gpu if k[0] == sms}):
        for b in builds:
            p, e = gpu.get((sms, model, b, "plain")), gpu.get((sms, model, b, "elastic"))
            if not (p and e):
                continue
            mp, me = statistics.mean(p), statistics.mean(e)
            print(f"| {sms} | {model} | {b} | {f(p)} | {f(e)} | {(me / mp - 1) * 100:+.1f}% |")
PY
fi
if on mdtb; then
  mdtb_builds "$builds" "${LAST_WAVE_WORKLOADS:-b c}" 10
  rm -f "$OUT/w.log"
fi
if on map && [[ -x build-gpu/miriam-tl ]]; then
  for sms in 0 16; do
    timeout 60 build-gpu/miriam-tl steps zoo:alexnet --sms "$sms" --precision fp32 --repeat 1 \
      --warmup 0 >"$OUT/map.txt" 2>&1
    echo "== map, sms $sms: the SMs of blocks 0.. of the first elastic launches of a full width"
    python3 - "$OUT/map.txt" <<'PY'
import sys
launches, cur, seen, key = [], [], set(), None
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 9 or f[0] != "etl" or f[1] != "e":
        continue
    k, b = (f[2], f[3]), int(f[4])
    if k != key or b in seen:
        if cur:
            launches.append((key, cur))
        cur, seen, key = [], set(), k
    seen.add(b)
    cur.append((b, int(f[5])))
if cur:
    launches.append((key, cur))
for (nb, grid), blocks in launches[:4]:
    sm = dict(blocks)
    g = int(grid)
    order = [sm.get(b, -1) for b in range(g)]
    n_sm = len(set(order))
    # the smallest index distance between two blocks on one SM
    first = {}
    dist = g
    for b, s in enumerate(order):
        if s in first:
            dist = min(dist, b - first[s])
        first[s] = b
    print(f"logical {nb} grid {g}: {n_sm} SMs; consecutive blocks share an SM from distance "
          f"{dist}; blocks 0..15 on SMs {order[:16]}")
PY
  done
  rm -f "$OUT/map.txt"
fi
exit 0
