#!/usr/bin/env bash
# Nsight Compute over one model's kernels, on the GPU machine (ncu reads the hardware counters
# there; clocks left alone). Runs ON the GPU machine from the repo root, over build-gpu
# (scripts/build-gpu.sh, carried as build-gpu-pack; unpacked by scripts/gpu-check.sh).
#
#   MODEL=vgg16 KERNEL=mr_conv_tc_t256 ARGS='--sms 16 --precision tf32' bash scripts/gpu-ncu.sh
#
# Environment: MODEL (zoo name, default vgg16), KERNEL (kernel name substring, default
# mr_conv_tc_t256), ARGS (miriam bench options, default '--sms 16 --precision tf32'), COUNT
# (kernels profiled, default 4), SKIP (matching launches skipped first, default 2), SECTIONS
# (ncu --section list, default SpeedOfLight WarpStateStats SchedulerStats Occupancy
# MemoryWorkloadAnalysis ComputeWorkloadAnalysis LaunchStats).
# CACHE (ncu --cache-control, default none: caches keep what earlier kernels left, as in a
# real run; ncu's own default, all, flushes them before every kernel, and then a recurrent
# step's weights come from DRAM instead of L2).
# SASS=1: instead of the sections, the source page at SASS level (every instruction with its
# executions and warp-stall samples), for finding the instructions a kernel waits on.
# DETAILS=1: every metric of the sections (--print-details all), e.g. WarpStateStats' cycles
# per issued instruction split by stall reason.
# Output: $OUT/ncu.txt (ncu's details page). One run of the model without CUDA graphs, so
# that every kernel is a separate launch ncu can see.
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
[ -x build-gpu/miriam ] || bash scripts/gpu-check.sh __none >/dev/null 2>&1
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
sections=()
if [ "${SASS:-0}" = 1 ]; then
  sections=(--section SourceCounters --section WarpStateStats --page source --print-source sass)
else for s in ${SECTIONS:-SpeedOfLight WarpStateStats SchedulerStats Occupancy MemoryWorkloadAnalysis ComputeWorkloadAnalysis LaunchStats}; do
  sections+=(--section "$s")
done; fi
[ "${DETAILS:-0}" = 1 ] && sections+=(--print-details all)
# ARGS is a list of miriam options
# shellcheck disable=SC2086
timeout 300 ncu --clock-control none --cache-control "${CACHE:-none}" -k "regex:${KERNEL:-mr_conv_tc_t256}" -s "${SKIP:-2}" \
  -c "${COUNT:-4}" "${sections[@]}" build-gpu/miriam bench "zoo:${MODEL:-vgg16}" --device cuda \
  --repeat 1 --warmup 0 --no-graphs ${ARGS---sms 16 --precision tf32} >"$OUT/ncu.txt" 2>&1
echo "ncu rc=$?"
