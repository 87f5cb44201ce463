#!/usr/bin/env bash
# The GPU check: runs ON the GPU machine, from the repo root, over a build made here by
# scripts/build-gpu.sh (build-gpu-pack/ copied along with the tree):
#
#   bash scripts/gpu-check.sh
#   bash scripts/gpu-check.sh tests bench
#   bash scripts/gpu-check.sh tf32
#
# Stages (default: all four, in this order):
#   tests        ctest over build-gpu (every test; test_cuda and the CUDA pass of test_golden
#                need the GPU), except "conformance", which has its own stage
#   sanitizer    compute-sanitizer memcheck, then racecheck, on build-gpu/tests/test_cuda with
#                MIRIAM_CUDA_FILTER / MIRIAM_CUDA_MODES narrowing it to the op cases and a few
#                launch modes (SAN_MEMCHECK_FILTER/_MODES, SAN_RACECHECK_FILTER/_MODES override)
#   bench        miriam bench --device cuda over the zoo, whole GPU and --sms 16
#   conformance  scripts/conformance.py (and scripts/zoo_vs_torch.py) against build-gpu/miriam,
#                when they exist and python3 imports torch; miriam's --device auto picks CUDA
# and extra stages, not in the default set:
#   cuda         build-gpu/tests/test_cuda alone, verbose (MIRIAM_CUDA_FILTER passes through)
#   benchtorch   scripts/bench_gpu.py: miriam bench vs PyTorch (CUDA graphs) per zoo model, whole
#                GPU and 16 SMs; writes bench.md and bench.csv (replacing the bench stage's:
#                at most 8 files are collected from $OUT, and this report has miriam's
#                numbers too); BENCHTORCH_ARGS: extra arguments (e.g. '--sms 0,8,16',
#                '--quick', or '--precision fp32,tf32' for miriam's TF32 columns and verdicts)
#   steps        miriam steps (per-step kernel time: plain and each elastic form; the elastic
#                overhead per operator) over STEPS_MODELS (zoo names or model specs, default:
#                the zoo) for each entry of
#                STEPS_CONFIGS (default "--sms 0;--sms 16;--sms 16 --precision tf32"); writes
#                steps.md and steps.csv (T_STEPS, default 240, for all of them)
#   tf32         --precision tf32: test_cuda's TF32 cases alone (MIRIAM_CUDA_FILTER=tf32/ unless
#                TF32_FILTER says otherwise; verbose), conformance.py --precision tf32 (CONF_MODELS,
#                opset 13) and miriam bench --device cuda --precision tf32, whole GPU and
#                --sms 16; logs in tf32.log, the bench tables in bench.md / bench.csv (appended
#                to the bench stage's when both run). The sanitizer stage's default filter
#                ("op/") also covers the TF32 op cases ("tf32/op/...").
#
# Output: logs under $OUT (at most 8 files, to keep them easy to collect): summary.txt, env.txt,
# ctest.log, ctest-full.log (ctest's LastTest.log: every test's whole output), sanitizer.log,
# bench.md, bench.csv, conformance.log (cuda.log for the cuda stage, tf32.log for the tf32
# stage). The summary table is printed last.
#
# Time: a run is meant to finish within 600 s. Every stage runs under `timeout`, and
# the stages share a budget (GPU_CHECK_BUDGET seconds, default 560) so the summary is always
# printed; a stage that would not fit is reported as skipped. Per-stage limits: T_CTEST (300),
# T_MEMCHECK (120), T_RACECHECK (120), T_BENCH (60 per run), T_CONFORMANCE (200),
# T_BENCHTORCH (360), T_TF32_TEST (200, the tf32 stage's test_cuda run).
# CTEST_ARGS: extra ctest arguments, split on spaces (e.g. CTEST_ARGS='-R cuda|golden').
set -u
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
start=$(date +%s)
budget=${GPU_CHECK_BUDGET:-560}
OUT=${OUT:-$root/gpu-check-out}
mkdir -p "$OUT"
build=$root/build-gpu
pack=$root/build-gpu-pack

