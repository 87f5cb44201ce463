#!/usr/bin/env python3
"""Summarise the block timeline of a -DMR_ELASTIC_TIMELINE study build (include/miriam/elastic.cuh).

Input: the "etl" lines of one `miriam steps MODEL --repeat 1 --warmup 0` run (stdin or a file).
Each line is one plain block or one physical block of a prefilled elastic launch:

    etl FORM LOGICAL-BLOCKS GRID BLOCK SM T-START T-WAITED N [I T0 T1]x4

Lines are grouped into launches (a launch ends where the form, the logical block count or the
grid changes, or a block index repeats). For every launch of more than one wave (more logical
blocks than the elastic form's physical blocks) it prints, per form, with every difference
taken on one SM's timer (timers of different SMs differ by up to ~2.5 us):

  span     the longest time one SM was busy with the launch: from the earliest start of a block
           on that SM to the latest end of a logical block there (us)
  body1    median duration of a first-wave logical block (us)
  body2    median duration of a later-wave logical block (us)
  gap2     median time from the end of the logical block a later-wave block followed on its SM
           (the plain grid: the latest end on that SM before its start; the elastic form: the
           same physical block's previous logical block) to its start (us)
  sms2     how many SMs ran later-wave blocks, and the most any one SM ran

The launches are matched in order: the n-th multi-wave plain launch of a (blocks) size with the
n-th elastic one of the same size.

Then the launches of one wave of the preemptible form (the wave form, FORM w), each matched with
the plain launch of the same size in the same order, one row a launch and a row of sums:

  wait     median time from a block's start to the end of its grid-dependency wait (us)
  lead     median time from the end of that wait to the start of its body (us)
  body     median duration of its logical block (us)
  span     as above
"""
import collections
import statistics
import sys


def parse(lines):
    launches, cur, seen, key = [], [], set(), None
    for line in lines:
        f = line.split()
        if len(f) < 9 or f[0] != "etl":
            continue
        form, nb, grid, blk, sm = f[1], int(f[2]), int(f[3]), int(f[4]), int(f[5])
        t_start, t_waited, n = int(f[6]), int(f[7]), int(f[8])
        recs = []
        for q in range(min(n, 4)):
            i, t0, t1 = (int(x) for x in f[9 + 3 * q:12 + 3 * q])
            recs.append((i, t0, t1))
        k = (form, nb, grid)
        if k != key or blk in seen:
            if cur:
                launches.append((key, cur))
            cur, seen, key = [], set(), k
        seen.add(blk)
        cur.append(dict(blk=blk, sm=sm, start=t_start, waited=t_waited, recs=recs))
    if cur:
        launches.append((key, cur))
    return launches


def median(v):
    return statistics.median(v) if v else float("nan")


def by_sm(blocks):
    out = collections.defaultdict(list)
    for b in blocks:
        out[b["sm"]].append(b)
    return out


def span_of(bs):
    """From the earliest start of a block in bs (one SM's) to the latest end of a logical block."""
    return (max(r[2] for b in bs for r in b["recs"]) - min(b["start"] for b in bs)) / 1e3


def summarise(blocks, first_wave):
    """first_wave(block, q): whether the q-th logical block of `block` is in the first wave."""
    span = 0.0
    body1, body2, gap2 = [], [], []
    later_per_sm = collections.Counter()
    for sm, bs in by_sm(blocks).items():
        span = max(span, span_of(bs))
        ends = sorted(r[2] for b in bs for r in b["recs"])
        for b in bs:
            for q, (i, t0, t1) in enumerate(b["recs"]):
                if first_wave(b, q):
                    body1.append((t1 - t0) / 1e3)
                    continue
                body2.append((t1 - t0) / 1e3)
                later_per_sm[sm] += 1
                if q > 0:
                    prev = b["recs"][q - 1][2]
                else:
                    before = [e for e in ends if e <= t0]
                    prev = before[-1] if before else None
                if prev is not None:
                    gap2.append((t0 - prev) / 1e3)
    return dict(span=span, body1=median(body1), body2=median(body2), gap2=median(gap2),
                n2=sum(later_per_sm.values()), sms2=len(later_per_sm),
                max2=max(later_per_sm.values()) if later_per_sm else 0)


def main():
    src = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
    launches = parse(src)
    elastic = collections.defaultdict(list)
    plain = collections.defaultdict(list)
    for (form, nb, grid), blocks in launches:
        if form == "e" and nb > grid:
            elastic[nb].append((grid, blocks))
        elif form == "p" and grid == nb:
            plain[nb].append(blocks)
    print("| logical blocks | P | form | span us | body1 us | body2 us | gap2 us | later blocks "
          "| on SMs | most on one SM |")
    print("|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|")
    for nb in sorted(elastic):
        for k, (grid, eb) in enumerate(elastic[nb]):
            # The plain grid's first wave: the first `grid` blocks to start (the elastic form's P
            # is the occupancy's full width, so the same slots).
            pl = plain[nb][k] if k < len(plain[nb]) else None
            rows = []
            if pl:
                starts = sorted((b["recs"][0][1], b["blk"]) for b in pl if b["recs"])
                wave1 = {blk for _, blk in starts[:grid]}
                rows.append(("plain", summarise(pl, lambda b, q: q == 0 and b["blk"] in wave1)))
            rows.append(("elastic", summarise(eb, lambda b, q: q == 0)))
            for name, s in rows:
                print(f"| {nb} | {grid} | {name} | {s['span']:.2f} | {s['body1']:.2f} | "
                      f"{s['body2']:.2f} | {s['gap2']:.2f} | {s['n2']} | {s['sms2']} | "
                      f"{s['max2']} |")
    wave_section(launches)


def one_wave(blocks):
    return dict(wait=median([(b["waited"] - b["start"]) / 1e3 for b in blocks]),
                lead=median([(b["recs"][0][1] - b["waited"]) / 1e3 for b in blocks if b["recs"]]),
                body=median([(b["recs"][0][2] - b["recs"][0][1]) / 1e3 for b in blocks if b["recs"]]),
                span=max(span_of(bs) for bs in by_sm(blocks).values()))


def wave_section(launches):
    plain, wave = collections.defaultdict(list), collections.defaultdict(list)
    for (form, nb, grid), blocks in launches:
        if grid != nb:
            continue
        if form == "p":
            plain[nb].append(blocks)
        elif form == "w":
            wave[nb].append(blocks)
    print("\n| logical blocks | form | wait us | lead us | body us | span us |")
    print("|--:|---|--:|--:|--:|--:|")
    tot = collections.defaultdict(float)
    for nb in sorted(wave):
        for k, wb in enumerate(wave[nb]):
            if k >= len(plain[nb]):
                continue
            for name, bl in (("plain", plain[nb][k]), ("wave", wb)):
                r = one_wave(bl)
                for key, v in r.items():
                    tot[(name, key)] += v
                print(f"| {nb} | {name} | {r['wait']:.2f} | {r['lead']:.2f} | {r['body']:.2f} | "
                      f"{r['span']:.2f} |")
    for name in ("plain", "wave"):
        print(f"| all | {name} | {tot[(name, 'wait')]:.1f} | {tot[(name, 'lead')]:.1f} | "
              f"{tot[(name, 'body')]:.1f} | {tot[(name, 'span')]:.1f} |")


if __name__ == "__main__":
    main()
