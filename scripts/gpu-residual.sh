#!/usr/bin/env bash
# The residual Add fused into the Conv epilogue (mr_pass_fuse_residual, docs/KERNEL_NOTES.md
# 36), on the GPU machine, with the CLI of the commit before packed as the variant "before"
# (`xz -c build-gpu/miriam > build-gpu-pack/variants/miriam-before.xz` before rebuilding):
#   tests   scripts/gpu-check.sh tests (ctest over the build: test_cuda's residual cases against
#           the CPU backend, test_graph's bitwise checks, the rest);
#   steps   `miriam steps` over the CNNs of RES_MODELS for both builds, TF32, whole GPU and 16
#           SMs: every form's sum of the steps and its back-to-back inference;
#   parity  scripts/bench_gpu.py (miriam against PyTorch on the same GPU) over RES_PARITY
#           (default the models with residual connections), the whole GPU and 16 SMs, with
#           RES_PARITY_ARGS (default --quick --precision fp32,tf32);
#   mdtb    MDTB workloads RES_WORKLOADS (default "a b") under elastic, TF32, whole GPU and 16
#           SMs, 10 s each, both builds, RES_ROUNDS rounds (default 1).
# RES_STAGES picks them (default: all). Logs under $OUT.
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
# shellcheck source=scripts/gpu-steps-lib.sh
. scripts/gpu-steps-lib.sh
before_after_start "${RES_STAGES:-tests steps parity mdtb}"
if on steps; then
  specs=""
  for m in ${RES_MODELS:-resnet18 resnet50 mobilenet_v2}; do specs="$specs zoo:$m"; done
  steps_builds "$builds" "$specs" "0:tf32 16:tf32"
fi
if on parity; then
  # shellcheck disable=SC2086 # the arguments are split on purpose
  timeout 400 python3 scripts/bench_gpu.py --miriam build-gpu/miriam \
    --models "${RES_PARITY:-resnet18,resnet50,mobilenet_v2}" --sms 0,16 \
    ${RES_PARITY_ARGS:---quick --precision fp32,tf32} --time-limit 400 --out "$OUT/parity.md" \
    --csv "$OUT/parity.csv" >"$OUT/parity-bench.log" 2>&1
  echo "== parity: rc=$?"
  grep -E "^verdict|^parity" "$OUT/parity.md" 2>/dev/null || tail -n 20 "$OUT/parity-bench.log"
fi
if on mdtb; then
  for ((r = 1; r <= ${RES_ROUNDS:-1}; r++)); do
    mdtb_builds "$builds" "${RES_WORKLOADS:-a b}" 10 "round $r, " "16 0"
  done
  rm -f "$OUT/w.log"
fi
