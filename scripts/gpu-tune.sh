#!/usr/bin/env bash
# The tuner on the GPU machine, over a build made by scripts/build-gpu.sh (build-gpu-pack/
# copied along):
#
#   bash scripts/gpu-tune.sh    (on the GPU machine, build-gpu-pack/ copied along)
#
# 1. the tests that tune on the GPU (test_tune's CUDA part, test_coord_profiles);
# 2. the whole zoo tuned on the whole GPU (the default design space), timed;
# 3. workload A's normal model tuned on SMS SMs (default 16) in PRECISION (default tf32), then
#    `miriam compare` of elastic with shards from that profile and from the analytic estimate,
#    side by side in one invocation (DURATION / WARMUP, default 5 / 1 s).
# Logs and the compare report land in $OUT.
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-$PWD/gpu-tune-out}
mkdir -p "$OUT"
[[ -n ${NO_TEST:-} ]] || CTEST_ARGS='-R ^(tune|coord_profiles)$' OUT=$OUT/check \
  bash scripts/gpu-check.sh tests
export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export MIRIAM_CACHE_DIR=$OUT/cache
m=build-gpu/miriam
zoo=$($m zoo 2>/dev/null | awk 'NR > 1 && $1 ~ /^[a-z]/ {print "zoo:" $1}' | sort -u)
[[ -n ${NO_ZOO:-} ]] || {
  echo "==== tuning the zoo on the whole GPU: $zoo"
  s=$(date +%s%N)
  # shellcheck disable=SC2086
  timeout "${ZOO_LIMIT:-300}" $m tune $zoo --device cuda >"$OUT/tune-zoo.txt" 2>"$OUT/tune-zoo.err"
  echo "rc=$? wall $((($(date +%s%N) - s) / 1000000)) ms"
  grep -E "^(total|tuned|design space|model)|kept|wall" "$OUT/tune-zoo.txt" | tail -30
}
sms=${SMS:-16}
prec=${PRECISION:-tf32}
echo "==== workload A, $sms SMs, $prec: tuning its normal model, then tuned vs analytic"
$m tune zoo:vgg16 --device cuda --sms "$sms" --precision "$prec" >"$OUT/tune-vgg16.txt" 2>&1
echo "tune rc=$?"; tail -4 "$OUT/tune-vgg16.txt"
$m compare bench/workloads/a.json --device cuda --sms "$sms" --precision "$prec" \
  --policies elastic-analytic,elastic-tuned --duration "${DURATION:-5}" --warmup "${WARMUP:-1}" \
  -o "$OUT/compare-a" -v >"$OUT/compare-a.md" 2>"$OUT/compare-a.err"
echo "compare rc=$?"
cat "$OUT/compare-a.md"
grep -E "profile|analytic" "$OUT/compare-a.err" | sort | uniq -c | head
tar -czf "$OUT/compare-a.tar.gz" -C "$OUT" compare-a && rm -rf "$OUT/compare-a" "$OUT/cache"
