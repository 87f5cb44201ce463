#!/usr/bin/env python3
"""Runs an MDTB workload file (docs/WORKLOADS.md) with PyTorch, for side-by-side comparison
with miriam: `miriam compare WORKLOAD.json --include OUT.csv` adds the rows this script writes
to its report as extra policies.

  mdtb_torch.py WORKLOAD.json -o OUT.csv [--modes multistream,priority] [--no-solo]
                [--device cuda|cpu] [--sms N] [--duration S] [--warmup S] [--seed N]
                [--grace S] [--no-graphs] [--threads N]

Models: the zoo's, as PyTorch modules (torchvision resnet18/resnet50/vgg16/alexnet/
squeezenet1_1/mobilenet_v2 with weights=None; lstm/gru as nn.LSTM/nn.GRU(256, 512, 2 layers,
batch_first) + nn.Linear(512, 10) on the last step of a [1, 50, 256] input; cifarnet as
src/zoo/cifarnet.c builds it), float32, eval mode, batch 1. ONNX model paths are not supported.

Requests follow each task's arrival process with miriam's semantics (closed loops keep
`concurrency` requests outstanding; periodic, Poisson and trace arrivals are open-loop, with the
same generators and seeds, so both systems see the same arrival times; an arrival that finds
max_in_flight requests in flight is rejected). Each task has its own thread submitting its
requests. A request copies its input from (pinned) host memory, runs the model and copies the
output back, as a miriam request does. Statistics start after the warm-up; in-flight requests
get --grace seconds at the end, the rest count as cancelled.

Modes (each a full run of the workload, each task with its own CUDA stream):
  multistream  every stream at the same priority        -> policy "pytorch-multistream"
  priority     critical tasks on the highest-priority    -> policy "pytorch-priority"
               streams, normal tasks on the lowest
  solo         each task alone, one run per task         -> policy "pytorch-solo"
               (the baseline of the ratio columns; --no-solo skips it)
On CUDA every task's forward pass is captured once per stream as a CUDA graph and replayed per
request (--no-graphs: eager launches). --sms N confines every stream to a green context of N
SMs (torch.cuda.green_contexts when this PyTorch has it, else the CUDA driver API through
ctypes, as scripts/bench_gpu.py does).
On the CPU (--device cpu) there are no streams: each task's thread runs its requests itself, in
both modes alike (priority has nothing to act on), so the two modes differ only by noise.

Output: OUT.csv in the schema of `miriam compare`'s results.csv (docs/WORKLOADS.md,
"Comparing policies"), a summary table on stdout, progress on stderr when it is a terminal.
Exit status: 0, 1 on an error (a message on stderr), 77 when PyTorch is not importable.
Use a Python that has torch and torchvision (on Debian: /usr/bin/python3).
"""
import argparse
import collections
import csv
import json
import math
import os
import sys
import threading
import time

MASK64 = (1 << 64) - 1
ZOO_VISION = ["resnet18", "resnet50", "vgg16", "alexnet", "squeezenet1_1", "mobilenet_v2"]
ZOO = ZOO_VISION + ["cifarnet", "lstm", "gru"]
CSV_COLUMNS = [
    "workload", "policy", "task", "model", "criticality", "arrival", "deadline_ms",
    "max_in_flight", "submitted", "completed", "rejected", "cancelled", "p50_ms", "p90_ms",
    "p99_ms", "max_ms", "mean_ms", "throughput_rps", "deadline_misses", "deadline_miss_pct",
    "p99_vs_solo", "throughput_vs_solo", "backend", "threads", "measured_s", "latency_samples",
    "latency_pct_ms"]
MAX_TASKS, MAX_NAME, MAX_RATE, MAX_S, MAX_MS, MAX_CONC = 64, 64, 1e5, 86400.0, 86400e3, 1024


class WorkloadError(Exception):
    pass


