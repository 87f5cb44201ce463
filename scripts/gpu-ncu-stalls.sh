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
  python3 - "$OUT/ncu-forms-$b.csv" <<'PY'
import collections, csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
if not rows:
    sys.exit("no ncu rows")
head, rows = rows[0], rows[1:]
col = {n: i for i, n in enumerate(head)}
by = collections.defaultdict(list)
for r in rows:
    key = (r[col["Metric Name"]], r[col["Kernel Name"]], r[col["Grid Size"]])
    by[key].append(float(r[col["Metric Value"]].replace(",", "")))
med = lambda v: sorted(v)[len(v) // 2]
for base in ("mr_conv_direct_t256", "mr_conv_tc1x1_t256"):
    p_, w_ = base + "_plain", base + "_wave"
    grids = {k[2] for k in by if k[1] == p_} & {k[2] for k in by if k[1] == w_}
    print(f"{base}: {len(grids)} grids")
    for m in sorted({k[0] for k in by}):
        p = sum(med(by[(m, p_, g)]) for g in grids if (m, p_, g) in by)
        w = sum(med(by[(m, w_, g)]) for g in grids if (m, w_, g) in by)
        print(f"  {m:48s} plain {p:13.0f} wave {w:13.0f} wave-plain {w - p:11.0f}")
PY
done
