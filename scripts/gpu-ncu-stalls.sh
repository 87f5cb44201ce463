#!/usr/bin/env bash
# Where the wave form's blocks spend the cycles the plain form's do not: Nsight Compute's
# issue-stall counters (warp-cycles per stall reason), instructions and active cycles of the
# 256-thread TF32 1x1 and depthwise convolutions, plain against wave form, for the build and
# each study variant in STALL_VARIANTS (packed by scripts/build-variant.sh), while `miriam
# steps --profile` launches MobileNet-V2 once in each form (scripts/gpu-ncu-forms.sh does the
# profiling). On the GPU machine from the repo root, after `bash scripts/gpu-check.sh __none`
# unpacked the build. Output: $OUT/ncu-forms-BUILD.csv for each build, and per build and
# kernel the sums over the launches both forms share, wave minus plain, on stdout.
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
# shellcheck source=scripts/gpu-steps-lib.sh
. scripts/gpu-steps-lib.sh
metrics="sm__cycles_active.max,smsp__inst_executed.sum,smsp__warps_active.sum"
for r in barrier branch_resolving long_scoreboard short_scoreboard wait no_instruction \
  imc_miss math_pipe_throttle mio_throttle not_selected selected dispatch_stall; do
  metrics="$metrics,smsp__warps_issue_stalled_$r.sum"
done
builds="miriam"
for v in ${STALL_VARIANTS-}; do
  if unpack_variant "$v"; then builds="$builds miriam-$v"; else echo "no variant $v"; fi
done
for b in $builds; do
  BUILD=$b METRICS=$metrics KERNEL='mr_conv_(tc1x1|direct)_t256_(plain|wave)' \
    bash scripts/gpu-ncu-forms.sh >/dev/null
  echo "== $b"
  python3 scripts/ncu_csv.py --wave-plain "$OUT/ncu-forms-$b.csv"
done