def log(msg):
    print(f"mdtb_torch: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Workload files (the rules of src/bench/workload.c, checked as strictly)


def _num(obj, key, path, required, default, lo, lo_open, hi):
    if key not in obj:
        if required:
            raise WorkloadError(f"{path}: missing required key \"{key}\"")
        return default
    v = obj[key]
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ok = ok and (v > lo if lo_open else v >= lo) and v <= hi
    if not ok:
        raise WorkloadError(f"{path}.{key}: must be a number {'>' if lo_open else '>='} {lo:g} "
                            f"and <= {hi:g} (got {json.dumps(v)})")
    return float(v)


def _int(obj, key, path, default, lo, hi):
    v = _num(obj, key, path, False, default, lo, False, hi)
    if v != int(v):
        raise WorkloadError(f"{path}.{key}: must be an integer (got {obj[key]!r})")
    return int(v)


def _keys(obj, path, allowed):
    if not isinstance(obj, dict):
        raise WorkloadError(f"{path or 'the workload'}: must be a JSON object")
    for k in obj:
        if k not in allowed:
            raise WorkloadError(f"{path or 'top level'}: unknown key \"{k}\" (expected: "
                                f"{', '.join(allowed)})")


def _name(v, path):
    if not isinstance(v, str) or not 1 <= len(v.encode()) <= MAX_NAME or not all(
            c.isascii() and (c.isalnum() or c in "_-.") for c in v):
        raise WorkloadError(f"{path}: must be 1 to {MAX_NAME} letters, digits, '_', '-' or '.'")
    return v


def default_name(path):
    b = os.path.basename(path)
    if len(b) > 5 and b.endswith(".json"):
        b = b[:-5]
    b = b[:MAX_NAME]
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-.") else "_"
                   for c in b) or "workload"


