#!/usr/bin/env python3
"""Batch-1 GPU latency of the zoo models: miriam vs PyTorch, whole GPU and SM partitions.

For each SM partition (--sms, default "0,16"; 0 = the whole GPU) and each model (default: every
zoo model):
  miriam: `miriam bench zoo:NAME ... --device cuda --repeat N --warmup W --csv FILE [--sms S]`,
    all models in one invocation per partition, once with `--launch elastic` and once with
    `--launch plain` when `miriam bench --help` offers --launch (the elastic overhead is
    elastic p50 / plain p50 - 1), otherwise once with its default launch. miriam bench times
    mr_model_run() wall-clock, i.e. with the input copied from and the output copied back to
    (pageable) host memory. These runs use miriam's default precision (fp32). With
    --precision fp32,tf32, one more invocation per partition runs `--precision tf32` (elastic
    launch): its own columns (p50 / p99, and miriam tf32 / PyTorch graph p50) and its own
    verdict line; PyTorch is measured once, unchanged.
  PyTorch: the reference module of scripts/conformance.py (torchvision with weights=None, the
    tutorial CifarNet, nn.LSTM/nn.GRU heads; the architectures scripts/zoo_vs_torch.py proves
    identical to the zoo's), eval mode, fp32, torch.backends.cudnn.benchmark = True and
    PyTorch's default TF32 settings (recorded in the output), input already on the GPU:
      graph     the forward pass captured in a torch.cuda.CUDAGraph after warm-up on a side
                stream, --warmup untimed replays, then --repeat replays each timed alone with
                a CUDA event pair and a synchronize;
      eager     the same protocol without the graph (reference only);
      graph+io  wall-clock of copying the input from pageable host memory, one replay and
                copying the output back: the same work miriam bench times.
    In a partition every PyTorch stream is a stream of a green context of that many SMs
    (torch.cuda.green_contexts.GreenContext, whatever form this PyTorch offers, else the CUDA
    driver API through ctypes); the forward pass is captured on that stream too, so the
    graph's kernels carry the partition. A 4096^3 fp32 matmul timed on the full GPU and in
    each partition checks that the partition really confines the work ("SM check").
p50 is the median and p99 the nearest-rank 99th percentile (as miriam bench computes them), in
milliseconds. ratio = miriam p50 (elastic) / PyTorch graph p50.

Every stage is guarded: a model or a partition that fails prints an error row and the run
goes on. --dry-run touches no GPU: it prints the miriam commands (and runs them when
--miriam-device cpu, which exercises the CSV parsing), builds each PyTorch model on the CPU and
runs it once, and writes the tables without PyTorch timings.

Exit status: 0 when every cell was measured, 1 when something failed (see the error notes
under each table).
Runtime: bounded by --time-limit (default 290 s: what has not started by then is reported as
skipped); expected 2-3 minutes on an H200 for the default set (estimated, not yet measured).
Runs with any python3 that has torch, torchvision and onnx; scripts/gpu-check.sh benchtorch
runs it on the GPU machine.
"""
import argparse
import contextlib
import csv
import ctypes
import datetime
import os
import shlex
import struct
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    # conformance.py exits (SystemExit 77) when torch, torchvision or onnx is missing: keep
    # going, so that the miriam side is still measured.
    import conformance as conf  # noqa: E402
    import zoo_vs_torch as zvt  # noqa: E402
    import bench_cpu  # noqa: E402
    from conformance import torch  # noqa: E402
    TORCH_ERR = None
except BaseException as e:  # noqa: B036  (SystemExit included on purpose)
    conf = zvt = bench_cpu = torch = None
    TORCH_ERR = f"PyTorch stack not importable: {type(e).__name__}: {e}"

ZOO = zvt.ZOO if zvt else ["resnet18", "resnet50", "vgg16", "alexnet", "squeezenet1_1",
                           "mobilenet_v2", "cifarnet", "lstm", "gru"]

MATMUL_N = 4096  # the SM check's square matmul


def log(msg):
    print(f"bench_gpu: {msg}", file=sys.stderr, flush=True)


def short_exc(e):
    """One line for a table note: the exception type and the first line of its message."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


def percentile(samples, p):
    if bench_cpu:
        return bench_cpu.percentile(samples, p)
    v = sorted(samples)  # nearest rank, as miriam bench computes it
    rank = max(1, min(len(v), -(-int(p * len(v)) // 100)))
    return v[rank - 1]


class Deadline:
    def __init__(self, seconds):
        self.end = time.time() + seconds if seconds and seconds > 0 else None

    def left(self):
        return float("inf") if self.end is None else self.end - time.time()

    def expired(self):
        return self.left() <= 0


# ---------------------------------------------------------------------------------------------
# miriam side


def miriam_env(miriam):
    """miriam's bundled libraries (DIR/devlibs next to the CLI, as scripts/bundle-libs.sh
    makes them) on LD_LIBRARY_PATH for miriam only, so that they never shadow PyTorch's."""
    env = dict(os.environ)
    devlibs = os.path.join(os.path.dirname(os.path.abspath(miriam)), "devlibs")
    if os.path.isdir(devlibs):
        old = env.get("LD_LIBRARY_PATH")
        env["LD_LIBRARY_PATH"] = devlibs + (":" + old if old else "")
    return env


