#!/usr/bin/env bash
# The preemptible form whose first wave starts without taking (docs/KERNEL_NOTES.md 32), on the
# GPU machine after `bash scripts/gpu-check.sh __none` unpacked the build, with a build of the
# commit before packed as the variant "main" (`xz -c build-gpu/miriam >
# build-gpu-pack/variants/miriam-main.xz` before rebuilding):
#   coord   test_coord (its GPU part: every policy's interleavings, the yield drain; outputs
#           bit for bit) PREEMPT_COORD_REPS times (default 3): the yields, resumes and holes
#           re-run per case;
#   steps   `miriam steps` over the CNNs of the zoo for both builds, TF32, whole GPU and 16 SMs
#           (the "preempt" column is the changed form; the others must not move);
#   mdtb    MDTB workloads (PREEMPT_WORKLOADS, default "a b") under elastic, TF32, on the SM
#           counts of PREEMPT_MDTB_SMS (default "16 0": 16 SMs and the whole GPU), 10 s each,
#           both builds, PREEMPT_ROUNDS rounds (default 2).
# PREEMPT_STAGES picks them (default: all). Logs under $OUT.
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
# shellcheck source=scripts/gpu-steps-lib.sh
. scripts/gpu-steps-lib.sh
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
builds="miriam"
if [[ -f build-gpu-pack/variants/miriam-main.xz ]] && unpack_variant main; then
  builds="miriam-main miriam"
fi
cnns="resnet18 resnet50 vgg16 alexnet squeezenet1_1 mobilenet_v2"
stages=" ${PREEMPT_STAGES:-coord steps mdtb} "
on() { [[ $stages == *" $1 "* ]]; }
if on coord; then
  for ((r = 1; r <= ${PREEMPT_COORD_REPS:-3}; r++)); do
    echo "== test_coord, run $r"
    (cd build-gpu/tests && timeout 200 ./test_coord 2>&1) | grep -E "coord: cuda|FAIL|checks"
  done
fi
if on steps; then
  specs=$(for m in $cnns; do printf 'zoo:%s ' "$m"; done)
  steps_builds "$builds" "$specs" "0:tf32 16:tf32"
fi
if on mdtb; then
  for ((r = 1; r <= ${PREEMPT_ROUNDS:-2}; r++)); do
    mdtb_builds "$builds" "${PREEMPT_WORKLOADS:-a b}" 10 "round $r, " "${PREEMPT_MDTB_SMS:-16 0}"
  done
  rm -f "$OUT/w.log"
fi