def load_trace(path, column, where):
    """The timestamps of `column` of a trace CSV (header row, then rows of ms or empty)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise WorkloadError(f"{where}: cannot read trace {path}: {e.strerror}")
    header, times = None, []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        if header is None:
            header = cells
            if column not in header:
                raise WorkloadError(f"{where}: {path}:{no}: no column \"{column}\"")
            idx = header.index(column)
            continue
        if len(cells) > len(header):
            raise WorkloadError(f"{where}: {path}:{no}: {len(cells)} cells, the header has "
                                f"{len(header)}")
        if idx >= len(cells) or not cells[idx]:
            continue
        try:
            t = float(cells[idx])
        except ValueError:
            raise WorkloadError(f"{where}: {path}:{no}: \"{cells[idx]}\" is not a time in ms")
        if not (0 <= t <= MAX_MS) or (times and t < times[-1]):
            raise WorkloadError(f"{where}: {path}:{no}: column \"{column}\": {cells[idx]} ms is "
                                "out of range or before the previous time")
        times.append(t)
    if header is None:
        raise WorkloadError(f"{where}: {path}: no header row")
    if not times:
        raise WorkloadError(f"{where}: {path}: column \"{column}\" has no timestamps")
    return times


def load_workload(path):
    try:
        with open(path, encoding="utf-8") as f:
            root = json.load(f)
    except OSError as e:
        raise WorkloadError(f"cannot read {path}: {e.strerror}")
    except ValueError as e:
        raise WorkloadError(f"{path}: invalid JSON: {e}")
    base = os.path.dirname(path)
    try:
        _keys(root, "", ["name", "description", "duration_s", "warmup_s", "seed", "tasks"])
        wl = {
            "name": _name(root["name"], "name") if "name" in root else default_name(path),
            "file": path,
            "duration_s": _num(root, "duration_s", "top level", True, None, 0, True, MAX_S),
            "warmup_s": _num(root, "warmup_s", "top level", False, 1.0, 0, False, MAX_S),
            "seed": _int(root, "seed", "top level", 1, 0, 2 ** 53),
            "tasks": [],
        }
        tasks = root.get("tasks")
        if not isinstance(tasks, list) or not 1 <= len(tasks) <= MAX_TASKS:
            raise WorkloadError(f"tasks: must be an array of 1 to {MAX_TASKS} tasks")
        for i, t in enumerate(tasks):
            p = f"tasks[{i}]"
            _keys(t, p, ["name", "model", "criticality", "arrival", "deadline_ms",
                         "max_in_flight"])
            for k in ("name", "model", "criticality", "arrival"):
                if k not in t:
                    raise WorkloadError(f"{p}: missing required key \"{k}\"")
            name = _name(t["name"], p + ".name")
            if any(x["name"] == name for x in wl["tasks"]):
                raise WorkloadError(f"{p}.name: duplicate task name \"{name}\"")
            model = t["model"]
            if not isinstance(model, str):
                raise WorkloadError(f"{p}.model: must be a string")
            if not model.startswith("zoo:"):
                raise WorkloadError(f"{p}.model: {model}: ONNX models are not supported by "
                                    "this script (zoo:NAME only)")
            if model[4:] not in ZOO:
                raise WorkloadError(f"{p}.model: unknown zoo model \"{model[4:]}\" (expected "
                                    f"one of {', '.join(ZOO)})")
            if t["criticality"] not in ("critical", "normal"):
                raise WorkloadError(f"{p}.criticality: must be \"critical\" or \"normal\"")
            a, ap = t["arrival"], p + ".arrival"
            kind = a.get("type") if isinstance(a, dict) else None
            arr = {"type": kind}
            if kind == "closed":
                _keys(a, ap, ["type", "concurrency"])
                arr["concurrency"] = _int(a, "concurrency", ap, 1, 1, MAX_CONC)
            elif kind == "periodic":
                _keys(a, ap, ["type", "rate_hz", "offset_ms"])
                arr["rate_hz"] = _num(a, "rate_hz", ap, True, None, 0, True, MAX_RATE)
                arr["offset_ms"] = _num(a, "offset_ms", ap, False, 0.0, 0, False, MAX_MS)
            elif kind == "poisson":
                _keys(a, ap, ["type", "rate_hz"])
                arr["rate_hz"] = _num(a, "rate_hz", ap, True, None, 0, True, MAX_RATE)
            elif kind == "trace":
                _keys(a, ap, ["type", "file", "column"])
                if not isinstance(a.get("file"), str):
                    raise WorkloadError(f"{ap}.file: missing or not a string")
                arr["file"] = a["file"]
                arr["column"] = a.get("column", name)
                arr["times_ms"] = load_trace(os.path.join(base, a["file"]), arr["column"],
                                             ap + ".file")
            else:
                raise WorkloadError(f"{ap}.type: must be \"closed\", \"periodic\", \"poisson\" "
                                    "or \"trace\"")
            need = arr.get("concurrency", 1)
            mif = _int(t, "max_in_flight", p, max(need, 8), 1, MAX_CONC)
            if mif < need:
                raise WorkloadError(f"{p}.max_in_flight: {mif} is less than "
                                    f"arrival.concurrency {need}")
            wl["tasks"].append({
                "name": name, "model": model, "zoo": model[4:],
                "critical": t["criticality"] == "critical",
                "deadline_ms": _num(t, "deadline_ms", p, False, 0.0, 0, False, MAX_MS),
                "max_in_flight": mif, "arrival": arr})
    except WorkloadError as e:
        raise WorkloadError(f"{path}: {e}")
    return wl


def describe_arrival(a):
    """As mr_arrival_describe: "closed x1", "periodic 30 Hz +5 ms", "poisson 50 Hz", ..."""
    if a["type"] == "closed":
        return f"closed x{a['concurrency']}"
    if a["type"] == "periodic":
        s = "periodic %g Hz" % a["rate_hz"]
        return s + (" +%g ms" % a["offset_ms"] if a["offset_ms"] > 0 else "")
    if a["type"] == "poisson":
        return "poisson %g Hz" % a["rate_hz"]
    return f"trace {os.path.basename(a['file'])}:{a['column']}"


# ---------------------------------------------------------------------------------------------
# Arrivals: the generators of src/bench/workload.c, bit for bit


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def workload_hash(seed, name, index):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK64
    _, m = splitmix64(h)
    s = (seed ^ m) ^ ((index * 0xD1B54A32D192ED03) & MASK64)
    return splitmix64(s)[1]


def arrivals(task, seed):
    """Arrival times in ms from the start of the run (open loops); nothing for closed ones."""
    a = task["arrival"]
    if a["type"] == "periodic":
        period, k = 1000.0 / a["rate_hz"], 0
        while True:
            yield a["offset_ms"] + k * period
            k += 1
    elif a["type"] == "poisson":
        rng, t, mean = workload_hash(seed, task["name"], 0), 0.0, 1000.0 / a["rate_hz"]
        while True:
            rng, v = splitmix64(rng)
            u = (v >> 11) * 2.0 ** -53
            t += -math.log1p(-u) * mean
            yield t
    elif a["type"] == "trace":
        yield from a["times_ms"]


# ---------------------------------------------------------------------------------------------
# Models


def import_torch():
    global torch, nn, torchvision
    import torch  # noqa: F811
    import torch.nn as nn  # noqa: F811
    import torchvision  # noqa: F811


def build_model(name, seed):
    """(module in eval mode, input shape), deterministic for a seed."""
    torch.manual_seed(seed)
    if name in ("lstm", "gru"):
        class RecurrentHead(nn.Module):
            def __init__(self):
                super().__init__()
                cls = nn.LSTM if name == "lstm" else nn.GRU
                self.rnn = cls(256, 512, num_layers=2, batch_first=True)
                self.fc = nn.Linear(512, 10)

            def forward(self, x):
                y, _ = self.rnn(x)
                return self.fc(y[:, -1])

        return RecurrentHead().eval(), (1, 50, 256)
    if name == "cifarnet":
        # src/zoo/cifarnet.c: conv 3->6 k5, relu, maxpool 2; conv 6->16 k5, relu, maxpool 2;
        # flatten; fc 400->120, relu; fc 120->84, relu; fc 84->10.
        m = nn.Sequential(
            nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Flatten(1),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10))
        return m.eval(), (1, 3, 32, 32)
    return getattr(torchvision.models, name)(weights=None).eval(), (1, 3, 224, 224)


# ---------------------------------------------------------------------------------------------
# Streams and SM partitions (CUDA)


class DriverGreen:
    """A green context of `sms` SMs through the CUDA driver API (ctypes), and streams in it
    with priorities; the construction of scripts/bench_gpu.py (CudaDriverGreen)."""

    RES_SIZE = 512  # > sizeof(CUdevResource) in CUDA 12.4..13.x
    SM_COUNT_OFFSET = 96  # CUdevResource.sm.smCount: after the int type and 92 padding bytes

    def __init__(self, sms, dev):
        import ctypes
        import struct
        self.ct = ctypes
        lib = ctypes.CDLL("libcuda.so.1")
        vp, ui, ci = ctypes.c_void_p, ctypes.c_uint, ctypes.c_int

        def fn(name, *argtypes):
            f = getattr(lib, name)
            f.restype, f.argtypes = ci, list(argtypes)
            return f

        dev_get = fn("cuDeviceGet", ctypes.POINTER(ci), ci)
        get_res = fn("cuDeviceGetDevResource", ci, ctypes.c_char_p, ci)
        split = fn("cuDevSmResourceSplitByCount", ctypes.c_char_p, ctypes.POINTER(ui),
                   ctypes.c_char_p, ctypes.c_char_p, ui, ui)
        gen = fn("cuDevResourceGenerateDesc", ctypes.POINTER(vp), ctypes.c_char_p, ui)
        create = fn("cuGreenCtxCreate", ctypes.POINTER(vp), vp, ci, ui)
        self._stream_create = fn("cuGreenCtxStreamCreate", ctypes.POINTER(vp), vp, ui, ci)
        d = ci()
        self.check(dev_get(ctypes.byref(d), dev), "cuDeviceGet")
        all_sm = ctypes.create_string_buffer(self.RES_SIZE)
        part = ctypes.create_string_buffer(self.RES_SIZE)
        rest = ctypes.create_string_buffer(self.RES_SIZE)
        self.check(get_res(d, all_sm, 1), "cuDeviceGetDevResource(SM)")
        n = ui(1)
        self.check(split(part, ctypes.byref(n), all_sm, rest, 0, sms),
                   "cuDevSmResourceSplitByCount")
        if n.value < 1:
            raise RuntimeError(f"cuDevSmResourceSplitByCount made no group of {sms} SMs")
        got = struct.unpack_from("I", part.raw, self.SM_COUNT_OFFSET)[0]
        self.actual = got if 0 < got <= 4096 else None
        desc = vp()
        self.check(gen(ctypes.byref(desc), part, 1), "cuDevResourceGenerateDesc")
        self.gctx = vp()
        self.check(create(ctypes.byref(self.gctx), desc, d, 1), "cuGreenCtxCreate")
        self.handles = []

    @staticmethod
    def check(r, what):
        if r != 0:
            raise RuntimeError(f"{what} failed with CUresult {r}")

    def stream(self, priority):
        s = self.ct.c_void_p()
        self.check(self._stream_create(self.ct.byref(s), self.gctx, 1, priority),  # NON_BLOCKING
                   "cuGreenCtxStreamCreate")
        self.handles.append(s)
        return torch.cuda.ExternalStream(s.value)


def priority_range():
    """(lowest, highest) stream priority; CUDA numbers higher priorities lower."""
    try:
        a, b = torch.cuda.Stream.priority_range()
        return max(a, b), min(a, b)
    except Exception:
        return 0, -1


def probe(stream):
    with torch.cuda.stream(stream):
        a = torch.ones(64, 64, device="cuda")
        (a @ a).sum().item()
    torch.cuda.synchronize()


class Streams:
    """Makes the CUDA streams of a run: plain ones, or streams of one green context of `sms`
    SMs (torch.cuda.green_contexts first, then the driver API)."""

    def __init__(self, sms, dev):
        self.sms, self.dev, self.method, self.green, self.notes = sms, dev, None, None, []
        if sms == 0:
            self.method = "torch.cuda.Stream"
            return
        errs = []
        try:
            import importlib
            mod = getattr(torch.cuda, "green_contexts", None) or importlib.import_module(
                "torch.cuda.green_contexts")
            GC = mod.GreenContext
            for form, make in (("create(num_sms=N, device_id=D)",
                                lambda: GC.create(num_sms=sms, device_id=dev)),
                               ("create(N, D)", lambda: GC.create(sms, dev))):
                try:
                    ctx = make()
                    if not hasattr(ctx, "Stream"):
                        raise RuntimeError("no Stream() method")
                    s = ctx.Stream()
                    probe(s)
                    self.green, self.kind = ctx, "torch"
                    self.method = f"torch.cuda.green_contexts.GreenContext.{form} + Stream()"
                    return
                except Exception as e:
                    errs.append(f"torch GreenContext.{form}: {type(e).__name__}: {e}")
        except Exception as e:
            errs.append(f"torch.cuda.green_contexts: {type(e).__name__}: {e}")
        try:
            self.green, self.kind = DriverGreen(sms, dev), "driver"
            probe(self.green.stream(0))
            self.method = "CUDA driver API (cuGreenCtxCreate + cuGreenCtxStreamCreate)"
            if self.green.actual not in (None, sms):
                self.notes.append(f"asked for {sms} SMs, the green context has "
                                  f"{self.green.actual}")
            return
        except Exception as e:
            errs.append(f"driver API: {type(e).__name__}: {e}")
        raise RuntimeError(f"no green context of {sms} SMs: " + "; ".join(errs))

    def make(self, priority):
        if self.green is None:
            return torch.cuda.Stream(priority=priority)
        if self.kind == "driver":
            return self.green.stream(priority)
        try:
            return self.green.Stream(priority=priority)
        except TypeError:
            if priority != priority_range()[0]:
                note = ("this PyTorch's green-context streams take no priority: priority mode "
                        "runs as multistream")
                if note not in self.notes:
                    self.notes.append(note)
                    log(note)
            return self.green.Stream()


# ---------------------------------------------------------------------------------------------
# Running a workload


class TaskRun:
    """One task in one run: its executor and what it measured."""

    def __init__(self, task, model, shape, device, seed, stream, graphs):
        self.task, self.model, self.device, self.stream = task, model, device, stream
        g = torch.Generator().manual_seed(workload_hash(seed, task["name"], 1) & 0x7FFFFFFF)
        x = torch.rand(*shape, generator=g) * 2 - 1
        self.lat, self.submitted, self.rejected, self.cancelled = [], 0, 0, 0
        self.in_window = 0
        self.graph = None
        if device == "cpu":
            self.x = x
            return
        self.host_x = x.pin_memory()
        with torch.no_grad():
            self.static_x = self.host_x.to("cuda")
            with torch.cuda.stream(stream):
                for _ in range(3):  # lazy initialisation and cuDNN autotuning, not captured
                    y = model(self.static_x)
            stream.synchronize()
            if graphs:
                self.graph = torch.cuda.CUDAGraph()
                # Captured on the task's own stream, so its kernels carry the stream's
                # priority and green context.
                with torch.cuda.graph(self.graph, stream=stream):
                    y = model(self.static_x)
            self.static_y = y
            self.host_y = torch.empty(y.shape, dtype=y.dtype).pin_memory()
        stream.synchronize()

    def launch(self):
        """Enqueues one request on the task's stream (CUDA); returns its completion event."""
        with torch.cuda.stream(self.stream):
            self.static_x.copy_(self.host_x, non_blocking=True)
            if self.graph is not None:
                self.graph.replay()
            else:
                self.static_y = self.model(self.static_x)
            self.host_y.copy_(self.static_y, non_blocking=True)
            ev = torch.cuda.Event()
            ev.record(self.stream)
        return ev

    def run_cpu(self):
        self.model(self.x)


