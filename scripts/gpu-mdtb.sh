#!/usr/bin/env bash
# The MDTB matrix on the GPU machine: every workload of bench/workloads (A-F) at each SM
# count, `miriam compare` with every policy (and, where asked, PyTorch's rows beside it), over
# a build made by scripts/build-gpu.sh (build-gpu-pack/ copied along):
#
#   SMS='16' bash scripts/gpu-mdtb.sh    (on the GPU machine, build-gpu-pack/ copied along)
#
# Environment: SMS (default "0 16 8"; 0 = the whole GPU), TORCH_SMS (the SM counts that also
# run scripts/mdtb_torch.py; default "16"), WORKLOADS (default A-F), DURATION / WARMUP
# (default 2 / 0.5 s: the whole matrix must fit the machine's time; the workloads' own
# durations are longer), PRECISION (default tf32, PyTorch's default for convolutions).
# Everything lands in $OUT/mdtb.tar.gz (<workload>-<sms>/: report.md, results.json/.csv, the
# plots, torch.csv); the reports are also printed.
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-$PWD/gpu-mdtb-out}
work=$(mktemp -d)
mkdir -p "$OUT"
workloads=${WORKLOADS:-bench/workloads/a.json bench/workloads/b.json bench/workloads/c.json
  bench/workloads/d.json bench/workloads/e.json bench/workloads/f.json}
start=$(date +%s)
for s in ${SMS:-0 16 8}; do
  no_torch=1
  for t in ${TORCH_SMS:-16}; do [[ $t == "$s" ]] && no_torch=; done
  for w in $workloads; do
    OUT=$work NO_TORCH=$no_torch SMS=$s WORKLOADS=$w DURATION=${DURATION:-2} \
      WARMUP=${WARMUP:-0.5} PRECISION=${PRECISION:-tf32} bash scripts/gpu-compare.sh
    echo "---- $(basename "$w" .json) at sms=$s done after $(($(date +%s) - start)) s"
    # After every workload, so that a run stopped at the machine's time limit keeps its results.
    tar -czf "$OUT/mdtb.tar.gz" -C "$work" .
  done
done
rm -rf "$work"
