#!/usr/bin/env python3
"""Summarise the per-block step timeline of a -DRNN_TIMELINE build of src/cuda/rnn.cu.

The build prints, for every block of the persistent recurrence and virtual steps 20 to 22,
"tl BLOCK STEP t0 t1 t2 t3 [t4 t5]" (thread 0's %globaltimer ns: loop top, its poll done, the
barrier after the wait, the step's last barrier; the last warp's take and claim done and warp
0's dot products done, where printed). This groups the
lines by launch (a gap of more than 50 us between loop tops) and prints, per launch, the
medians and ranges over blocks and steps 21-22 of intervals measured on one SM's timer, then
the blocks' order across SMs within steps 20 and 21 (see `across`):

    build-gpu/miriam-timeline run zoo:lstm --device cuda --sms 16 --repeat 1 > tl.txt
    python3 scripts/rnn_timeline.py tl.txt
"""
import collections
import statistics
import sys


def launches(path):
    """Yields the rows (block, step, t0..t5, sm) of each launch, sm -1 where not printed."""
    rows = []
    sm = {}
    with open(path) as f:
        for line in f:
            if line.startswith("tlsm "):
                blk, s = (int(x) for x in line.split()[1:3])
                sm[blk] = s
            elif line.startswith("tl "):
                r = tuple(int(x) for x in line.split()[1:])
                rows.append(r + (sm.get(r[0], -1),))
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
        stamps[step][blk] = t[:-1]
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


def across(group):
    """Lines on the blocks' order within a step, on the one clock %globaltimer is meant to be.

    A block's poll for step s + 1 cannot end before every block has stored its h_s, which is
    before that block's step-end stamp (t3) of step s. So if the blocks that end step s last
    do so after others' polls for step s + 1 are done, their stamps are offset (their SM's
    timer), not late; if not, they are late, and where they ran (the SM) may say why."""
    stamps = collections.defaultdict(dict)
    sms = {}
    for blk, step, *t in group:
        stamps[step][blk] = t[:-1]
        sms[blk] = t[-1]
    out = []
    for step in (20, 21):
        cur, nxt = stamps.get(step, {}), stamps.get(step + 1, {})
        ends = sorted((t[3], b) for b, t in cur.items() if t[3])
        if len(ends) < 2:
            continue
        first = ends[0][0]
        med = ends[len(ends) // 2][0]
        late = ends[-3:]
        desc = ", ".join(f"block {b} (SM {sms.get(b)}) +{(e - first) / 1000:.2f}" for e, b in late)
        out.append(f"  step {step}: ends spread {(ends[-1][0] - first) / 1000:.2f} us, median "
                   f"+{(med - first) / 1000:.2f}; last: {desc}")
        e_last, b_last = ends[-1]
        polls = [t[1] for b, t in nxt.items() if b != b_last and t[1]]
        if polls:
            out.append(f"    others' poll for step {step + 1} done, from the last end: earliest "
                       f"{(min(polls) - e_last) / 1000:+.2f} us, median "
                       f"{(statistics.median(polls) - e_last) / 1000:+.2f}")
        # each stamp of the last block against the median block's, same step
        for q, name in enumerate(("loop top", "poll done", "barrier", "end")):
            col = sorted(t[q] for t in cur.values() if t[q])
            if col and cur[b_last][q]:
                d = (cur[b_last][q] - col[len(col) // 2]) / 1000
                out.append(f"    block {b_last}'s {name:9s} {d:+.2f} us from the median block's")
    return out


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
        for line in across(group):
            print(line)


if __name__ == "__main__":
    main()