class Clock:
    def __init__(self, warmup_s, duration_s):
        self.t0 = time.perf_counter()
        self.reset = self.t0 + warmup_s
        self.end = self.reset + duration_s
        self.grace_end = math.inf  # set when the arrivals stop
        self.stop = threading.Event()

    def now(self):
        return time.perf_counter()


def record(tr, clock, t_submit, t_done):
    """A completed request: counted when it completes after the warm-up (as miriam's reset
    statistics count it), in the window's throughput when it completes within the window."""
    if t_done > clock.grace_end:
        tr.cancelled += 1
        return
    if t_done < clock.reset:
        return
    tr.lat.append((t_done - t_submit) * 1e3)
    if t_done <= clock.end:
        tr.in_window += 1


def cuda_task(tr, clock, seed, errors):
    """Submits the task's requests (this thread) and completes them (a second thread that
    waits on each request's event in order: a stream runs them in order)."""
    task = tr.task
    cond = threading.Condition()
    state = {"inflight": 0}
    done_q = collections.deque()
    done_cv = threading.Condition()

    def completer():
        try:
            with torch.no_grad():
                while True:
                    with done_cv:
                        while not done_q:
                            done_cv.wait()
                        item = done_q.popleft()
                    if item is None:
                        return
                    t_submit, ev = item
                    ev.synchronize()  # releases the GIL while it waits
                    record(tr, clock, t_submit, clock.now())
                    with cond:
                        state["inflight"] -= 1
                        cond.notify_all()
        except Exception as e:
            errors.append(f"task {task['name']}: {type(e).__name__}: {e}")

    th = threading.Thread(target=completer, daemon=True)
    th.start()

    def submit():
        t = clock.now()
        with cond:
            state["inflight"] += 1
        ev = tr.launch()
        if t >= clock.reset:
            tr.submitted += 1
        with done_cv:
            done_q.append((t, ev))
            done_cv.notify()

    try:
        with torch.no_grad():
            a = task["arrival"]
            if a["type"] == "closed":
                while not clock.stop.is_set():
                    with cond:
                        while state["inflight"] >= a["concurrency"] and not clock.stop.is_set():
                            cond.wait(0.05)
                    if clock.stop.is_set():
                        break
                    submit()
            else:
                for t_ms in arrivals(task, seed):
                    t = clock.t0 + t_ms / 1e3
                    if t >= clock.end:
                        break
                    while clock.now() < t and not clock.stop.is_set():
                        clock.stop.wait(min(t - clock.now(), 0.05))
                    if clock.stop.is_set():
                        break
                    with cond:
                        full = state["inflight"] >= task["max_in_flight"]
                    if full:
                        if clock.now() >= clock.reset:
                            tr.rejected += 1
                        continue
                    submit()
    except Exception as e:
        errors.append(f"task {task['name']}: {type(e).__name__}: {e}")
    # Whatever is in flight completes (counted as cancelled past the grace period): the GPU
    # work cannot be withdrawn, and the next run needs an idle device.
    clock.stop.wait()
    with done_cv:
        done_q.append(None)
        done_cv.notify()
    th.join()