def miriam_help(miriam, env):
    """(text of `miriam bench --help`, error or None)."""
    try:
        p = subprocess.run([miriam, "bench", "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=env, timeout=30)
        return p.stdout, None if p.returncode == 0 else f"rc {p.returncode}: {p.stdout.strip()}"
    except Exception as e:
        return "", short_exc(e)


def miriam_version(miriam, env):
    try:
        p = subprocess.run([miriam, "--version"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=env, timeout=30)
        return p.stdout.strip().splitlines()[0] if p.stdout.strip() else f"rc {p.returncode}"
    except Exception as e:
        return short_exc(e)


def parse_bench_csv(path):
    """miriam bench --csv -> {model name without "zoo:": {"p50": ms, "p99": ms, "row": dict}}.
    Columns are looked up by the header (tools/bench.c: model, backend, threads, params,
    gflop, arena_mib, p50_ms, p99_ms, runs, sms), so extra columns are harmless."""
    out = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"model", "p50_ms", "p99_ms"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: no column(s) {sorted(missing)} in header "
                             f"{reader.fieldnames}")
        for row in reader:
            name = row["model"].strip()
            if name.startswith("zoo:"):
                name = name[4:]
            out[name] = {"p50": float(row["p50_ms"]), "p99": float(row["p99_ms"]), "row": row}
            # GPU time of the launches alone (CUDA builds that report it; empty on the CPU).
            if (row.get("gpu_p50_ms") or "").strip():
                out[name]["gpu50"] = float(row["gpu_p50_ms"])
                out[name]["gpu99"] = float(row["gpu_p99_ms"])
    return out


def miriam_cmd(args, models, sms, launch, csv_path, precision=None):
    cmd = [args.miriam, "bench"] + ["zoo:" + m for m in models] + [
        "--device", args.miriam_device, "--repeat", str(args.repeat), "--warmup",
        str(args.warmup), "--csv", csv_path]
    if sms:
        cmd += ["--sms", str(sms)]
    if launch:
        cmd += ["--launch", launch]
    if precision:
        cmd += ["--precision", precision]
    cmd += shlex.split(args.miriam_args or "")
    return cmd


def run_miriam_once(args, env, models, sms, launch, work, deadline, precision=None):
    """One `miriam bench` invocation -> ({model: result}, {model: error}, log text)."""
    tag = f"sms{sms}-{launch or 'default'}{'-' + precision if precision else ''}"
    csv_path = os.path.join(work, f"miriam-{tag}.csv")
    if os.path.exists(csv_path):
        os.remove(csv_path)
    cmd = miriam_cmd(args, models, sms, launch, csv_path, precision)
    log("$ " + shlex.join(cmd))
    timeout = max(5.0, min(args.miriam_timeout, deadline.left()))
    text, errs = "", {}
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=env, timeout=timeout)
        text, rc = p.stdout, p.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout or ""
        text = out.decode(errors="replace") if isinstance(out, bytes) else out
        rc = f"timeout after {timeout:.0f} s"
    except Exception as e:
        return {}, {m: "cannot run miriam: " + short_exc(e) for m in models}, False
    sys.stderr.write(text)
    res = {}
    if os.path.exists(csv_path):
        try:
            res = parse_bench_csv(csv_path)
        except Exception as e:
            return {}, {m: "bad CSV: " + short_exc(e) for m in models}, False
    lines = text.splitlines()
    any_err = [ln.strip() for ln in lines if "error" in ln]
    for m in models:
        if m in res:
            continue
        # miriam bench reports a failing model as "miriam: error: zoo:NAME: message".
        hit = [ln for ln in lines if f"zoo:{m}:" in ln and "error" in ln]
        if hit:
            errs[m] = hit[-1].strip()
        else:
            errs[m] = f"no result (rc {rc})" + (f": {any_err[-1]}" if any_err else "")
    # rc 1 is miriam's handled error (printed above); anything else (a signal, a timeout) may
    # have taken down models that would have run.
    return res, errs, rc != 1


def run_miriam(args, env, models, sms, launch, work, deadline, precision=None):
    """All models in one invocation; when a crash or a timeout took the rest down, a model
    without a result and without its own error line is measured again on its own."""
    res, errs, abnormal = run_miriam_once(args, env, models, sms, launch, work, deadline,
                                          precision)
    retry = [m for m, e in errs.items() if e.startswith("no result")] if abnormal else []
    for m in retry:
        if deadline.expired():
            errs[m] += "; not retried: --time-limit reached"
            continue
        r1, e1, _ = run_miriam_once(args, env, [m], sms, launch, work, deadline, precision)
        if m in r1:
            res[m] = r1[m]
            del errs[m]
        else:
            errs[m] = e1.get(m, errs[m])
    return res, errs


# ---------------------------------------------------------------------------------------------
# SM partitions for PyTorch


class Partition:
    """Where the PyTorch measurements of one --sms entry run: a stream (of a green context
    for sms > 0). scope() makes it current and yields it as a torch.cuda.Stream."""

    def __init__(self, sms):
        self.sms = sms
        self.actual = None  # SMs the partition really has, when known
        self.method = None  # how it was made
        self.error = None  # why there is none ("n/a")
        self.stream = None
        self.graph_ok = True
        self.enter = self.leave = None  # the set_context forms
        self.keep = []  # objects that must outlive the stream
        self.matmul_ms = None

    @contextlib.contextmanager
    def scope(self):
        if self.enter:
            self.enter()
            try:
                yield torch.cuda.current_stream()
            finally:
                self.leave()
        else:
            with torch.cuda.stream(self.stream):
                yield torch.cuda.current_stream()

    def label(self, full_sms):
        if self.sms == 0:
            return f"full GPU ({full_sms} SMs)"
        return f"{self.sms} SMs" + (f" (got {self.actual})" if self.actual not in (None,
                                                                                     self.sms)
                                    else "")


def probe(part):
    """A small matmul in the partition's scope: raises when the stream is unusable."""
    with part.scope():
        a = torch.ones(256, 256, device="cuda")
        (a @ a).sum().item()
    torch.cuda.synchronize()


def _torch_gc_class():
    import importlib
    mod = getattr(torch.cuda, "green_contexts", None)
    if mod is None:
        mod = importlib.import_module("torch.cuda.green_contexts")
    return mod.GreenContext


def torch_green_contexts(sms, dev):
    """Green contexts made the ways PyTorch versions document: (form, object) or errors."""
    GC = _torch_gc_class()
    try:  # for the record: which API this PyTorch has
        import inspect
        sig = str(inspect.signature(GC.create)) if hasattr(GC, "create") else " (no create)"
    except (TypeError, ValueError):
        sig = "(...)"
    log(f"torch {torch.__version__}: GreenContext.create{sig}; methods: " + ", ".join(
        m for m in ("Stream", "set_context", "pop_context", "make_current", "pop_current",
                    "__enter__", "sm_count") if hasattr(GC, m)))
    forms = [
        ("GreenContext.create(num_sms=N, device_id=D)",
         lambda: GC.create(num_sms=sms, device_id=dev)),
        ("GreenContext.create(N, D)", lambda: GC.create(sms, dev)),
        ("GreenContext.create(N)", lambda: GC.create(sms)),
        ("GreenContext(num_sms=N)", lambda: GC(num_sms=sms)),
    ]
    made, errs = [], []
    for name, make in forms:
        try:
            made.append((name, make()))
            break  # one context is enough; the ways to use it are tried next
        except Exception as e:
            errs.append(f"{name}: {short_exc(e)}")
    return made, errs


class CudaDriverGreen:
    """A green context and a stream in it through the CUDA driver API (ctypes), as miriam's
    CUDA backend makes them (src/cuda/cuda_backend.c: create_green), for PyTorch versions
    without a usable torch.cuda.green_contexts."""

    RES_SIZE = 512  # > sizeof(CUdevResource) in CUDA 12.4..13.x (type, 92 bytes, union, ...)
    SM_COUNT_OFFSET = 96  # CUdevResource.sm.smCount: after the int type and 92 padding bytes

    def __init__(self, sms, dev):
        lib = ctypes.CDLL("libcuda.so.1")
        vp, ui, ci = ctypes.c_void_p, ctypes.c_uint, ctypes.c_int

        def fn(name, *argtypes):
            f = getattr(lib, name)
            f.restype, f.argtypes = ci, list(argtypes)
            return f

        def check(r, what):
            if r != 0:
                raise RuntimeError(f"{what} failed with CUresult {r}")

        dev_get = fn("cuDeviceGet", ctypes.POINTER(ci), ci)
        get_res = fn("cuDeviceGetDevResource", ci, ctypes.c_char_p, ci)
        split = fn("cuDevSmResourceSplitByCount", ctypes.c_char_p, ctypes.POINTER(ui),
                   ctypes.c_char_p, ctypes.c_char_p, ui, ui)
        gen = fn("cuDevResourceGenerateDesc", ctypes.POINTER(vp), ctypes.c_char_p, ui)
        create = fn("cuGreenCtxCreate", ctypes.POINTER(vp), vp, ci, ui)
        gstream = fn("cuGreenCtxStreamCreate", ctypes.POINTER(vp), vp, ui, ci)
        d = ci()
        check(dev_get(ctypes.byref(d), dev), "cuDeviceGet")
        all_sm = ctypes.create_string_buffer(self.RES_SIZE)
        part = ctypes.create_string_buffer(self.RES_SIZE)
        rest = ctypes.create_string_buffer(self.RES_SIZE)
        check(get_res(d, all_sm, 1), "cuDeviceGetDevResource(SM)")  # CU_DEV_RESOURCE_TYPE_SM
        n = ui(1)
        check(split(part, ctypes.byref(n), all_sm, rest, 0, sms), "cuDevSmResourceSplitByCount")
        if n.value < 1:
            raise RuntimeError(f"cuDevSmResourceSplitByCount made no group of {sms} SMs")
        got = struct.unpack_from("I", part.raw, self.SM_COUNT_OFFSET)[0]
        self.actual = got if 0 < got <= 4096 else None
        desc = vp()
        check(gen(ctypes.byref(desc), part, 1), "cuDevResourceGenerateDesc")
        self.gctx = vp()
        check(create(ctypes.byref(self.gctx), desc, d, 1), "cuGreenCtxCreate")  # DEFAULT_STREAM
        self.cu_stream = vp()
        check(gstream(ctypes.byref(self.cu_stream), self.gctx, 1, 0),  # NON_BLOCKING
              "cuGreenCtxStreamCreate")
        self.stream = torch.cuda.ExternalStream(self.cu_stream.value)


def make_partition(sms, dev):
    part = Partition(sms)
    if sms == 0:
        part.stream = torch.cuda.Stream()
        part.method = "a side stream (torch.cuda.Stream)"
        part.actual = torch.cuda.get_device_properties(dev).multi_processor_count
        probe(part)
        return part
    errs = []
    # 1. torch's green context, used through a stream of it (PyTorch >= 2.10: ctx.Stream()).
    made = []
    try:
        made, e = torch_green_contexts(sms, dev)
        errs += e
    except Exception as e:
        errs.append(f"torch.cuda.green_contexts: {short_exc(e)}")
    for form, ctx in made:
        if not hasattr(ctx, "Stream"):
            errs.append(f"{form}: no Stream() method")
            continue
        try:
            part.stream, part.keep = ctx.Stream(), [ctx]
            probe(part)
            part.method = f"torch.cuda.green_contexts.{form} + ctx.Stream()"
            cnt = getattr(ctx, "sm_count", None)
            part.actual = cnt if isinstance(cnt, int) else None
            return part
        except Exception as e:
            part.stream, part.keep = None, []
            errs.append(f"{form} + Stream(): {short_exc(e)}")
    # 2. the CUDA driver API, as miriam does it.
    try:
        g = CudaDriverGreen(sms, dev)
        part.stream, part.keep, part.actual = g.stream, [g], g.actual
        probe(part)
        part.method = "CUDA driver API via ctypes (cuGreenCtxCreate + cuGreenCtxStreamCreate)"
        return part
    except Exception as e:
        part.stream, part.keep = None, []
        errs.append(f"ctypes driver API: {short_exc(e)}")
    # 3. the context-stack forms: the green context's default stream. Eager only: that stream
    # is the legacy default stream, which cannot be captured into a CUDA graph.
    for form, ctx in made:
        for enter, leave in (("set_context", "pop_context"), ("make_current", "pop_current"),
                             ("__enter__", "__exit__")):
            if not (hasattr(ctx, enter) and hasattr(ctx, leave)):
                continue
            try:
                part.enter = getattr(ctx, enter)
                part.leave = (getattr(ctx, leave) if leave != "__exit__"
                              else lambda c=ctx: c.__exit__(None, None, None))
                part.keep = [ctx]
                probe(part)
                part.method = f"torch.cuda.green_contexts.{form} + ctx.{enter}() (eager only)"
                part.graph_ok = False
                return part
            except Exception as e:
                part.enter = part.leave = None
                part.keep = []
                errs.append(f"{form} + {enter}(): {short_exc(e)}")
    part.error = "; ".join(errs) or "no green context API"
    return part


def sm_check(part, n_warm=3, n_timed=10):
    """p50 ms of an MATMUL_N^3 fp32 matmul in the partition (compute-bound: scales with SMs)."""
    with part.scope() as s:
        a = torch.randn(MATMUL_N, MATMUL_N, device="cuda")
        b = torch.randn(MATMUL_N, MATMUL_N, device="cuda")
        for _ in range(n_warm):
            torch.mm(a, b)
        lat = time_gpu(lambda: torch.mm(a, b), s, n_timed, [])
    return percentile(lat, 50)


# ---------------------------------------------------------------------------------------------
# PyTorch side


def time_events(fn, stream, n):
    """n runs of fn (which launches on `stream`, the current stream), each timed alone with a
    CUDA event pair and a synchronize; ms."""
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    lat = []
    for _ in range(n):
        start.record(stream)
        fn()
        end.record(stream)
        end.synchronize()
        lat.append(start.elapsed_time(end))
    return lat


def time_gpu(fn, stream, n, notes):
    """time_events, or wall-clock with a synchronize after each run where CUDA events do not
    work on this stream (an event of the primary context on a green-context stream is
    documented to work, but this keeps the run going if a driver disagrees)."""
    try:
        return time_events(fn, stream, n)
    except Exception as e:
        notes.append(f"CUDA event timing failed ({short_exc(e)}): wall-clock used")
        stream.synchronize()
        lat = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            stream.synchronize()
            lat.append((time.perf_counter() - t0) * 1e3)
        return lat


def measure_torch(module, x_cpu, part, warmup, repeat):
    """({eager_p50, eager_p99, graph_p50, graph_p99, io_p50, io_p99} in ms, notes, why the
    graph could not be measured or None)."""
    res, notes = {}, []
    with torch.no_grad(), part.scope() as s:
        x = x_cpu.to("cuda")
        # Eager, which is also the warm-up the graph capture needs (cuDNN benchmark, cuBLAS
        # workspaces, lazy inits happen outside the capture), on this non-default stream.
        for _ in range(max(warmup, 3)):
            module(x)
        s.synchronize()
        lat = time_gpu(lambda: module(x), s, repeat, notes)
        res["eager_p50"], res["eager_p99"] = percentile(lat, 50), percentile(lat, 99)
        if not part.graph_ok:  # eager-only partition: its heading says so
            return res, notes, None
        g = static_y = graph_err = None
        try:
            g = torch.cuda.CUDAGraph()
            static_x = x.clone()
            s.synchronize()
            # Captured on the partition's own stream, so the graph's kernels run there.
            with torch.cuda.graph(g, stream=s):
                static_y = module(static_x)
            for _ in range(warmup):
                g.replay()
            s.synchronize()
            lat = time_gpu(g.replay, s, repeat, notes)
            res["graph_p50"], res["graph_p99"] = percentile(lat, 50), percentile(lat, 99)
            # What miriam bench times: input from pageable host memory, run, output back.
            host_x = x_cpu.clone()
            host_y = torch.empty(static_y.shape, dtype=static_y.dtype)
            lat = []
            for i in range(warmup + repeat):
                t0 = time.perf_counter()
                static_x.copy_(host_x)
                g.replay()
                host_y.copy_(static_y)  # to pageable memory: returns once the data is there
                s.synchronize()
                if i >= warmup:
                    lat.append((time.perf_counter() - t0) * 1e3)
            res["io_p50"], res["io_p99"] = percentile(lat, 50), percentile(lat, 99)
        except Exception as e:
            graph_err = short_exc(e)
            try:
                torch.cuda.synchronize()
            except Exception:
                pass
        finally:
            del g, static_y
    return res, notes, graph_err


def torch_flags():
    out = {}
    for key, get in (
            ("torch.backends.cuda.matmul.allow_tf32",
             lambda: torch.backends.cuda.matmul.allow_tf32),
            ("torch.backends.cudnn.allow_tf32", lambda: torch.backends.cudnn.allow_tf32),
            ("torch.backends.cudnn.benchmark", lambda: torch.backends.cudnn.benchmark),
            ("torch.get_float32_matmul_precision()", lambda: torch.get_float32_matmul_precision()),
            # PyTorch >= 2.9's finer-grained form of the same settings, where it exists.
            ("torch.backends.cuda.matmul.fp32_precision",
             lambda: torch.backends.cuda.matmul.fp32_precision),
            ("torch.backends.cudnn.conv.fp32_precision",
             lambda: torch.backends.cudnn.conv.fp32_precision),
    ):
        try:
            out[key] = get()
        except Exception as e:
            if "fp32_precision" not in key:  # the newer settings: only where they exist
                out[key] = "? " + short_exc(e)
    return out


def run_torch(args, models, parts, deadline, results):
    """Fills results[(sms, model)] with PyTorch timings or errors."""
    for name in models:
        if deadline.expired():
            for p in parts:
                results[(p.sms, name)]["torch_err"] = "skipped: --time-limit reached"
            continue
        t0 = time.time()
        module = x_cpu = None
        try:
            module, shape = conf.build(name)
            x_cpu = conf.random_input(shape)
            if args.dry_run:
                with torch.no_grad():
                    y = module(x_cpu)
                log(f"{name}: dry run: built on the CPU, output {list(y.shape)}; would time "
                    f"eager, CUDA graph and graph+io in: "
                    f"{', '.join(str(p.sms or 'full') for p in parts)}")
                for p in parts:
                    results[(p.sms, name)]["torch_err"] = "dry run"
                continue
            module = module.cuda()
            torch.cuda.synchronize()
        except Exception as e:
            for p in parts:
                results[(p.sms, name)]["torch_err"] = "build: " + short_exc(e)
            log(f"{name}: build failed:\n{traceback.format_exc()}")
            module = None
        for p in parts if module is not None else []:
            r = results[(p.sms, name)]
            if p.error:
                r["torch_err"] = "n/a: no SM partition"
                continue
            if deadline.expired():
                r["torch_err"] = "skipped: --time-limit reached"
                continue
            try:
                t, notes, gerr = measure_torch(module, x_cpu, p, args.warmup, args.repeat)
                r.update(t)
                if notes:
                    r["torch_note"] = "; ".join(notes)
                if gerr:
                    r["torch_graph_err"] = gerr
                log(f"{name} [{p.sms or 'full'}]: PyTorch graph p50 "
                    f"{fmt(t.get('graph_p50'))} ms, eager p50 {fmt(t.get('eager_p50'))} ms"
                    + "".join(f"; {n}" for n in notes + ([gerr] if gerr else [])))
            except Exception as e:
                r["torch_err"] = short_exc(e)
                log(f"{name} [{p.sms or 'full'}]: PyTorch failed:\n{traceback.format_exc()}")
                try:
                    torch.cuda.synchronize()
                except Exception:
                    pass
        del module, x_cpu
        if not args.dry_run:
            try:
                torch.cuda.empty_cache()
            except Exception:
                pass
        log(f"{name}: PyTorch done in {time.time() - t0:.1f} s")


# ---------------------------------------------------------------------------------------------
# report


def fmt(v, digits=3):
    return "-" if v is None else f"{v:.{digits}f}"


def ratio(a, b):
    return a / b if a is not None and b else None


def compute_row(r):
    """Derived numbers of one (partition, model) cell."""
    el = r.get("m_elastic") or {}
    pl = r.get("m_plain") or {}
    m50 = el.get("p50")
    over = ratio(m50, pl.get("p50"))
    return {
        "m50": m50, "m99": el.get("p99"), "p50_plain": pl.get("p50"),
        "p99_plain": pl.get("p99"),
        "overhead_pct": None if over is None else (over - 1) * 100,
        "ratio": ratio(m50, r.get("graph_p50")),
        "ratio_io": ratio(m50, r.get("io_p50")),
    }


def word(msg):
    """A table cell for a value that is missing because of msg."""
    for w in ("dry run", "skipped", "n/a"):
        if msg and msg.startswith(w):
            return w
    return "error"


def is_failure(key, msg):
    """Whether a cell's message is a real failure, not a dry run or an unavailable partition."""
    if not msg:
        return False
    if key == "torch_note":
        return False  # information (graph n/a in an eager-only partition, timing fallback)
    return not msg.startswith(("dry run", "n/a"))


def build_report(models, parts, results, meta, have_launch, full_sms, precisions=()):
    """(markdown lines, verdict lines, CSV rows, number of failed cells). precisions: miriam
    precisions other than the default fp32 that were measured too (results key "m_<p>")."""
    lines, verdicts, csv_rows, n_failed = [], [], [], 0
    m_label = "miriam elastic" if have_launch else "miriam (default launch)"
    for p in parts:
        lines.append(f"### {p.label(full_sms)}")
        lines.append("")
        torch_where = (f"PyTorch: n/a ({p.error})" if p.error else f"PyTorch: {p.method}")
        mir_where = f"miriam: --sms {p.sms}" if p.sms else "miriam: whole GPU"
        extra = f"; SM check: {MATMUL_N}^3 fp32 matmul {fmt(p.matmul_ms)} ms" if p.matmul_ms \
            else ""
        if p.matmul_ms and meta.get("matmul_full_ms") and p.sms:
            extra += (f" = {p.matmul_ms / meta['matmul_full_ms']:.1f}x the full GPU "
                      f"(expect ~{full_sms / (p.actual or p.sms):.1f}x if confined)")
        lines.append(f"{mir_where}; {torch_where}{extra}")
        lines.append("")
        lines.append(f"| model | {m_label} p50 / p99 ms | miriam plain p50 ms | elastic "
                     "overhead % | PyTorch graph p50 / p99 ms | PyTorch eager p50 ms | "
                     "PyTorch graph+io p50 ms | miriam/PyTorch | miriam/(PyTorch+io) |"
                     + "".join(f" miriam {q} p50 / p99 ms | miriam {q}/PyTorch |"
                               for q in precisions))
        lines.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|" + "--:|--:|" * len(precisions))
        notes, within, measured, over2, missing = [], 0, 0, [], []
        pstat = {q: {"within": 0, "measured": 0, "over2": [], "missing": []} for q in precisions}
        for name in models:
            r = results[(p.sms, name)]
            d = compute_row(r)
            mcell = (f"{fmt(d['m50'])} / {fmt(d['m99'])}" if d["m50"] is not None
                     else word(r.get("m_elastic_err")))
            plain = fmt(d["p50_plain"]) if d["p50_plain"] is not None else (
                word(r.get("m_plain_err")) if have_launch else "-")
            over = "-" if d["overhead_pct"] is None else f"{d['overhead_pct']:+.1f}"
            terr = "n/a" if p.error else r.get("torch_err")
            if r.get("graph_p50") is not None:
                tcell = f"{fmt(r['graph_p50'])} / {fmt(r['graph_p99'])}"
            else:
                tcell = "n/a" if not p.graph_ok else word(terr)
            eager = fmt(r.get("eager_p50")) if r.get("eager_p50") is not None else word(terr)
            io = fmt(r.get("io_p50"))
            rt = "-" if d["ratio"] is None else f"{d['ratio']:.2f}"
            rti = "-" if d["ratio_io"] is None else f"{d['ratio_io']:.2f}"
            qcells, qcsv = "", {}
            for q in precisions:
                mq = r.get(f"m_{q}") or {}
                q50, q99 = mq.get("p50"), mq.get("p99")
                qr = ratio(q50, r.get("graph_p50"))
                qcells += (f" {fmt(q50)} / {fmt(q99)} |" if q50 is not None
                           else f" {word(r.get(f'm_{q}_err'))} |")
                qcells += f" {'-' if qr is None else f'{qr:.2f}'} |"
                qcsv.update({f"miriam_{q}_p50_ms": q50, f"miriam_{q}_p99_ms": q99,
                             f"ratio_{q}": qr})
                st = pstat[q]
                if qr is not None:
                    st["measured"] += 1
                    if qr <= 2.0:
                        st["within"] += 1
                    else:
                        st["over2"].append(f"{name} {qr:.1f}x")
                else:
                    st["missing"].append(name)
            lines.append(f"| {name} | {mcell} | {plain} | {over} | {tcell} | {eager} | {io} | "
                         f"{rt} | {rti} |{qcells}")
            for key, what in (("m_elastic_err", m_label), ("m_plain_err", "miriam plain"),
                              ("torch_err", "PyTorch"), ("torch_graph_err", "PyTorch graph"),
                              ("torch_note", "PyTorch")) + tuple(
                                  (f"m_{q}_err", f"miriam {q}") for q in precisions):
                if is_failure(key, r.get(key)) or (key == "torch_note" and r.get(key)):
                    notes.append(f"- {name} ({what}): {r[key]}")
                n_failed += is_failure(key, r.get(key))
            if d["ratio"] is not None:
                measured += 1
                if d["ratio"] <= 2.0:
                    within += 1
                else:
                    over2.append(f"{name} {d['ratio']:.1f}x")
            else:
                missing.append(name)
            csv_rows.append({
                "sms": p.sms, "sms_actual": p.actual if p.actual is not None else "",
                "model": name,
                "miriam_p50_ms": d["m50"], "miriam_p99_ms": d["m99"],
                "miriam_plain_p50_ms": d["p50_plain"], "miriam_plain_p99_ms": d["p99_plain"],
                "elastic_overhead_pct": d["overhead_pct"],
                "torch_graph_p50_ms": r.get("graph_p50"), "torch_graph_p99_ms": r.get("graph_p99"),
                "torch_eager_p50_ms": r.get("eager_p50"), "torch_eager_p99_ms": r.get("eager_p99"),
                "torch_graph_io_p50_ms": r.get("io_p50"), "torch_graph_io_p99_ms": r.get("io_p99"),
                "ratio": d["ratio"], "ratio_io": d["ratio_io"],
                "miriam_launch": "elastic" if have_launch else "default",
                **qcsv,
                "torch_partition": p.method or "", "errors": " | ".join(
                    f"{k}: {r[k]}" for k in ("m_elastic_err", "m_plain_err", "torch_err",
                                             "torch_graph_err", "torch_note")
                    + tuple(f"m_{q}_err" for q in precisions) if r.get(k)),
            })
        if notes:
            lines.append("")
            lines += notes
        lines.append("")
        v = (f"verdict ({p.label(full_sms)}): {within} of {measured} measured models within "
             f"2x of PyTorch CUDA graphs (miriam p50 <= 2 x PyTorch graph p50)")
        if over2:
            v += "; over 2x: " + ", ".join(over2)
        if missing:
            v += "; not compared: " + ", ".join(missing)
        verdicts.append(v)
        lines.append(v)
        for q in precisions:
            st = pstat[q]
            v = (f"verdict ({p.label(full_sms)}, {q}): {st['within']} of {st['measured']} "
                 f"measured models within 2x of PyTorch CUDA graphs (miriam p50 <= 2 x PyTorch "
                 f"graph p50)")
            if st["over2"]:
                v += "; over 2x: " + ", ".join(st["over2"])
            if st["missing"]:
                v += "; not compared: " + ", ".join(st["missing"])
            verdicts.append(v)
            lines.append(v)
        lines.append("")
    return lines, verdicts, csv_rows, n_failed


def build_gpu_report(models, parts, results, full_sms, precisions=()):
    """The like-for-like table: miriam's GPU time of one inference (CUDA events around its
    graph replay, `miriam bench`'s GPU columns) against PyTorch's graph replay timed the same
    way, and the elastic overhead in GPU time. (markdown lines, verdict lines, {(sms, model):
    CSV columns}); empty when this miriam does not report GPU time."""
    if not any((r.get("m_elastic") or {}).get("gpu50") is not None for r in results.values()):
        return [], [], {}
    lines, verdicts, cols = [], [], {}
    runs = [("fp32", "m_elastic")] + [(q, f"m_{q}") for q in precisions]
    for p in parts:
        lines.append(f"### {p.label(full_sms)}: GPU time, like for like")
        lines.append("")
        lines.append("| model | PyTorch graph p50 ms | miriam fp32 GPU p50 / p99 ms | miriam fp32 "
                     "plain GPU p50 ms | elastic overhead % (GPU) | miriam fp32/PyTorch |"
                     + "".join(f" miriam {q} GPU p50 / p99 ms | miriam {q}/PyTorch |"
                               for q in precisions))
        lines.append("|---|--:|--:|--:|--:|--:|" + "--:|--:|" * len(precisions))
        stat = {q: ([], []) for q, _ in runs}  # (at or below 1.0x, above)
        for name in models:
            r = results[(p.sms, name)]
            g = r.get("graph_p50")
            pl = (r.get("m_plain") or {}).get("gpu50")
            el = r.get("m_elastic") or {}
            over = ratio(el.get("gpu50"), pl)
            c = {"miriam_gpu_p50_ms": el.get("gpu50"), "miriam_gpu_p99_ms": el.get("gpu99"),
                 "miriam_plain_gpu_p50_ms": pl,
                 "elastic_overhead_gpu_pct": None if over is None else (over - 1) * 100}
            cells = [fmt(g), f"{fmt(el.get('gpu50'))} / {fmt(el.get('gpu99'))}", fmt(pl),
                     "-" if over is None else f"{(over - 1) * 100:+.1f}"]
            for q, key in runs:
                mq = r.get(key) or {}
                rq = ratio(mq.get("gpu50"), g)
                if q != "fp32":
                    cells.append(f"{fmt(mq.get('gpu50'))} / {fmt(mq.get('gpu99'))}")
                    c[f"miriam_{q}_gpu_p50_ms"] = mq.get("gpu50")
                    c[f"miriam_{q}_gpu_p99_ms"] = mq.get("gpu99")
                c[f"ratio_gpu_{q}"] = rq
                cells.append("-" if rq is None else f"{rq:.2f}")
                if rq is not None:
                    stat[q][0 if rq <= 1.0 else 1].append(f"{name} {rq:.2f}x")
            cols[(p.sms, name)] = c
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
        for q, _ in runs:
            at, above = stat[q]
            v = (f"parity ({p.label(full_sms)}, {q}, GPU time): {len(at)} of "
                 f"{len(at) + len(above)} measured models at or below PyTorch's graph replay")
            if above:
                v += "; above: " + ", ".join(above)
            verdicts.append(v)
            lines.append(v)
        lines.append("")
    return lines, verdicts, cols


def gpu_facts(dry):
    facts = {"gpu": "?", "driver": "?"}
    try:
        p = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version",
                            "--format=csv,noheader"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        first = p.stdout.strip().splitlines()[0] if p.stdout.strip() else ""
        if p.returncode == 0 and "," in first:
            facts["smi_name"], facts["driver"] = [s.strip() for s in first.split(",", 1)]
        else:
            facts["driver"] = f"? (nvidia-smi rc {p.returncode}: {first[:100]})"
    except Exception as e:
        facts["driver"] = "? (" + short_exc(e) + ")"
    if torch is not None and not dry:
        try:
            facts["gpu"] = torch.cuda.get_device_name(0)
        except Exception as e:
            facts["gpu"] = "? (" + short_exc(e) + ")"
    elif facts.get("smi_name"):
        facts["gpu"] = facts["smi_name"]
    return facts


def write_csv(path, rows):
    cols = []  # every row's columns, in first-seen order (rows may lack optional ones)
    for r in rows:
        cols += [k for k in r if k not in cols]
    cols = cols or ["sms", "model"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else f"{v:.4f}" if isinstance(v, float) else v)
                        for k, v in r.items()})


