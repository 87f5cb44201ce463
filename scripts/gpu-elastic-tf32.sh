#!/usr/bin/env bash
# The elastic form's overhead over plain launches in GPU time, TF32, on the GPU machine after
# `bash scripts/gpu-check.sh __none` unpacked the build: `miriam bench` (CUDA graph replay,
# CUDA events) for the zoo's CNNs on 16 SMs and the whole GPU, elastic and plain in turn, two
# rounds. (scripts/bench_gpu.py measures plain launches in float32 only.) Logs under $OUT.
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
models=${ELASTIC_MODELS:-"zoo:resnet18 zoo:resnet50 zoo:vgg16 zoo:mobilenet_v2 zoo:squeezenet1_1 zoo:alexnet"}
for sms in ${ELASTIC_SMS:-16 0}; do
  for round in 1 2; do
    for launch in elastic plain; do
      # shellcheck disable=SC2086
      timeout 200 build-gpu/miriam bench $models --device cuda --sms "$sms" --precision tf32 \
        --launch "$launch" --repeat 300 --warmup 30 --csv "$OUT/b.csv" >"$OUT/b.log" 2>&1
      echo "== sms $sms round $round $launch: rc=$?"
      tail -n +2 "$OUT/b.csv" | sed "s/^/$sms,$round,/"
    done
  done
done >"$OUT/elastic-tf32.csv"
rm -f "$OUT/b.csv" "$OUT/b.log"
python3 - "$OUT/elastic-tf32.csv" <<'PY'
import collections, csv, statistics, sys
gpu = collections.defaultdict(list)
for row in csv.reader(open(sys.argv[1])):
    if len(row) < 15 or row[0].startswith("=="):
        continue
    sms, model, launch, g50 = row[0], row[2], row[12], row[13]
    gpu[(sms, model, launch)].append(float(g50))
print("| SMs | model | elastic GPU p50 ms (rounds) | plain GPU p50 ms (rounds) | overhead |")
print("|--:|---|--:|--:|--:|")
for (sms, model, launch), v in sorted(gpu.items()):
    if launch != "elastic":
        continue
    p = gpu.get((sms, model, "plain"))
    if not p:
        continue
    over = statistics.mean(v) / statistics.mean(p) - 1
    print(f"| {sms} | {model} | {' / '.join(f'{x:.3f}' for x in v)} | "
          f"{' / '.join(f'{x:.3f}' for x in p)} | {over * 100:+.1f}% |")
PY
exit 0