stages=("$@")
((${#stages[@]})) || stages=(tests sanitizer bench conformance)

rows=() # "stage|result|detail"
row() { rows+=("$1|$2|$3"); }

# Seconds a stage may take: its own limit, capped by what is left of the budget (keeping 10 s
# for the summary); 0 when less than 20 s would be left.
stage_time() {
  local want=$1 left=$((budget - ($(date +%s) - start) - 10))
  ((left < 20)) && { echo 0; return; }
  ((want < left)) && echo "$want" || echo "$left"
}

status_of() { # rc -> PASS / FAIL / TIMEOUT / SKIP
  case $1 in
    0) echo PASS ;;
    124 | 137) echo TIMEOUT ;;
    77) echo SKIP ;;
    *) echo FAIL ;;
  esac
}

# ---- unpack ----
# On the GPU machine build-gpu/ arrives only as the pack; a real build directory (this
# machine, CMakeCache.txt present) is used as it is.
if [[ -f $pack/build-gpu.tar.xz && ! -f $build/CMakeCache.txt ]]; then
  if ! tar -xJf "$pack/build-gpu.tar.xz" 2>/dev/null; then
    # No xz program: Python's tarfile reads .tar.xz on its own.
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall()' \
      "$pack/build-gpu.tar.xz" || { echo "gpu-check: cannot unpack $pack/build-gpu.tar.xz"; exit 1; }
  fi
fi
if [[ ! -x $build/miriam ]]; then
  echo "gpu-check: no $build/miriam: run scripts/build-gpu.sh here first, then copy build-gpu-pack/ along"
  exit 1
fi
testdata=/usr/share/libonnx-testdata/data
if [[ ! -d $testdata/node && -f $pack/onnx-testdata.tar.xz ]]; then
  # ctest gives the golden test this path (configured here); the GPU machine runs as root.
  if mkdir -p "$testdata" 2>/dev/null; then
    tar -C "$testdata" -xJf "$pack/onnx-testdata.tar.xz" 2>/dev/null ||
      python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
        "$pack/onnx-testdata.tar.xz" "$testdata"
  fi
fi
orig_ld_path=${LD_LIBRARY_PATH:-} # for PyTorch, which must load its own CUDA libraries
export LD_LIBRARY_PATH=$build/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# ---- environment ----
gpu_name=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "host: $(hostname) $(uname -srm)"
  [[ -f $pack/BUILD_INFO ]] && sed 's/^/build /' "$pack/BUILD_INFO"
  echo
  nvidia-smi 2>&1
  echo
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.sm --format=csv 2>&1
  echo
  command -v compute-sanitizer >/dev/null && compute-sanitizer --version 2>&1 | tail -1
  command -v ctest >/dev/null && ctest --version | head -1
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1
  echo
  "$build/miriam" --version
  echo "missing libraries:"
  ldd "$build/miriam" | grep 'not found' || echo "  none"
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

# ---- stages ----
stage_tests() {
  local t rc
  t=$(stage_time "${T_CTEST:-300}")
  ((t)) || { row ctest SKIP "no time left"; return; }
  echo; echo "==== ctest (limit ${t}s) ===="
  (
    set -o pipefail
    # shellcheck disable=SC2086
    timeout "$t" ctest --test-dir "$build" --output-on-failure -E '^conformance$' ${CTEST_ARGS:-} 2>&1 |
      tee "$OUT/ctest.log"
  )
  rc=$?
  cp "$build/Testing/Temporary/LastTest.log" "$OUT/ctest-full.log" 2>/dev/null
  local line failed
  line=$(grep -E 'tests passed(, [0-9]+ tests? failed)? out of' "$OUT/ctest.log" | tail -1)
  failed=$(sed -n '/The following tests FAILED:/,$p' "$OUT/ctest.log" | grep -oE '^\s*[0-9]+ - [^ ]+' |
    awk '{print $3}' | tr '\n' ' ')
  row ctest "$(status_of $rc)" "${line:-no ctest summary (rc $rc)}${failed:+; failed: $failed}"
  # The CUDA-specific results, from the tests' own summary lines.
  local l
  l=$(grep -E '^cuda: [0-9]+ checks' "$OUT/ctest-full.log" 2>/dev/null | tail -1)
  local c
  c=$(grep -E '^cuda: [0-9]+ cases' "$OUT/ctest-full.log" 2>/dev/null | tail -1)
  if [[ -n $l ]]; then
    if [[ $l == *", 0 failed" ]]; then row "  test_cuda" PASS "$l; ${c#cuda: }"; else row "  test_cuda" FAIL "$l"; fi
  else
    l=$(grep -E 'CUDA tests skipped' "$OUT/ctest-full.log" 2>/dev/null | tail -1)
    if [[ -n $l ]]; then row "  test_cuda" SKIP "$l"; else row "  test_cuda" "?" "no summary line in ctest-full.log"; fi
  fi
  l=$(grep -E '^golden \(cuda\):' "$OUT/ctest-full.log" 2>/dev/null | tail -1)
  if [[ $l == *" 0 failed"* ]]; then
    row "  golden (cuda)" PASS "${l#golden (cuda): }"
  elif [[ $l == *"failed"* ]]; then
    row "  golden (cuda)" FAIL "${l#golden (cuda): }"
  elif [[ $l == *"skipped"* ]]; then
    row "  golden (cuda)" SKIP "${l#golden (cuda): }"
  else
    row "  golden (cuda)" "?" "no summary line (ONNX test data missing?)"
  fi
}

