# shellcheck shell=bash
# Helpers of the GPU study scripts (sourced, not run): the build variants, test_cuda, and the
# logs of `miriam steps`.

# build-gpu/miriam-NAME from build-gpu-pack/variants/miriam-NAME.xz (a build packed beside the
# one under test); fails when the variant is not there.
unpack_variant() {
  xz -dc "build-gpu-pack/variants/miriam-$1.xz" >"build-gpu/miriam-$1" &&
    chmod +x "build-gpu/miriam-$1"
}

# test_cuda, every case and launch mode, its log in $OUT/test_cuda.log; prints the exit status
# and the summary lines.
run_test_cuda() {
  echo "== test_cuda"
  timeout 300 build-gpu/tests/test_cuda >"$OUT/test_cuda.log" 2>&1
  echo "rc=$?"
  grep -E "checks|FAIL" "$OUT/test_cuda.log" | tail -n 5
}

# The start of a before/after study (scripts/gpu-residual.sh, scripts/gpu-gate.sh): its stages
# from STAGES (words, for on()); the tests stage (scripts/gpu-check.sh tests) when asked, else
# the build unpacked; the build's libraries on the library path; and `builds`, "miriam-before
# miriam" (the CLI of the commit before, packed as the variant "before") or "miriam".
before_after_start() {
  stages=" $1 "
  if on tests; then
    bash scripts/gpu-check.sh tests 2>&1 | tail -n 15
  else
    bash scripts/gpu-check.sh __none >/dev/null 2>&1
  fi
  export LD_LIBRARY_PATH=$PWD/build-gpu/devlibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  # shellcheck disable=SC2034 # read by the script that sourced this file
  builds="miriam"
  if unpack_variant before; then builds="miriam-before miriam"; else echo "no variant before"; fi
}

# Whether the stage $1 is among before_after_start's.
on() { [[ $stages == *" $1 "* ]]; }

# The sum of the steps per form, one line per model, and below it the whole inference back to
# back (no events between the steps), from a `miriam steps` log.
steps_sums() {
  grep -E "kernel steps|sum of the steps|back to back" "$1" | sed -E 's/: [0-9]+ kernel steps.*//' |
    paste - - - | awk -F'|' '{printf "%-20s plain %8s elastic %8s %6s preempt %8s %6s shard %8s %6s\n", $1, $8, $9, $10, $11, $12, $13, $14;
      printf "%-20s b2b   %8s elastic %8s %6s preempt %8s %6s shard %8s %6s\n", "", $25, $26, $27, $28, $29, $30, $31}'
}

# `miriam steps` of SPECS (model specs, split on spaces) with each build named in BUILDS
# (build-gpu/NAME) for each of CONFIGS ("SMS:PRECISION ...", SMS 0 = the whole GPU), 20
# repeats: the sums per form printed (steps_sums), every step in $OUT/steps-all.csv.
steps_builds() {
  local builds=$1 specs=$2 configs=$3 cfg sms prec b
  for cfg in $configs; do
    sms=${cfg%:*} prec=${cfg#*:}
    for b in $builds; do
      # shellcheck disable=SC2086 # the model list is split on purpose
      timeout 150 "build-gpu/$b" steps $specs --sms "$sms" --precision "$prec" --repeat 20 \
        --csv "$OUT/steps-$b-$sms-$prec.csv" >"$OUT/steps.log" 2>&1
      echo "== steps $b sms $sms $prec: rc=$?"
      steps_sums "$OUT/steps.log"
    done
  done
  rm -f "$OUT/steps.log"
  steps_merge_csv "$OUT"
}

# The CSVs DIR/steps-TAG.csv merged into DIR/steps-all.csv (at most 8 files come back from
# the GPU machine), each row prefixed with its TAG (build, width, precision); the parts removed.
steps_merge_csv() {
  local f tag
  for f in "$1"/steps-miriam*.csv; do
    tag=$(basename "$f" .csv)
    tail -n +2 "$f" | sed "s/^/${tag#steps-},/"
    rm -f "$f"
  done >"$1/steps-all.csv"
}

# One MDTB run under the elastic policy, TF32: bench/workloads/WORKLOAD.json with build-gpu/BUILD
# on SMS SMs (0 = the whole GPU) for DURATION seconds after WARMUP; prints the exit status and,
# per task, policy, task, completed, p50, p90, p99, max and req/s (log in $OUT/w.log).
bench_elastic_rows() {
  local build=$1 workload=$2 sms=$3 duration=$4 warmup=$5
  timeout 60 "build-gpu/$build" bench "bench/workloads/$workload.json" --device cuda \
    --sms "$sms" --policy elastic --duration "$duration" --warmup "$warmup" --precision tf32 \
    >"$OUT/w.log" 2>&1
  echo "rc=$?"
  grep -E "^\| elastic " "$OUT/w.log" | awk -F'|' '{print $2, $3, $7, $10, $11, $12, $13, $14}'
}

# bench_elastic_rows for every workload in WORKLOADS (split on spaces), on each SM count of
# SMS_LIST (default "16 0": 16 SMs, then the whole GPU), every build in BUILDS, DURATION seconds
# after a 1 s warm-up; each block headed "== PREFIXworkload W, BUILD, sms N (...)".
mdtb_builds() {
  local builds=$1 workloads=$2 duration=$3 prefix=${4:-} sms_list=${5:-16 0} w sms b
  for w in $workloads; do
    for sms in $sms_list; do
      for b in $builds; do
        echo "== ${prefix}workload $w, $b, sms $sms (policy, task, completed, p50, p90, p99, max, req/s)"
        bench_elastic_rows "$b" "$w" "$sms" "$duration" 1
      done
    done
  done
}
