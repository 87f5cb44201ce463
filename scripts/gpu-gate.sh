#!/usr/bin/env bash
# The warp gate and the tile loops rotated around their gate (docs/KERNEL_NOTES.md 37), on the
# GPU machine, with the CLI of the commit before packed as the variant "before"
# (`xz -c build-gpu/miriam > build-gpu-pack/variants/miriam-before.xz` before rebuilding):
#   tests  scripts/gpu-check.sh tests (ctest over the build: test_cuda's preemptible launch
#          modes, whose holes are re-run and whose outputs are compared with the CPU backend's);
#   ncu    scripts/gpu-ncu-stalls.sh for both builds: the issue-stall counters of the 1x1 and
#          depthwise convolutions, plain against wave form, MobileNet-V2;
#   steps  `miriam steps` over GATE_MODELS (default the CNNs of the zoo) for both builds, TF32,
#          whole GPU and 16 SMs: every form's sum of the steps and its back-to-back inference;
#   mdtb   MDTB workloads GATE_WORKLOADS (default "a b") under elastic, TF32, whole GPU and 16
#          SMs (GATE_SMS, default "16 0"), 10 s each, both builds, GATE_ROUNDS rounds (default
#          1), the builds' order alternating from round to round.
# GATE_STAGES picks them (default: all). Logs under $OUT.
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
# shellcheck source=scripts/gpu-steps-lib.sh
. scripts/gpu-steps-lib.sh
before_after_start "${GATE_STAGES:-tests ncu steps mdtb}"
if on ncu; then
  STALL_VARIANTS=before bash scripts/gpu-ncu-stalls.sh 2>&1 |
    grep -E "^==|grids|duration|cycles_active|inst_executed|stalled_(barrier|branch|wait|no_inst)"
fi
if on steps; then
  specs=""
  for m in ${GATE_MODELS:-resnet18 resnet50 vgg16 alexnet squeezenet1_1 mobilenet_v2}; do
    specs="$specs zoo:$m"
  done
  steps_builds "$builds" "$specs" "0:tf32 16:tf32"
fi
if on mdtb; then
  # the builds' order alternates from round to round, so that neither always runs first
  reversed=$(echo "$builds" | awk '{for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "")}')
  for ((r = 1; r <= ${GATE_ROUNDS:-1}; r++)); do
    order=$builds
    ((r % 2)) || order=$reversed
    mdtb_builds "$order" "${GATE_WORKLOADS:-a b}" 10 "round $r, " "${GATE_SMS:-16 0}"
  done
  rm -f "$OUT/w.log"
fi
