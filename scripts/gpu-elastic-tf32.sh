#!/usr/bin/env bash
# The elastic form's overhead over plain launches in GPU time, TF32, on the GPU machine after
# `bash scripts/gpu-check.sh __none` unpacked the build: `miriam bench` (CUDA graph replay,
# CUDA events) for the zoo's CNNs on 16 SMs and the whole GPU, elastic and plain in turn, two
# rounds. (scripts/bench_gpu.py measures plain launches in float32 only.)
# ELASTIC_PROFILE=1: instead, Nsight Compute over every launch of `miriam steps MODEL --sms 16
# --precision tf32 --profile` (each form of the model once, launches serialized; MODEL from
# ELASTIC_PROFILE_MODEL, default zoo:resnet18), and each form's kernel durations summed: what
# the kernels themselves take, without the gaps between them (one launch each: noisy).
# Logs under $OUT.
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
if [[ ${ELASTIC_PROFILE:-0} == 1 ]]; then
  timeout 280 ncu --clock-control none --cache-control none --section LaunchStats \
    --section SpeedOfLight --section Occupancy -c 1000 build-gpu/miriam steps \
    "${ELASTIC_PROFILE_MODEL:-zoo:resnet18}" --sms 16 --precision tf32 --profile >"$OUT/ncu.txt" 2>&1
  echo "ncu rc=$?"
  # One model run (mr_model_run: the elastic form from its CUDA graph) comes first, then the
  # forms in miriam steps' order, each one launch per kernel step and phase.
  python3 - "$OUT/ncu.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
runs = []
for part in re.split(r"\n  (?=mr_\w+)", text):
    m = re.match(r"(mr_\w+)\s*\(([\d, ]+)\)x", part)
    d = re.search(r"Duration\s+(\S+)\s+([\d.,]+)", part)
    if not m or not d:
        continue
    us = float(d.group(2).replace(",", "")) * {"ns": 1e-3, "us": 1.0, "ms": 1e3}.get(d.group(1), 1.0)
    runs.append(us)
forms = ["model run", "plain", "elastic", "preemptible", "shard", "small"]
n = len(runs) // len(forms)
print(f"{len(runs)} kernels, {n} per form")
for k, f in enumerate(forms):
    print(f"{f:12s} {sum(runs[k * n:(k + 1) * n]):9.1f} us")
PY
  exit 0
fi
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
