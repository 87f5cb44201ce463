#!/usr/bin/env bash
# MDTB on the GPU machine: for each workload, PyTorch's runs of it (scripts/mdtb_torch.py:
# solo, multistream, priority) and then `miriam compare` with those rows included. Runs over
# a build made by scripts/build-gpu.sh (build-gpu-pack/ copied along):
#
#   bash scripts/gpu-compare.sh    (on the GPU machine, build-gpu-pack/ copied along)
#
# Environment: WORKLOADS (default bench/workloads/a.json), SMS (default 16; 0 = the whole
# GPU), PRECISION (default tf32: PyTorch's convolutions run in TF32 by default), DURATION /
# WARMUP (default: the workload's), POLICIES (default all), NO_TORCH=1 (miriam only).
# Output under $OUT/<workload>-<sms>/: miriam's report (table, results.json/.csv, plots) and
# torch.csv.
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-$PWD/gpu-compare-out}
mkdir -p "$OUT"
# Unpack the build (gpu-check does it; its quickest stage is asked for and ignored).
[[ -x build-gpu/miriam ]] || CTEST_ARGS='-R ^workload$' bash scripts/gpu-check.sh tests >/dev/null 2>&1
timing=()
[[ -n ${DURATION:-} ]] && timing+=(--duration "$DURATION")
[[ -n ${WARMUP:-} ]] && timing+=(--warmup "$WARMUP")
for w in ${WORKLOADS:-bench/workloads/a.json}; do
  for s in ${SMS:-16}; do
    dir=$OUT/$(basename "$w" .json)-$s
    mkdir -p "$dir"
    inc=()
    if [[ -z ${NO_TORCH:-} ]]; then
      # PyTorch loads its own CUDA libraries: no devlibs on its library path.
      timeout 300 python3 scripts/mdtb_torch.py "$w" --device cuda --sms "$s" "${timing[@]}" \
        -o "$dir/torch.csv" >"$dir/torch.log" 2>&1
      echo "torch $w sms=$s: rc=$?"
      [[ -s $dir/torch.csv ]] && inc=(--include "$dir/torch.csv")
    fi
    args=(--device cuda --precision "${PRECISION:-tf32}" --policies "${POLICIES:-all}"
      "${timing[@]}" -o "$dir" "${inc[@]}")
    ((s > 0)) && args+=(--sms "$s")
    LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
      timeout 300 build-gpu/miriam compare "$w" "${args[@]}" >"$dir/report.md" 2>"$dir/compare.err"
    echo "miriam compare $w sms=$s: rc=$?"
    cat "$dir/report.md"
    tail -3 "$dir/compare.err" "$dir/torch.log" 2>/dev/null
  done
done