# One compute-sanitizer tool over test_cuda; appends to sanitizer.log.
sanitize() {
  local tool=$1 limit=$2 filt=$3 modes=$4 t rc log=$OUT/sanitizer.log.part
  t=$(stage_time "$limit")
  ((t)) || { row "$tool" SKIP "no time left"; return; }
  echo; echo "==== compute-sanitizer --tool $tool (limit ${t}s; filter '$filt'; modes '$modes') ===="
  MIRIAM_CUDA_FILTER=$filt MIRIAM_CUDA_MODES=$modes timeout "$t" \
    compute-sanitizer --tool "$tool" --error-exitcode 99 --print-limit 20 \
    "$build/tests/test_cuda" >"$log" 2>&1
  rc=$?
  {
    echo "==== compute-sanitizer --tool $tool, MIRIAM_CUDA_FILTER='$filt' MIRIAM_CUDA_MODES='$modes', rc $rc ===="
    cat "$log"
    echo
  } >>"$OUT/sanitizer.log"
  tail -5 "$log"
  local summary
  summary=$(grep -E '(ERROR|RACECHECK) SUMMARY' "$log" | tail -1 | sed 's/^=* *//')
  if grep -q 'Device not supported' "$log"; then
    row "$tool" "n/a" "compute-sanitizer: device not supported on this machine (gVisor?)"
  elif ((rc == 99)); then
    row "$tool" FAIL "${summary:-errors found} (sanitizer.log)"
  elif ((rc == 0)); then
    row "$tool" PASS "${summary:-clean}"
  else
    local tl
    tl=$(grep -E '^cuda: [0-9]+ checks' "$log" | tail -1)
    row "$tool" "$(status_of $rc)" "rc $rc${summary:+; $summary}${tl:+; $tl}"
  fi
  rm -f "$log"
}

stage_sanitizer() {
  if ! command -v compute-sanitizer >/dev/null; then
    row sanitizer "n/a" "compute-sanitizer not on PATH"
    return
  fi
  : >"$OUT/sanitizer.log"
  # memcheck: every op case in the modes that cover both variants, sharding and preemption,
  # plus one whole model; racecheck: every op case, each variant in its elastic form (the
  # loop over logical blocks reuses shared memory across blocks).
  sanitize memcheck "${T_MEMCHECK:-120}" "${SAN_MEMCHECK_FILTER:-op/,zoo/cifarnet}" \
    "${SAN_MEMCHECK_MODES:-plain/v1,elastic/v0,sharded/P7/mixed,preempt/P7}"
  sanitize racecheck "${T_RACECHECK:-120}" "${SAN_RACECHECK_FILTER:-op/}" \
    "${SAN_RACECHECK_MODES:-elastic/v0,elastic/v1}"
}

