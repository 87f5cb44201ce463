#!/usr/bin/env bash
# A/B of one miriam option on the GPU machine, both sides in one invocation: `miriam bench`
# over the models, whole GPU and each SM partition, with and without the option, interleaved
# (A, B, A, B) so that drift of the machine shows as a difference between the two A runs.
# Runs ON the GPU machine from the repo root, over build-gpu (scripts/build-gpu.sh, carried as
# build-gpu-pack; unpacked by scripts/gpu-check.sh).
#
#   FLAG='--no-pdl' bash scripts/gpu-flag-ab.sh            # what programmatic launch saves
#
# Environment: FLAG (the option of side B, required), MODELS (default: lstm, gru, resnet50,
# vgg16, mobilenet_v2, squeezenet1_1, cifarnet), SMS (default "0 16"), ARGS (extra arguments
# of both sides, default "--precision tf32"), REPEAT (default 200), WARMUP (default 20).
# Output: $OUT/flag-ab.md (every table, labelled; the backend column names side B's option).
set -u
cd "$(dirname "$0")/.." || exit 1
: "${FLAG:?FLAG: the option to compare, e.g. --no-pdl}"
OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
[ -x build-gpu/miriam ] || bash scripts/gpu-check.sh __none >/dev/null 2>&1
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
models=()
for m in ${MODELS:-lstm gru resnet50 vgg16 mobilenet_v2 squeezenet1_1 cifarnet}; do
  models+=("zoo:$m")
done
log=$OUT/flag-ab.md
{
  echo "# miriam bench, A = defaults, B = $FLAG; $(date -u +%F) $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
  for sms in ${SMS:-0 16}; do
    for side in A B A B; do
      extra=()
      [ "$side" = B ] && read -r -a extra <<<"$FLAG"
      echo
      echo "## --sms $sms, side $side"
      # shellcheck disable=SC2086
      timeout 120 build-gpu/miriam bench "${models[@]}" --device cuda --sms "$sms" \
        --repeat "${REPEAT:-200}" --warmup "${WARMUP:-20}" ${ARGS---precision tf32} "${extra[@]}" 2>&1
    done
  done
} >"$log"
cat "$log"
