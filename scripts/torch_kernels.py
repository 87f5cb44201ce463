#!/usr/bin/env python3
"""PyTorch's own kernels for a zoo model, batch 1, on the whole GPU: what cuDNN and PyTorch
launch for one forward pass and how long each kernel runs, to set beside `miriam steps` when
looking for the layers where miriam loses to it.

For each MODEL (the reference modules of scripts/conformance.py, eval mode, fp32 weights,
torch.backends.cudnn.benchmark = True, PyTorch's default TF32 settings): --warmup untimed
forward passes, then --repeat passes under torch.profiler (CUDA activity); prints one
markdown table per model: every kernel name (shortened), launches per forward pass, median
microseconds per launch and total microseconds per pass, slowest first, and the sum.

    python3 scripts/torch_kernels.py squeezenet1_1 mobilenet_v2 [--repeat 20] [--top 25]

Eager mode (the graph replay runs the same kernels; the profiler does not see inside it
reliably). Needs torch with CUDA; exits 77 without it.
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conformance as conf  # noqa: E402  (exits 77 when torch is missing)
from conformance import torch  # noqa: E402


def short(name, n=70):
    name = name.replace("void ", "")
    return name if len(name) <= n else name[:n - 3] + "..."


def profile(name, warmup, repeat):
    module, shape = conf.build(name)
    module = module.cuda()
    x = conf.random_input(shape).cuda()
    with torch.no_grad():
        for _ in range(warmup):
            module(x)
        torch.cuda.synchronize()
        acts = [torch.profiler.ProfilerActivity.CUDA]
        with torch.profiler.profile(activities=acts) as prof:
            for _ in range(repeat):
                module(x)
            torch.cuda.synchronize()
    per = {}
    for ev in prof.events():
        dt = getattr(ev, "device_type", None)
        if dt is None or "CUDA" not in str(dt):
            continue
        us = getattr(ev, "device_time", None)
        if us is None:
            us = getattr(ev, "cuda_time", 0.0)
        per.setdefault(ev.name, []).append(us)
    return per


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print("torch_kernels: no CUDA device")
        return 77
    torch.backends.cudnn.benchmark = True
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, "
          f"{torch.cuda.get_device_name(0)}")
    for name in a.models:
        per = profile(name, a.warmup, a.repeat)
        rows = []
        for k, v in per.items():
            rows.append((sum(v) / a.repeat, len(v) / a.repeat, statistics.median(v), k))
        rows.sort(reverse=True)
        total = sum(r[0] for r in rows)
        print(f"\n## {name}: {len(rows)} kernels, {sum(r[1] for r in rows):.0f} launches and "
              f"{total:.1f} us of kernel time per forward pass ({a.repeat} passes)\n")
        print("| kernel | launches/pass | median us | us/pass |")
        print("|---|--:|--:|--:|")
        for tot, cnt, med, k in rows[:a.top]:
            print(f"| {short(k)} | {cnt:.0f} | {med:.2f} | {tot:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