bench_started=0
# $1: extra miriam bench arguments (the tf32 stage: --precision tf32). The first call of a run
# starts bench.md / bench.csv afresh, later ones append.
stage_bench() {
  local t rc n args extra=${1:-}
  if ((!bench_started)); then
    : >"$OUT/bench.md"
    rm -f "$OUT/bench.csv"
    bench_started=1
  fi
  for args in "" "--sms 16"; do
    args="$args${extra:+ $extra}"
    args=${args# }
    t=$(stage_time "${T_BENCH:-60}")
    ((t)) || { row "bench cuda $args" SKIP "no time left"; continue; }
    echo; echo "==== miriam bench --device cuda $args (limit ${t}s) ===="
    {
      echo "## miriam bench --device cuda $args"
      echo "${gpu_name:-unknown GPU}; $(date -u '+%Y-%m-%d %H:%M UTC'); build-gpu/miriam bench --device cuda $args"
      echo
    } >>"$OUT/bench.md"
    # shellcheck disable=SC2086
    (
      set -o pipefail
      timeout "$t" "$build/miriam" bench --device cuda $args --csv "$OUT/bench.part.csv" 2>&1 |
        tee -a "$OUT/bench.md"
    )
    rc=$?
    echo >>"$OUT/bench.md"
    if [[ -f $OUT/bench.part.csv ]]; then
      if [[ -f $OUT/bench.csv ]]; then tail -n +2 "$OUT/bench.part.csv" >>"$OUT/bench.csv"; else cp "$OUT/bench.part.csv" "$OUT/bench.csv"; fi
      n=$(($(wc -l <"$OUT/bench.part.csv") - 1))
      rm -f "$OUT/bench.part.csv"
    else
      n=0
    fi
    row "bench cuda${args:+ $args}" "$(status_of $rc)" "$n models timed (bench.md, bench.csv)"
  done
}

stage_conformance() {
  local t rc py=python3 models=${CONF_MODELS:-resnet18,mobilenet_v2,squeezenet1_1,alexnet,lstm,gru,viewcnn}
  if [[ ! -f scripts/conformance.py ]]; then
    row conformance SKIP "scripts/conformance.py does not exist"
    return
  fi
  if ! $py -c 'import torch, torchvision, onnx' >/dev/null 2>&1; then
    row conformance SKIP "python3 cannot import torch, torchvision and onnx"
    return
  fi
  : >"$OUT/conformance.log"
  local extra=()
  $py scripts/conformance.py --help 2>/dev/null | grep -q -- '--device' && extra=(--device cuda)
  t=$(stage_time "${T_CONFORMANCE:-200}")
  ((t)) || { row conformance SKIP "no time left"; return; }
  echo; echo "==== conformance.py (limit ${t}s; models $models) ===="
  (
    set -o pipefail
    MIRIAM_DEVICE=cuda PYTHONUNBUFFERED=1 timeout "$t" $py scripts/conformance.py --miriam "$build/miriam" \
      --opset 13 --opset 17 --models "$models" "${extra[@]}" 2>&1 | tee -a "$OUT/conformance.log"
  )
  rc=$?
  row "conformance.py" "$(status_of $rc)" "models $models, opsets 13 17${extra:+, ${extra[*]}} (conformance.log)"
  if [[ -f scripts/zoo_vs_torch.py ]]; then
    t=$(stage_time "${T_CONFORMANCE:-200}")
    ((t)) || { row zoo_vs_torch.py SKIP "no time left"; return; }
    echo; echo "==== zoo_vs_torch.py (limit ${t}s) ===="
    (
      set -o pipefail
      MIRIAM_DEVICE=cuda PYTHONUNBUFFERED=1 timeout "$t" $py scripts/zoo_vs_torch.py --miriam "$build/miriam" 2>&1 |
        tee -a "$OUT/conformance.log"
    )
    rc=$?
    row "zoo_vs_torch.py" "$(status_of $rc)" "every zoo model vs torchvision (conformance.log)"
  fi
}

stage_cuda() {
  local t rc
  t=$(stage_time "${T_CTEST:-300}")
  ((t)) || { row test_cuda SKIP "no time left"; return; }
  echo; echo "==== test_cuda (limit ${t}s; MIRIAM_CUDA_FILTER='${MIRIAM_CUDA_FILTER:-}') ===="
  (
    set -o pipefail
    MIRIAM_CUDA_VERBOSE=${MIRIAM_CUDA_VERBOSE:-1} timeout "$t" "$build/tests/test_cuda" 2>&1 |
      tee "$OUT/cuda.log" | grep -v ' ok$'
  )
  rc=$?
  row test_cuda "$(status_of $rc)" "$(grep -E '^cuda: [0-9]+ checks|CUDA tests skipped' "$OUT/cuda.log" | tail -1) (cuda.log)"
}

stage_steps() {
  local t rc cfg cfgs models=${STEPS_MODELS:-}
  if [[ -z $models ]]; then
    models=$("$build/miriam" zoo | tail -n +2 | awk '{printf "zoo:%s ", $1}')
  else # bare zoo names (STEPS_MODELS='lstm gru') get their zoo: prefix
    models=$(for m in $models; do
      case $m in *:* | *.onnx) printf '%s ' "$m" ;; *) printf 'zoo:%s ' "$m" ;; esac
    done)
  fi
  : >"$OUT/steps.md"
  rm -f "$OUT/steps.csv"
  IFS=';' read -r -a cfgs <<<"${STEPS_CONFIGS:---sms 0;--sms 16;--sms 16 --precision tf32}"
  for cfg in "${cfgs[@]}"; do
    t=$(stage_time "${T_STEPS:-240}")
    ((t)) || { row "steps $cfg" SKIP "no time left"; continue; }
    echo; echo "==== miriam steps $cfg (limit ${t}s) ===="
    echo "## build-gpu/miriam steps $cfg ${STEPS_ARGS:-}" >>"$OUT/steps.md"
    # shellcheck disable=SC2086
    (
      set -o pipefail
      timeout "$t" "$build/miriam" steps $models $cfg ${STEPS_ARGS:-} --csv "$OUT/steps.part.csv" 2>&1 |
        tee -a "$OUT/steps.md" | grep -E '^steps:|^\| all|error'
    )
    rc=$?
    if [[ -f $OUT/steps.part.csv ]]; then
      if [[ -f $OUT/steps.csv ]]; then tail -n +2 "$OUT/steps.part.csv" >>"$OUT/steps.csv"; else cp "$OUT/steps.part.csv" "$OUT/steps.csv"; fi
      rm -f "$OUT/steps.part.csv"
    fi
    row "steps $cfg" "$(status_of $rc)" "$(grep -c '^| all' "$OUT/steps.md") model tables so far (steps.md, steps.csv)"
  done
}

