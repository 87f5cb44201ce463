#!/usr/bin/env python3
"""One markdown table over many `miriam compare` reports (the MDTB matrix).

    scripts/mdtb_summary.py DIR...        # each DIR holds a results.json of miriam compare

For every report (a workload at one SM count), one row per policy with the four numbers of
the per-policy summary: worst critical p99 / solo p99, mean normal throughput / solo, the
system throughput (sum of normalised throughputs) and its ratio to sequential's. Included
PyTorch rows come out as they are in the report (divided by PyTorch's own solo row). A
final table counts, per policy, the reports where it meets the targets of docs/WORKLOADS.md
(critical p99 <= 1.05x solo with normal >= 0.85 of solo; system throughput >= 1.92x
sequential)."""
import json
import math
import os
import sys


def fmt(v, f="%.2f"):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f % v


def sms_label(backend):
    # "cuda/16sm/elastic/tf32" -> "16 SMs"; "cuda/elastic/tf32" -> "whole GPU"
    parts = backend.split("/")
    for p in parts:
        if p.endswith("sm") and p[:-2].isdigit():
            return p[:-2] + " SMs"
    return "whole GPU" if parts and parts[0] == "cuda" else parts[0]


def main(dirs):
    if not dirs:
        sys.exit(__doc__)
    rows, met = [], {}
    for d in dirs:
        path = os.path.join(d, "results.json")
        try:
            with open(path) as f:
                r = json.load(f)
        except (OSError, ValueError) as e:
            sys.exit(f"mdtb_summary: {path}: {e}")
        where = sms_label(r.get("backend", "?"))
        for run in r["runs"]:
            pol = run["policy"]
            if pol == "solo" or pol.endswith("-solo"):
                continue
            c, n = run.get("critical_p99_vs_solo"), run.get("normal_throughput_vs_solo")
            s, q = run.get("system_throughput"), run.get("system_throughput_vs_sequential")
            rows.append((r["workload"], where, pol, c, n, s, q))
            m = met.setdefault(pol, [0, 0, 0])
            m[0] += 1
            if c is not None and c <= 1.05 and (n is None or n >= 0.85):
                m[1] += 1
            if q is not None and q >= 1.92:
                m[2] += 1
    print("| workload | SMs | policy | critical p99 / solo | normal tput / solo | system tput "
          "| vs sequential |")
    print("|---|---|---|--:|--:|--:|--:|")
    for w, where, pol, c, n, s, q in rows:
        print(f"| {w} | {where} | {pol} | {fmt(c)} | {fmt(n)} | {fmt(s)} | {fmt(q, 'x%.2f')} |")
    print()
    print("| policy | reports | critical <= 1.05x with normal >= 0.85 | system >= 1.92x sequential |")
    print("|---|--:|--:|--:|")
    for pol, (k, a, b) in met.items():
        print(f"| {pol} | {k} | {a} | {b} |")


if __name__ == "__main__":
    main(sys.argv[1:])
