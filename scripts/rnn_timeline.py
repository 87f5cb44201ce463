#!/usr/bin/env python3
"""Summarise the per-block step timeline of a -DRNN_TIMELINE build of src/cuda/rnn.cu.

The build prints, for every block of the persistent recurrence and virtual steps 20 to 22,
"tl BLOCK STEP t0 t1 t2 t3 [t4 t5]" (thread 0's %globaltimer ns: loop top, its poll done, the
barrier after the wait, the step's last barrier; the last warp's take and claim done and warp
0's dot products done, where printed). This groups the
lines by launch (a gap of more than 50 us between loop tops) and prints, per launch, the
medians and ranges over blocks and steps 21-22 of intervals measured on one SM's timer:

    build-gpu/miriam-timeline run zoo:lstm --device cuda --sms 16 --repeat 1 > tl.txt
    python3 scripts/rnn_timeline.py tl.txt
"""
import collections
import statistics
import sys


def launches(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("tl "):
                rows.append(tuple(int(x) for x in line.split()[1:]))
    rows.sort(key=lambda r: r[2])
    group = []
    for r in rows:
        if group and r[2] - group[-1][2] > 50000:
            yield group
            group = []
        group.append(r)
    if group:
        yield group


def summary(group):
    stamps = collections.defaultdict(dict)  # step -> block -> (t0..t3)
    for blk, step, *t in group:
        stamps[step][blk] = t
    iv = collections.defaultdict(list)
    for blk in stamps[21]:
        for step in (21, 22):
            cur, prev = stamps[step].get(blk), stamps[step - 1].get(blk)
            if not cur or not prev or not all(cur) or not prev[3]:
                continue
            iv["period (end to end)"].append(cur[3] - prev[3])
            iv["end to next loop top"].append(cur[0] - prev[3])
            iv["loop top to poll done"].append(cur[1] - cur[0])
            iv["poll done to barrier"].append(cur[2] - cur[1])
            iv["end to barrier after the wait"].append(cur[2] - prev[3])
            iv["barrier after the wait to end"].append(cur[3] - cur[2])
            if len(cur) >= 6:
                iv["loop top to take done (last warp)"].append(cur[4] - cur[0])
                iv["take done to barrier after the wait"].append(cur[2] - cur[4])
                iv["barrier to warp 0's dots done"].append(cur[5] - cur[2])
                iv["warp 0's dots done to end"].append(cur[3] - cur[5])
    return iv


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: rnn_timeline.py FILE")
    for n, group in enumerate(launches(sys.argv[1])):
        iv = summary(group)
        if not iv:
            continue
        print(f"launch {n}: {len(group)} lines")
        for name, v in iv.items():
            print(f"  {name:36s} median {statistics.median(v) / 1000:5.2f} us"
                  f"  [{min(v) / 1000:5.2f}, {max(v) / 1000:5.2f}]")


if __name__ == "__main__":
    main()
