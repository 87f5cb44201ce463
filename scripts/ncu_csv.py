#!/usr/bin/env python3
"""Summaries of an Nsight Compute CSV (ncu --csv --metrics ...), as scripts/gpu-ncu-forms.sh
and scripts/gpu-ncu-stalls.sh write them.

  ncu_csv.py CSV               per (metric, kernel, grid): launches, median and minimum
  ncu_csv.py --wave-plain CSV  per kernel of the 256-thread TF32 1x1 and depthwise
                               convolutions and per metric: the medians summed over the grids
                               both forms launched, plain, wave, and wave minus plain
"""
import collections
import csv
import sys


def load(path):
    """{(metric, kernel, grid): [values]} from ncu's raw CSV."""
    rows = [r for r in csv.reader(open(path)) if len(r) > 10]
    if not rows:
        sys.exit("no ncu rows")
    head, rows = rows[0], rows[1:]
    col = {n: i for i, n in enumerate(head)}
    by = collections.defaultdict(list)
    for r in rows:
        key = (r[col["Metric Name"]], r[col["Kernel Name"]], r[col["Grid Size"]])
        by[key].append(float(r[col["Metric Value"]].replace(",", "")))
    return by


def median(v):
    return sorted(v)[len(v) // 2]


def per_launch(by):
    for (m, k, g), v in sorted(by.items()):
        v = sorted(v)
        print(f"{m:32s} {k:32s} grid {g:16s} n={len(v):3d} median {v[len(v) // 2]:12.1f} min {v[0]:12.1f}")


def wave_plain(by):
    for base in ("mr_conv_direct_t256", "mr_conv_tc1x1_t256"):
        p_, w_ = base + "_plain", base + "_wave"
        grids = {k[2] for k in by if k[1] == p_} & {k[2] for k in by if k[1] == w_}
        print(f"{base}: {len(grids)} grids")
        for m in sorted({k[0] for k in by}):
            p = sum(median(by[(m, p_, g)]) for g in grids if (m, p_, g) in by)
            w = sum(median(by[(m, w_, g)]) for g in grids if (m, w_, g) in by)
            print(f"  {m:48s} plain {p:13.0f} wave {w:13.0f} wave-plain {w - p:11.0f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--wave-plain":
        wave_plain(load(sys.argv[2]))
    elif len(sys.argv) == 2:
        per_launch(load(sys.argv[1]))
    else:
        sys.exit(__doc__)