stage_tf32() {
  local t rc l w py=python3 models=${CONF_MODELS:-resnet18,mobilenet_v2,squeezenet1_1,alexnet,lstm,gru,viewcnn}
  : >"$OUT/tf32.log"
  # test_cuda: the TF32 op cases in every launch mode, TF32 long/ preemption, zoo CNNs, 16 SMs
  t=$(stage_time "${T_TF32_TEST:-200}")
  if ((t)); then
    echo; echo "==== test_cuda, MIRIAM_CUDA_FILTER='${TF32_FILTER:-tf32/}' (limit ${t}s) ====" |
      tee -a "$OUT/tf32.log"
    (
      set -o pipefail
      MIRIAM_CUDA_FILTER=${TF32_FILTER:-tf32/} MIRIAM_CUDA_VERBOSE=1 timeout "$t" \
        "$build/tests/test_cuda" 2>&1 | tee -a "$OUT/tf32.log" | grep -vE ' ok( |$)'
    )
    rc=$?
    l=$(grep -E '^cuda: [0-9]+ checks' "$OUT/tf32.log" | tail -1)
    w=$(grep -E '^tf32: ' "$OUT/tf32.log" | tail -1)
    row "tf32 test_cuda" "$(status_of $rc)" "${l:-no summary line (rc $rc)}${w:+; $w} (tf32.log)"
  else
    row "tf32 test_cuda" SKIP "no time left"
  fi
  # conformance against PyTorch (float32 reference) with the TF32 tolerance
  if [[ ! -f scripts/conformance.py ]]; then
    row "tf32 conformance" SKIP "scripts/conformance.py does not exist"
  elif ! $py -c 'import torch, torchvision, onnx' >/dev/null 2>&1; then
    row "tf32 conformance" SKIP "python3 cannot import torch, torchvision and onnx"
  else
    t=$(stage_time "${T_CONFORMANCE:-200}")
    if ((t)); then
      echo; echo "==== conformance.py --precision tf32 (limit ${t}s; models $models) ====" |
        tee -a "$OUT/tf32.log"
      (
        set -o pipefail
        MIRIAM_DEVICE=cuda PYTHONUNBUFFERED=1 timeout "$t" $py scripts/conformance.py \
          --miriam "$build/miriam" --precision tf32 --opset 13 --models "$models" 2>&1 |
          tee -a "$OUT/tf32.log"
      )
      rc=$?
      row "tf32 conformance" "$(status_of $rc)" "models $models, opset 13 (tf32.log)"
    else
      row "tf32 conformance" SKIP "no time left"
    fi
  fi
  stage_bench "--precision tf32"
}