def parse_sms(text):
    out = []
    for tok in text.split(","):
        tok = tok.strip().lower()
        if not tok:
            continue
        v = 0 if tok in ("full", "all") else int(tok)
        if v < 0:
            raise ValueError(f"negative SM count {v}")
        if v not in out:
            out.append(v)
    if not out:
        raise ValueError("empty --sms list")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--miriam", default="build/miriam", help="miriam CLI (default build/miriam)")
    ap.add_argument("--models", default=",".join(ZOO),
                    help="comma-separated subset of: " + " ".join(ZOO))
    ap.add_argument("--sms", default="0,16",
                    help="comma-separated SM partitions; 0 = the whole GPU (default 0,16; "
                    "Hopper splits SMs in groups of 8)")
    ap.add_argument("--repeat", type=int, default=200, help="timed runs (default 200)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed runs first (default 20)")
    ap.add_argument("--quick", action="store_true", help="--repeat 50")
    ap.add_argument("--out", help="also write the report (markdown) here")
    ap.add_argument("--csv", help="write the numbers as CSV here (default: --out with .csv)")
    ap.add_argument("--time-limit", type=float, default=290,
                    help="seconds; what has not started by then is reported as skipped "
                    "(default 290; 0: none)")
    ap.add_argument("--miriam-timeout", type=float, default=240,
                    help="seconds per miriam bench invocation (default 240)")
    ap.add_argument("--miriam-args", default="",
                    help="extra arguments for every miriam bench call (e.g. '--no-graphs')")
    ap.add_argument("--precision", default="fp32",
                    help="comma-separated miriam precisions: fp32 (always measured) and/or "
                    "tf32 (one more `miriam bench --precision tf32` run per partition, its own "
                    "columns and verdict; default fp32)")
    ap.add_argument("--miriam-device", default="cuda",
                    help="miriam's --device (default cuda; cpu is for testing this script)")
    ap.add_argument("--dry-run", action="store_true",
                    help="no GPU: print the miriam commands (running them only with "
                    "--miriam-device cpu), build each PyTorch model on the CPU once")
    args = ap.parse_args()
    if args.quick:
        args.repeat = 50
    models = [m for m in args.models.split(",") if m]
    bad = [m for m in models if m not in ZOO]
    if bad:
        ap.error(f"unknown model(s) {bad}; valid: {ZOO}")
    if not models:
        ap.error("no models")
    try:
        sms_list = parse_sms(args.sms)
    except ValueError as e:
        ap.error(f"--sms: {e}")
    precisions = []
    for q in (x.strip() for x in args.precision.split(",")):
        if q not in ("", "fp32", "tf32"):
            ap.error(f"--precision: unknown precision {q!r} (fp32, tf32)")
        if q and q != "fp32" and q not in precisions:
            precisions.append(q)
    if args.repeat < 1 or args.warmup < 0:
        ap.error("--repeat must be >= 1 and --warmup >= 0")
    csv_out = args.csv or (os.path.splitext(args.out)[0] + ".csv" if args.out else None)
    command = shlex.join([sys.executable] + sys.argv)
    deadline = Deadline(args.time_limit)
    t_start = time.time()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    results = {(s, m): {} for s in sms_list for m in models}
    meta = {}

    # ---- miriam (first, before this process holds a CUDA context) ----
    env = miriam_env(args.miriam)
    have_launch = False
    mversion = "?"
    if not os.access(args.miriam, os.X_OK):
        merr = f"miriam CLI not found at {args.miriam} (use --miriam)"
        log(merr)
        for r in results.values():
            r["m_elastic_err"] = merr
            for q in precisions:
                r[f"m_{q}_err"] = merr
    else:
        mversion = miriam_version(args.miriam, env)
        help_text, herr = miriam_help(args.miriam, env)
        if herr:
            log(f"miriam bench --help failed: {herr}")
        have_launch = "--launch" in help_text
        # (launch, precision, results key): the default precision elastic and plain, then each
        # extra precision once (elastic)
        runs = [(launch, None, "m_plain" if launch == "plain" else "m_elastic")
                for launch in (["elastic", "plain"] if have_launch else [None])]
        runs += [("elastic" if have_launch else None, q, f"m_{q}") for q in precisions]
        log(f"miriam {mversion}; bench --launch {'offered' if have_launch else 'not offered'}"
            f"{'; --no-graphs offered' if '--no-graphs' in help_text else ''}")
        work = tempfile.mkdtemp(prefix="miriam-bench-gpu-")
        try:
            for sms in sms_list:
                for launch, prec, key in runs:
                    if prec and "--precision" not in help_text:
                        for m in models:
                            results[(sms, m)][key + "_err"] = ("this miriam has no --precision "
                                                               "option")
                        continue
                    if args.dry_run and args.miriam_device != "cpu":
                        cmd = miriam_cmd(args, models, sms, launch, os.path.join(work, "x.csv"),
                                         prec)
                        log("dry run, would run: " + shlex.join(cmd))
                        for m in models:
                            results[(sms, m)][key + "_err"] = "dry run"
                        continue
                    if deadline.expired():
                        for m in models:
                            results[(sms, m)][key + "_err"] = "skipped: --time-limit reached"
                        continue
                    try:
                        res, errs = run_miriam(args, env, models, sms, launch, work, deadline,
                                               prec)
                    except Exception as e:
                        res, errs = {}, {m: short_exc(e) for m in models}
                        log(traceback.format_exc())
                    for m in models:
                        if m in res:
                            results[(sms, m)][key] = res[m]
                        else:
                            results[(sms, m)][key + "_err"] = errs.get(m, "no result")
        finally:
            for f in os.listdir(work):
                os.remove(os.path.join(work, f))
            os.rmdir(work)
    log(f"miriam done in {time.time() - t_start:.1f} s")

    # ---- PyTorch ----
    parts = [Partition(s) for s in sms_list]
    full_sms = "?"
    flags = {}
    if torch is None:
        log(TORCH_ERR)
        for r in results.values():
            r["torch_err"] = TORCH_ERR
        for p in parts:
            p.error = TORCH_ERR
    elif args.dry_run:
        for p in parts:
            p.method = ("would use torch.cuda.green_contexts.GreenContext (create + Stream(), "
                        "else the driver API via ctypes, else set_context)" if p.sms
                        else "a side stream")
        try:
            run_torch(args, models, parts, deadline, results)
        except Exception as e:
            log(traceback.format_exc())
            for r in results.values():
                r.setdefault("torch_err", short_exc(e))
    else:
        try:
            if not torch.cuda.is_available():
                raise RuntimeError("torch.cuda.is_available() is False")
            dev = torch.cuda.current_device()
            # Creates the primary context now: green contexts are carved next to it.
            torch.zeros(1, device="cuda").sum().item()
            torch.backends.cudnn.benchmark = True
            flags = torch_flags()
            full_sms = torch.cuda.get_device_properties(dev).multi_processor_count
            for i, s in enumerate(sms_list):
                try:
                    parts[i] = make_partition(s, dev)
                except Exception as e:
                    parts[i].error = short_exc(e)
                    log(traceback.format_exc())
                p = parts[i]
                log(f"partition {s or 'full'}: " + (f"n/a: {p.error}" if p.error else
                                                     f"{p.method}, {p.actual or '?'} SMs"))
            # The SM check: a compute-bound matmul on the full GPU and in each partition.
            try:
                ref = next((p for p in parts if p.sms == 0 and not p.error), None) or \
                    make_partition(0, dev)
                meta["matmul_full_ms"] = sm_check(ref)
                for p in parts:
                    if not p.error:
                        p.matmul_ms = sm_check(p) if p is not ref else meta["matmul_full_ms"]
            except Exception as e:
                log(f"SM check failed: {short_exc(e)}")
            run_torch(args, models, parts, deadline, results)
        except Exception as e:
            log(traceback.format_exc())
            for r in results.values():
                r.setdefault("torch_err", short_exc(e))
            for p in parts:
                if p.error is None and p.method is None:
                    p.error = short_exc(e)

    # ---- report ----
    facts = gpu_facts(args.dry_run or torch is None)
    lines, verdicts, csv_rows, n_failed = build_report(models, parts, results, meta, have_launch,
                                                       full_sms, precisions)
    glines, gverdicts, gcols = build_gpu_report(models, parts, results, full_sms, precisions)
    lines += glines
    verdicts += gverdicts
    for row in csv_rows:
        row.update(gcols.get((row["sms"], row["model"]), {}))
    head = [f"## miriam vs PyTorch, batch-1 GPU latency ({args.repeat} timed runs after "
            f"{args.warmup} warm-up{'; DRY RUN' if args.dry_run else ''})", ""]
    tail = [
        f"- date: {date}; wall time {time.time() - t_start:.0f} s",
        f"- GPU: {facts['gpu']}; driver {facts['driver']}; {full_sms} SMs",
        f"- torch {getattr(torch, '__version__', 'n/a')}"
        + (f" (CUDA {torch.version.cuda}, cuDNN {safe(torch.backends.cudnn.version)})"
           if torch is not None else ""),
        "- PyTorch settings: " + (", ".join(f"{k} = {v}" for k, v in flags.items()) or "-"),
        f"- miriam: {args.miriam} ({mversion}); bench --launch "
        + ("elastic and plain" if have_launch else "not offered: one run, default launch")
        + (f"; extra args: {args.miriam_args}" if args.miriam_args else ""),
        "- miriam times mr_model_run() wall-clock, with the host->device input copy and the "
        "device->host output copy; 'PyTorch graph+io' is the same work around a graph replay; "
        "'PyTorch graph' and 'eager' are CUDA-event times of the GPU work alone; so are "
        "miriam's 'GPU' columns (events around its graph replay, the copies left out)",
        f"- command: {command}",
    ]
    report = "\n".join(head + lines + tail) + "\n"
    print(report, flush=True)
    for v in verdicts:
        print(v)
    for path in (args.out, csv_out):
        if path and os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
    if args.out:
        try:
            with open(args.out, "w") as f:
                f.write(report)
        except OSError as e:
            log(f"cannot write {args.out}: {e}")
    if csv_out:
        try:
            write_csv(csv_out, csv_rows)
        except OSError as e:
            log(f"cannot write {csv_out}: {e}")
    if n_failed:
        log(f"{n_failed} cell(s) not measured (see the notes under the tables)")
    return 1 if n_failed else 0


def safe(fn):
    try:
        return fn()
    except Exception as e:
        return "? " + short_exc(e)


if __name__ == "__main__":
    sys.exit(main())