def cpu_task(tr, clock, seed, errors):
    """The task's thread is its executor: requests queue (up to max_in_flight, the running one
    included) and run one at a time, as a miriam task runs its own requests."""
    task = tr.task
    a = task["arrival"]
    try:
        with torch.no_grad():
            if a["type"] == "closed":
                # Each completion submits the next request: `concurrency` outstanding.
                start = clock.now()
                queue = collections.deque([start] * a["concurrency"])
                while queue:
                    t_submit = queue.popleft()
                    if clock.now() > clock.grace_end:
                        tr.cancelled += 1 + len(queue)
                        break
                    tr.run_cpu()
                    t = clock.now()
                    record(tr, clock, t_submit, t)
                    if not clock.stop.is_set():
                        queue.append(t)
                        if t >= clock.reset:
                            tr.submitted += 1
                return
            gen = arrivals(task, seed)
            nxt = next(gen, None)
            pending = collections.deque()  # arrival times (s) of admitted requests

            def admit(upto):
                nonlocal nxt
                while nxt is not None and clock.t0 + nxt / 1e3 <= min(upto, clock.end):
                    t = clock.t0 + nxt / 1e3
                    if len(pending) < task["max_in_flight"]:
                        pending.append(t)
                        tr.submitted += t >= clock.reset
                    else:
                        tr.rejected += t >= clock.reset
                    nxt = next(gen, None)

            while True:
                now = clock.now()
                admit(now)
                if pending:
                    if now > clock.grace_end:
                        tr.cancelled += len(pending)
                        return
                    tr.run_cpu()
                    t = clock.now()
                    admit(t)  # arrivals during the run found it in flight
                    record(tr, clock, pending.popleft(), t)
                    continue
                if clock.stop.is_set() or nxt is None:
                    return
                target = clock.t0 + nxt / 1e3
                if target >= clock.end:
                    clock.stop.wait()  # no more arrivals in the window
                else:
                    clock.stop.wait(max(0.0, target - now))
    except Exception as e:
        errors.append(f"task {task['name']}: {type(e).__name__}: {e}")


