#!/usr/bin/env python3
"""Batch-1 CPU latency of the zoo models: miriam vs PyTorch, on this machine.

For each model (default: every zoo model), back to back:
  PyTorch: the reference module (the one scripts/zoo_vs_torch.py proves identical, with the
    zoo's own weights loaded, so both sides compute on the same numbers) with
    torch.set_num_threads(nproc), eval mode, torch.no_grad(), --warmup untimed runs then
    --repeat (>= 20) timed runs;
  miriam: `miriam bench zoo:NAME --repeat N --warmup W --device cpu --csv FILE` (its default:
    one worker thread per core), the same protocol.
Latencies are wall-clock per inference; p50 is the median and p99 the nearest-rank 99th
percentile (as miriam bench computes it; with 20 runs, the slowest one). ratio = miriam p50 /
PyTorch p50 (below 1: miriam is faster).

The machine may be shared: before each model the script waits (--idle-timeout) until other
processes are idle, and it measures the CPU time other processes used during the model's two
measurements ("other load", in cores; 0 = the numbers are clean). PyTorch's OpenMP threads
suffer badly from a busy core (squeezenet1_1 went from 20 ms to 870 ms with one core taken by
another job), so a row with other load above ~0.1 is not to be trusted. miriam bench runs once
per model rather than once for all, so that both measurements of a model share their
conditions.

Prints one markdown table, with the machine, load average and software, for
docs/PERFORMANCE.md.
"""
import argparse
import csv
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conformance as conf  # noqa: E402  (exits 77 when torch is missing)
import zoo_vs_torch as zvt  # noqa: E402
from conformance import np, torch  # noqa: E402


# Other processes' CPU use (cores) under which a measurement counts as clean.
CLEAN = 0.1


def percentile(samples, p):
    """Nearest rank, as miriam bench computes it."""
    v = sorted(samples)
    rank = max(1, min(len(v), int(np.ceil(p / 100.0 * len(v)))))
    return v[rank - 1]


class ForeignLoad:
    """CPU time used by other processes while a measurement runs, in cores: the machine's busy
    time (/proc/stat) minus this process's and its children's (os.times). The machine is shared,
    so every measurement records it and the table shows it."""

    def __init__(self):
        self.t0, self.busy0, self.own0 = time.time(), self._busy(), self._own()

    @staticmethod
    def _busy():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait

    @staticmethod
    def _own():
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def cores(self):
        dt = max(time.time() - self.t0, 1e-3)
        return max(0.0, (self._busy() - self.busy0) - (self._own() - self.own0)) / dt


def wait_idle(timeout, threshold=0.15):
    """Waits until other processes use less than `threshold` cores for two 1-second samples
    in a row, or `timeout` seconds; returns True when idle."""
    end, quiet = time.time() + timeout, 0
    while time.time() < end:
        f = ForeignLoad()
        time.sleep(1.0)
        quiet = quiet + 1 if f.cores() < threshold else 0
        if quiet >= 2:
            return True
    return False


def torch_model(name, miriam, work):
    """The reference module with the zoo's weights, and its input."""
    path = os.path.join(work, name + ".onnx")
    subprocess.run([miriam, "export", "zoo:" + name, path], check=True,
                   stdout=subprocess.DEVNULL)
    module, _ = conf.build(name)
    sd, _ = zvt.onnx_to_state_dict(name, path, module)
    module.load_state_dict(sd, strict=True)
    x = conf.random_input(zvt.input_shape(path))
    os.remove(path)
    return module, x


def torch_latency(module, x, warmup, repeat):
    lat = []
    with torch.no_grad():
        for _ in range(warmup):
            module(x)
        for _ in range(repeat):
            t0 = time.perf_counter()
            module(x)
            lat.append((time.perf_counter() - t0) * 1e3)
    return percentile(lat, 50), percentile(lat, 99)


def miriam_latency(name, miriam, work, warmup, repeat):
    csv_path = os.path.join(work, "miriam.csv")
    cmd = [miriam, "bench", "zoo:" + name, "--repeat", str(repeat), "--warmup", str(warmup),
           "--device", "cpu", "--csv", csv_path]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(csv_path) as f:
        row = next(csv.DictReader(f))
    os.remove(csv_path)
    return float(row["p50_ms"]), float(row["p99_ms"]), row


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--miriam", default="build/miriam", help="miriam CLI (default build/miriam)")
    ap.add_argument("--models", default=",".join(zvt.ZOO),
                    help="comma-separated subset of: " + " ".join(zvt.ZOO))
    ap.add_argument("--repeat", type=int, default=20, help="timed runs per model (default 20)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed runs per model (default 3)")
    ap.add_argument("--retries", type=int, default=4,
                    help="measure a model again, up to this many times, while other processes "
                    f"used more than {CLEAN} cores during it; the cleanest attempt is kept "
                    "(default 4)")
    ap.add_argument("--idle-timeout", type=float, default=300,
                    help="before each model, wait up to this many seconds for other processes "
                    "to go idle (default 300; 0: do not wait)")
    args = ap.parse_args()
    models = [m for m in args.models.split(",") if m]
    bad = [m for m in models if m not in zvt.ZOO]
    if bad:
        ap.error(f"unknown model(s) {bad}; valid: {zvt.ZOO}")
    if args.repeat < 20:
        ap.error("--repeat must be at least 20")
    nproc = os.cpu_count() or 1
    torch.set_num_threads(nproc)

    load0 = os.getloadavg()
    work = tempfile.mkdtemp(prefix="miriam-bench-cpu-")
    results = []
    try:
        for name in models:
            module, x = torch_model(name, args.miriam, work)
            best = None
            for attempt in range(1 + args.retries):
                idle = wait_idle(args.idle_timeout) if args.idle_timeout > 0 else False
                f = ForeignLoad()
                tp50, tp99 = torch_latency(module, x, args.warmup, args.repeat)
                mp50, mp99, row = miriam_latency(name, args.miriam, work, args.warmup,
                                                 args.repeat)
                other = f.cores()
                print(f"bench_cpu: {name}: miriam p50 {mp50:.2f} ms, PyTorch p50 {tp50:.2f} ms, "
                      f"other processes {other:.2f} cores{'' if idle else ' (no idle wait)'}",
                      file=sys.stderr, flush=True)
                if best is None or other < best[5]:
                    best = (name, mp50, mp99, tp50, tp99, other, idle, row["threads"])
                if other <= CLEAN:
                    break
            results.append(best)
            del module
    finally:
        load1 = os.getloadavg()
        shutil.rmtree(work, ignore_errors=True)

    threads = sorted({r[7] for r in results})
    print(f"CPU: {cpu_model()}, {nproc} cores; torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), miriam {', '.join(threads)} threads; "
          f"{args.repeat} timed runs after {args.warmup} warm-up per model; load average "
          f"before {load0[0]:.2f}, after {load1[0]:.2f}")
    print()
    print("| model | miriam p50 ms | miriam p99 ms | PyTorch p50 ms | PyTorch p99 ms | ratio "
          "| other load |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for name, mp50, mp99, tp50, tp99, other, _, _ in results:
        print(f"| {name} | {mp50:.2f} | {mp99:.2f} | {tp50:.2f} | {tp99:.2f} | "
              f"{mp50 / tp50:.2f} | {other:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