stage_benchtorch() {
  local t rc lim
  if [[ ! -f scripts/bench_gpu.py ]]; then
    row benchtorch SKIP "scripts/bench_gpu.py does not exist"
    return
  fi
  if ! LD_LIBRARY_PATH=$orig_ld_path python3 -c 'import torch, torchvision, onnx' >/dev/null 2>&1; then
    row benchtorch SKIP "python3 cannot import torch, torchvision and onnx"
    return
  fi
  t=$(stage_time "${T_BENCHTORCH:-360}")
  ((t >= 60)) || { row benchtorch SKIP "no time left"; return; }
  # The script's own limit: what has not started by then is reported as skipped, so the report
  # is written before `timeout` would stop it.
  lim=$((t - 40 < 290 ? t - 40 : 290))
  echo; echo "==== bench_gpu.py (limit ${t}s, --time-limit $lim) ===="
  rm -f "$OUT/bench.md" "$OUT/bench.csv"
  (
    set -o pipefail
    # Without build-gpu/devlibs on LD_LIBRARY_PATH: bench_gpu.py puts it back for miriam only.
    # shellcheck disable=SC2086
    LD_LIBRARY_PATH=$orig_ld_path PYTHONUNBUFFERED=1 timeout "$t" python3 scripts/bench_gpu.py \
      --miriam "$build/miriam" --out "$OUT/bench.md" --csv "$OUT/bench.csv" --time-limit "$lim" \
      ${BENCHTORCH_ARGS:-} 2>&1
  )
  rc=$?
  row benchtorch "$(status_of $rc)" "miriam vs PyTorch, rc $rc (bench.md, bench.csv)"
  local v label
  while IFS= read -r v; do
    label=${v#verdict (}
    label=${label%%): *}
    row "  vs torch, $label" INFO "${v#*): }"
  done < <(grep '^verdict (' "$OUT/bench.md" 2>/dev/null | sed 's/ (miriam p50 <= 2 x PyTorch graph p50)//')
}

for s in "${stages[@]}"; do
  case $s in
    tests) stage_tests ;;
    sanitizer) stage_sanitizer ;;
    bench) stage_bench ;;
    conformance) stage_conformance ;;
    cuda) stage_cuda ;;
    benchtorch) stage_benchtorch ;;
    tf32) stage_tf32 ;;
    steps) stage_steps ;;
    *) row "$s" "?" "unknown stage (tests, sanitizer, bench, conformance, cuda, benchtorch, tf32, steps)" ;;
  esac
done

# ---- summary ----
{
  echo
  echo "==== gpu-check summary: ${gpu_name:-no GPU found by nvidia-smi}; $(date -u '+%Y-%m-%d %H:%M UTC'); $(($(date +%s) - start)) s ===="
  [[ -f $pack/BUILD_INFO ]] && head -1 "$pack/BUILD_INFO"
  printf '| %-22s | %-7s | %s\n' stage result detail
  printf '|%s|%s|%s\n' "------------------------" "---------" "----------------------------------------"
  for r in "${rows[@]}"; do
    IFS='|' read -r a b c <<<"$r"
    printf '| %-22s | %-7s | %s\n' "$a" "$b" "$c"
  done
  echo "logs: $(find "$OUT" -mindepth 1 -maxdepth 1 -printf '%f ')"
} | tee "$OUT/summary.txt"

for r in "${rows[@]}"; do
  IFS='|' read -r _ b _ <<<"$r"
  [[ $b == FAIL || $b == TIMEOUT ]] && exit 1
done
exit 0