def run_once(wl, indices, models, args, mode, streams, progress):
    """One run of the tasks `indices` of the workload; returns {index: TaskRun} and the
    measured window in seconds."""
    lo, hi = priority_range() if args.device == "cuda" else (0, 0)
    runs = {}
    for i in indices:
        task = wl["tasks"][i]
        model, shape = models[i]
        stream = None
        if args.device == "cuda":
            stream = streams.make(hi if mode == "priority" and task["critical"] else lo)
        runs[i] = TaskRun(task, model, shape, args.device, wl["seed"], stream, not args.no_graphs)
    errors = []
    clock = Clock(wl["warmup_s"], wl["duration_s"])
    body = cuda_task if args.device == "cuda" else cpu_task
    threads = [threading.Thread(target=body, args=(runs[i], clock, wl["seed"], errors),
                                daemon=True) for i in indices]
    for t in threads:
        t.start()
    while clock.now() < clock.end and not errors:
        progress(clock.now() - clock.t0)
        time.sleep(min(0.25, max(0.0, clock.end - clock.now())))
    measured = clock.now() - clock.reset
    clock.grace_end = clock.now() + args.grace
    clock.stop.set()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("; ".join(errors))
    if args.device == "cuda":
        torch.cuda.synchronize()
    return runs, measured


