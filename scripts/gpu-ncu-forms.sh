#!/usr/bin/env bash
# Nsight Compute's duration of every launch of the kernels matching KERNEL (a regex on the
# kernel name, default the 256-thread TF32 1x1 and depthwise convolutions in their plain, wave
# and elastic forms) while `miriam steps --profile` launches each form of MODEL's steps once
# (default mobilenet_v2, TF32, whole GPU; STEPS_ARGS adds options, e.g. '--sms 16'; the
# prefilled form's one-wave launches run the plain kernel), on the GPU machine from the repo root
# after `bash scripts/gpu-check.sh __none` unpacked the build. ncu serialises the launches, so
# this compares the forms' kernels alone, without the overlap of programmatic dependent launch
# (docs/KERNEL_NOTES.md, 34). BUILD names the CLI under build-gpu/ (default miriam; a study
# variant: miriam-NAME, unpacked by scripts/gpu-steps-lib.sh's unpack_variant). Output:
# $OUT/ncu-forms-BUILD.csv (ncu's raw CSV: kernel name, grid, gpu__time_duration.sum) and a
# per-kernel-name summary on stdout; METRICS adds further metrics (a comma-separated list).
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
build=${BUILD:-miriam}
csv="$OUT/ncu-forms-$build.csv"
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# STEPS_ARGS is a list of miriam options
# shellcheck disable=SC2086
timeout 400 ncu --clock-control none --cache-control none \
  -k "regex:${KERNEL:-mr_conv_(tc1x1|direct)_t256_(plain|wave|elastic)}" \
  --metrics "gpu__time_duration.sum${METRICS:+,$METRICS}" \
  --csv "build-gpu/$build" steps "zoo:${MODEL:-mobilenet_v2}" --precision tf32 --profile \
  ${STEPS_ARGS-} >"$csv" 2>"$OUT/ncu-forms-$build.err"
echo "ncu rc=$?"
python3 scripts/ncu_csv.py "$csv"