def percentile(sorted_lat, p):
    """Nearest rank, as miriam computes it."""
    n = len(sorted_lat)
    rank = min(n, max(1, math.ceil(p / 100.0 * n - 1e-9)))
    return sorted_lat[rank - 1]


def row_of(wl, policy, i, tr, measured, backend, threads):
    task = wl["tasks"][i]
    lat = sorted(tr.lat)
    n = len(lat)
    fmt = lambda v: "" if v is None else "%.6g" % v  # noqa: E731
    dl = task["deadline_ms"]
    misses = sum(1 for v in lat if dl > 0 and v > dl)
    return {
        "workload": wl["name"], "policy": policy, "task": task["name"], "model": task["model"],
        "criticality": "critical" if task["critical"] else "normal",
        "arrival": describe_arrival(task["arrival"]), "deadline_ms": fmt(dl if dl > 0 else None),
        "max_in_flight": task["max_in_flight"], "submitted": tr.submitted, "completed": n,
        "rejected": tr.rejected, "cancelled": tr.cancelled,
        "p50_ms": fmt(percentile(lat, 50) if n else None),
        "p90_ms": fmt(percentile(lat, 90) if n else None),
        "p99_ms": fmt(percentile(lat, 99) if n else None),
        "max_ms": fmt(lat[-1] if n else None), "mean_ms": fmt(sum(lat) / n if n else None),
        "throughput_rps": fmt(tr.in_window / measured if measured > 0 else 0.0),
        "deadline_misses": misses,
        "deadline_miss_pct": fmt(100.0 * misses / n if dl > 0 and n else None),
        "p99_vs_solo": "", "throughput_vs_solo": "", "backend": backend, "threads": threads,
        "measured_s": fmt(measured), "latency_samples": n,
        "latency_pct_ms": " ".join("%.6g" % percentile(lat, k) for k in range(1, 101))
        if n else "",
    }


def add_ratios(rows):
    """p99 / solo p99 (critical tasks), throughput / solo throughput (normal ones)."""
    solo = {r["task"]: r for r in rows if r["policy"] == "pytorch-solo"}
    for r in rows:
        s = solo.get(r["task"])
        if r["policy"] == "pytorch-solo" or not s:
            continue
        crit = r["criticality"] == "critical"
        key = "p99_ms" if crit else "throughput_rps"
        try:
            v = float(r[key]) / float(s[key])
        except (ValueError, ZeroDivisionError):
            continue
        r["p99_vs_solo" if crit else "throughput_vs_solo"] = "%.6g" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", help="workload file (docs/WORKLOADS.md)")
    ap.add_argument("-o", "--out", required=True, help="CSV file to write")
    ap.add_argument("--modes", default="multistream,priority",
                    help="comma-separated: multistream, priority (default both)")
    ap.add_argument("--no-solo", action="store_true", help="skip the pytorch-solo baseline")
    ap.add_argument("--device", choices=["cuda", "cpu"], default=None,
                    help="default: cuda when available, else cpu")
    ap.add_argument("--sms", type=int, default=0,
                    help="CUDA: confine the streams to a green context of N SMs (0 = whole GPU)")
    ap.add_argument("--gpu", type=int, default=0, help="CUDA device (default 0)")
    ap.add_argument("--duration", type=float, help="measured seconds (default: the workload's)")
    ap.add_argument("--warmup", type=float, help="warm-up seconds (default: the workload's)")
    ap.add_argument("--seed", type=int, help="seed (default: the workload's)")
    ap.add_argument("--grace", type=float, default=2.0,
                    help="seconds in-flight requests get at the end (default 2)")
    ap.add_argument("--no-graphs", action="store_true", help="CUDA: eager launches")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch intra-op threads (default: PyTorch's default)")
    args = ap.parse_args()

    modes = [m for m in args.modes.split(",") if m]
    bad = [m for m in modes if m not in ("multistream", "priority")]
    if bad or not modes or len(set(modes)) != len(modes):
        ap.error(f"--modes: expected multistream and/or priority, got {args.modes!r}")
    if args.sms < 0 or args.grace < 0 or (args.duration is not None and args.duration <= 0) or (
            args.warmup is not None and args.warmup < 0) or args.threads < 0:
        ap.error("--sms, --grace, --warmup and --threads must be >= 0 and --duration > 0")
    try:
        wl = load_workload(args.workload)
    except WorkloadError as e:
        log(f"error: {e}")
        return 1
    for k, v in (("duration_s", args.duration), ("warmup_s", args.warmup),
                 ("seed", args.seed)):
        if v is not None:
            wl[k] = v

    try:
        import_torch()
    except Exception as e:
        log(f"PyTorch not importable ({type(e).__name__}: {e}): nothing run")
        return 77
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device == "cuda" and not torch.cuda.is_available():
        log("error: --device cuda: no usable GPU")
        return 1
    if args.device == "cpu" and args.sms:
        log("error: --sms needs --device cuda")
        return 1
    if args.threads:
        torch.set_num_threads(args.threads)

    streams, notes = None, []
    if args.device == "cuda":
        torch.cuda.set_device(args.gpu)
        torch.backends.cudnn.benchmark = True
        try:
            streams = Streams(args.sms, args.gpu)
        except RuntimeError as e:
            log(f"error: {e}")
            return 1
        backend = "torch-cuda" + (f"/{args.sms}sm" if args.sms else "") + (
            "/eager" if args.no_graphs else "/graphs")
        threads = 0
        log(f"torch {torch.__version__}, {torch.cuda.get_device_name(args.gpu)}, streams: "
            f"{streams.method}, stream priorities {priority_range()}, cudnn.benchmark on, "
            f"TF32 convolutions {'on' if torch.backends.cudnn.allow_tf32 else 'off'}, "
            f"matmul {'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'}")
    else:
        backend, threads = "torch-cpu", torch.get_num_threads()
        notes.append("CPU: no streams; every task runs its requests on its own thread in both "
                     "modes (priority has no effect)")
        log(f"torch {torch.__version__} on the CPU, {threads} intra-op threads; " + notes[-1])

    # One model instance per task (two tasks of one model run concurrently), weights seeded.
    models = []
    for t in wl["tasks"]:
        m, shape = build_model(t["zoo"], wl["seed"])
        models.append((m.to("cuda") if args.device == "cuda" else m, shape))

    plan = ([("pytorch-solo", "solo", [i]) for i in range(len(wl["tasks"]))]
            if not args.no_solo else [])
    plan += [(f"pytorch-{m}", m, list(range(len(wl["tasks"])))) for m in modes]
    run_s = wl["warmup_s"] + wl["duration_s"]
    tty = sys.stderr.isatty()
    rows = []
    for k, (policy, mode, indices) in enumerate(plan):
        def progress(elapsed, k=k, policy=policy):
            if tty:
                left = max(0.0, run_s - elapsed) + run_s * (len(plan) - 1 - k)
                print(f"\rmdtb_torch: {policy} ({k + 1}/{len(plan)}), {left:.0f} s left   ",
                      end="", file=sys.stderr, flush=True)
        try:
            runs, measured = run_once(wl, indices, models, args, mode, streams, progress)
        except Exception as e:
            if tty:
                print("\r\033[K", end="", file=sys.stderr)
            log(f"error: {policy}: {e}")
            return 1
        for i in indices:
            rows.append(row_of(wl, policy, i, runs[i], measured, backend, threads))
        del runs
        if args.device == "cuda":
            torch.cuda.empty_cache()
    if tty:
        print("\r\033[K", end="", file=sys.stderr)
    if streams:
        notes += streams.notes
    add_ratios(rows)
    try:
        with open(args.out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=CSV_COLUMNS, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    except OSError as e:
        log(f"error: cannot write {args.out}: {e.strerror}")
        return 1

    print(f"workload {wl['name']} ({wl['file']}): {wl['duration_s']:g} s measured after "
          f"{wl['warmup_s']:g} s warm-up, seed {wl['seed']}, {backend}\n")
    print("| policy | task | crit | completed | p50 ms | p99 ms | req/s | vs solo |")
    print("|---|---|---|--:|--:|--:|--:|--:|")
    for r in rows:
        vs = r["p99_vs_solo"] or r["throughput_vs_solo"]
        print(f"| {r['policy']} | {r['task']} | {r['criticality']} | {r['completed']} | "
              f"{r['p50_ms'] or '-'} | {r['p99_ms'] or '-'} | {r['throughput_rps'] or '-'} | "
              f"{('x' + vs) if vs else '-'} |")
    for n in notes:
        print(f"\n- {n}")
    print(f"\nwrote {args.out}: miriam compare {wl['file']} --include {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
