#!/usr/bin/env python3
"""Conformance of miriam with PyTorch on real exported ONNX models.

For each model: build it in PyTorch (torchvision architectures with weights=None and a fixed
torch.manual_seed, eval mode, BatchNorm given non-trivial statistics), export it to ONNX with
an explicit opset (--opset, default 13; repeatable) in three modes (see export_onnx):
  on   do_constant_folding=True
  off  do_constant_folding=False (recurrent weights sliced and concatenated in the graph,
       shape arithmetic left in)
  raw  folding off, training=PRESERVE (no Conv+BatchNorm fusion by the exporter, so
       BatchNormalization nodes reach the importer) and a symbolic batch dimension (so
       x.view(x.size(0), -1) stays a Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain,
       and the RNNs' initial states become ConstantOfShape)
run PyTorch on a random normal input, save the input and PyTorch's output as .npy and run

    miriam run MODEL.onnx --input x.npy --compare y.npy --rtol R --atol A --repeat 1 --warmup 0

which fails unless |y - ref| <= atol + rtol * |ref| for every element.

Models: resnet18 resnet50 vgg16 alexnet squeezenet1_1 mobilenet_v2 (torchvision), lstm and gru
(nn.LSTM/nn.GRU(256, 512, num_layers=2, batch_first=True) on a [1, 50, 256] sequence, last
time step through nn.Linear(512, 10)), viewcnn (a small CNN with a BatchNorm that flattens
with x.view(x.size(0), -1)).

Tolerance: rtol = 1e-4 and atol = 1e-4 * max|y| (max|y| = the largest |PyTorch logit| of that
model and input), for every model. Why the absolute part is scaled to the logits' magnitude:
an element-wise relative bound alone cannot hold for logits that are near zero by chance,
whose value is the difference of large partial sums (a logit of 1e-3 next to logits of 10 has
an absolute error set by the 10s, not by itself). Measured: the element-wise relative error
reaches 2.4e-2 on one near-zero VGG-16 logit, while the error relative to max|y| is at most
1.6e-6 on every model (ResNet-50, 50 layers with logits up to ~600: 5e-7). Both sides
accumulate in fp32, in different orders (BLIS and our direct/depthwise convolutions vs
oneDNN, BatchNorm folded into the weights here), so each output carries a few ulps of the
magnitudes summed into it, compounded over the layers. 1e-4 of the largest logit leaves a
60x margin over the worst measured case and is still orders of magnitude tighter than any
real mistake (a wrong padding, stride, gate order or BatchNorm fold moves logits by 1e-2..1 of
their scale). --rtol/--atol-scale change it. The table prints max|y|, the max abs difference,
that difference relative to max|y| ("max rel diff", what the criterion bounds) and the
element-wise maximum ("elem rel", shown only), so the margin is visible.

Precision: --precision tf32 runs miriam with `--precision tf32` (CUDA: convolutions and
matrix products on tensor cores with TF32 inputs; the CPU backend ignores it) against the
same float32 PyTorch reference, with defaults rtol = 1e-3 and atol = 1e-2 * max|y|. Why: a
TF32 product carries a relative error of up to 2^-10 ~ 1e-3 (both operands rounded to 10
mantissa bits), random in sign across the K products of an output, so a layer adds an error
of ~2^-11 ~ 5e-4 of its output's scale, and L such layers compound to ~sqrt(L) x 5e-4 of
the activations' scale (BatchNorm keeps it similar from layer to layer): ~3.5e-3 of the
logits' scale for ResNet-50's ~50 layers, ~2e-3 for VGG-16. 1e-2 of max|y| leaves a margin of
~3x over that estimate and is still far below what a real mistake does (see above: 1e-2..1
of the logits' scale). The element-wise rtol (1e-3, the per-product rounding) only matters
for the largest logits. LSTM and GRU take TF32 in their input projections only (one GEMM
per layer over all time steps; the recurrence and the batch-1 fully connected layers stay
float32): ~5e-4 of the gates' scale per layer, which the cells do not amplify, well inside the
same margins.

Runtime: about 1.5 minutes for everything with one opset on 2 cores (vgg16 is ~31 GFLOP per
inference and its ONNX file is 528 MB); --models picks a subset (the ctest "conformance" test,
scripts/ctest_conformance.sh, runs the smaller models at opsets 13 and 17). Exit status: 0
when everything passes, 1 on any failure, 77 when PyTorch is not importable.

Always run with a Python that has torch (on Debian: /usr/bin/python3). miriam runs on the
CPU backend unless MIRIAM_DEVICE says otherwise (MIRIAM_DEVICE=cuda on a GPU machine). With
PyTorch 2.9 and later the TorchScript exporter is asked for explicitly (dynamo=False).
"""
import argparse
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torchvision
    import onnx  # noqa: F401  (torch.onnx.export needs it)
except Exception as e:  # ImportError, or a broken install
    print(f"PyTorch not importable: conformance skipped ({e})")
    sys.exit(77)

ALL_MODELS = ["resnet18", "resnet50", "vgg16", "alexnet", "squeezenet1_1", "mobilenet_v2",
              "lstm", "gru", "viewcnn"]
SEED = 20261128


class RecurrentHead(nn.Module):
    """nn.LSTM / nn.GRU(256, 512, num_layers=2, batch_first=True), then nn.Linear(512, 10) on
    the last time step. Attribute names ("lstm"/"gru", "fc") match the zoo's tensor names."""

    def __init__(self, kind):
        super().__init__()
        cls = nn.LSTM if kind == "lstm" else nn.GRU
        setattr(self, kind, cls(256, 512, num_layers=2, batch_first=True))
        self.kind = kind
        self.fc = nn.Linear(512, 10)

    def forward(self, x):
        y, _ = getattr(self, self.kind)(x)
        return self.fc(y[:, -1])


class ViewCNN(nn.Module):
    """A small CNN that flattens with x.view(x.size(0), -1): with a symbolic batch dimension
    torch.onnx exports the flatten as Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(32 * 8 * 8, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = torch.relu(self.conv2(x))
        x = x.view(x.size(0), -1)
        return self.fc(x)


class CifarNet(nn.Module):
    """The CNN of PyTorch's "Training a classifier" tutorial (the zoo's cifarnet)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


def build(name, seed=SEED):
    """Returns (module in eval mode, input shape). Deterministic for a given seed."""
    torch.manual_seed(seed)
    if name in ("lstm", "gru"):
        m, shape = RecurrentHead(name), (1, 50, 256)
    elif name == "viewcnn":
        m, shape = ViewCNN(), (1, 3, 32, 32)
    elif name == "cifarnet":
        m, shape = CifarNet(), (1, 3, 32, 32)
    else:
        m, shape = getattr(torchvision.models, name)(weights=None), (1, 3, 224, 224)
    randomize_batchnorm(m)
    return m.eval(), shape


def randomize_batchnorm(model):
    """torchvision initialises BatchNorm to the identity in eval mode (weight 1, bias 0,
    running mean 0, variance 1), which would hide a wrong BatchNorm fold or a BatchNorm applied
    with the wrong statistics. Non-trivial values (the zoo uses the same ranges) make every
    BatchNorm really count. Drawn from the global generator, so seeded by build()."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.1, 0.1)
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)


def random_input(shape, seed=SEED):
    g = torch.Generator().manual_seed(seed + 1)
    return torch.randn(*shape, generator=g)


def torch_forward(model, x):
    with torch.no_grad():
        return model(x).numpy().astype(np.float32)


def export_onnx(model, x, path, opset, mode):
    """Exports with the TorchScript exporter of torch 1.13 in one of three modes:
    on   training=EVAL, do_constant_folding=True (what most users get)
    off  training=EVAL, do_constant_folding=False: weights of recurrent layers are
         sliced/concatenated at run time, shape arithmetic is left in the graph
    raw  training=PRESERVE (the model is in eval mode), do_constant_folding=False and a
         symbolic batch dimension: no Conv+BatchNorm fusion by the exporter (its "eval
         peephole" only runs for EVAL), so BatchNormalization nodes reach the importer, and
         x.view(x.size(0), -1) stays a Shape -> Gather -> Unsqueeze -> Concat -> Reshape
         chain (with a static batch the exporter's shape inference turns Shape into a
         constant)."""
    kw = dict(opset_version=opset, input_names=["input"], output_names=["logits"],
              do_constant_folding=mode == "on")
    if mode == "raw":
        kw["training"] = torch.onnx.TrainingMode.PRESERVE
        kw["dynamic_axes"] = {"input": {0: "batch"}, "logits": {0: "batch"}}
    # PyTorch >= 2.9 defaults to the dynamo exporter; these modes describe the TorchScript one.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kw["dynamo"] = False
    # Its warnings (batch size of recurrent models, shape inference of prim::Constant,
    # constant folding in PRESERVE mode) are about cases we do not use.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x, path, **kw)


def run_miriam(miriam, model, x_path, ref_path, out_path, rtol, atol, threads=None,
               device=None, precision="fp32", sms=0):
    """Runs miriam run with --compare; returns (passed, output array or None, log text)."""
    device = device or os.environ.get("MIRIAM_DEVICE", "cpu")
    cmd = [miriam, "run", model, "--input", x_path, "--output", out_path, "--compare",
           ref_path, "--rtol", repr(rtol), "--atol", repr(atol), "--repeat", "1",
           "--warmup", "0", "--device", device]
    if threads:
        cmd += ["--threads", str(threads)]
    if precision != "fp32":
        cmd += ["--precision", precision]
    if sms:
        cmd += ["--sms", str(sms)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    y = np.load(out_path) if os.path.exists(out_path) else None
    return p.returncode == 0, y, " ".join(cmd) + "\n" + p.stdout


def diffs(y, ref):
    """Max abs difference, the same relative to max|ref|, and the max element-wise relative
    difference (large on logits that are near zero by chance; shown, not tested)."""
    d = np.abs(y.astype(np.float64) - ref.astype(np.float64))
    r = np.abs(ref.astype(np.float64))
    scale = float(r.max())
    elem = d[r > 0] / r[r > 0]
    return (float(d.max()), float(d.max()) / scale if scale > 0 else float("inf"),
            float(elem.max()) if elem.size else 0.0)


# What the "raw" export of the view-flatten CNN must contain, or the test does not test the
# shape-arithmetic chain it is there for.
VIEW_CHAIN = {"Shape", "Gather", "Unsqueeze", "Concat", "Reshape"}


def check_export(name, mode, path):
    """Returns an error text when the exported graph lacks what this case is meant to test."""
    ops = {n.op_type for n in onnx.load(path, load_external_data=False).graph.node}
    if name == "viewcnn" and mode == "raw" and not VIEW_CHAIN <= ops:
        return f"the export lacks {sorted(VIEW_CHAIN - ops)} (ops: {sorted(ops)})"
    if name in ("viewcnn", "resnet18") and mode == "raw" and "BatchNormalization" not in ops:
        return f"the export has no BatchNormalization node (ops: {sorted(ops)})"
    return None


def print_row(cols, widths):
    print("| " + " | ".join(str(c).ljust(w) for c, w in zip(cols, widths)) + " |", flush=True)


HEADER = ["model", "opset", "export", "max|y|", "max abs diff", "max rel diff", "elem rel",
          "result", "s"]
WIDTHS = [13, 5, 6, 9, 12, 12, 9, 6, 5]


def print_header():
    print_row(HEADER, WIDTHS)
    print("|" + "|".join("-" * (w + 2) for w in WIDTHS) + "|", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--miriam", default="build/miriam", help="miriam CLI (default build/miriam)")
    ap.add_argument("--models", default=",".join(ALL_MODELS),
                    help="comma-separated subset of: " + " ".join(ALL_MODELS))
    ap.add_argument("--opset", type=int, action="append",
                    help="ONNX opset to export (repeatable; default 13)")
    ap.add_argument("--export", default="on,off,raw",
                    help="comma-separated export modes: on (constant folding), off (no "
                    "folding), raw (no folding, no exporter BatchNorm fusion, symbolic batch); "
                    "default all three")
    ap.add_argument("--precision", choices=("fp32", "tf32"), default="fp32",
                    help="miriam's --precision (default fp32); tf32 changes the default "
                    "tolerances to rtol 1e-3, atol 1e-2 * max|y| (see the docstring)")
    ap.add_argument("--rtol", type=float, default=None,
                    help="default 1e-4 (fp32) or 1e-3 (tf32)")
    ap.add_argument("--atol-scale", type=float, default=None,
                    help="atol = ATOL_SCALE * max|y| (default 1e-4 for fp32, 1e-2 for tf32; "
                    "see the docstring)")
    ap.add_argument("--threads", type=int, help="miriam worker threads (default: all cores)")
    ap.add_argument("--sms", type=int, default=0,
                    help="miriam's --sms: run in an SM partition of the GPU (default: the "
                    "whole GPU), where some kernels differ (e.g. the stacked recurrences)")
    ap.add_argument("--out-dir", help="keep the .onnx/.npy files here (default: a temporary "
                    "directory, removed at the end)")
    ap.add_argument("--verbose", action="store_true", help="print miriam's output")
    args = ap.parse_args()
    tf32 = args.precision == "tf32"
    if args.rtol is None:
        args.rtol = 1e-3 if tf32 else 1e-4
    if args.atol_scale is None:
        args.atol_scale = 1e-2 if tf32 else 1e-4

    models = [m for m in args.models.split(",") if m]
    bad = [m for m in models if m not in ALL_MODELS]
    if bad:
        ap.error(f"unknown model(s) {bad}; valid: {ALL_MODELS}")
    opsets = args.opset or [13]
    modes = [m for m in args.export.split(",") if m]
    if not modes or any(m not in ("on", "off", "raw") for m in modes):
        ap.error("--export takes a comma-separated list of on, off, raw")
    if not os.access(args.miriam, os.X_OK):
        print(f"conformance: miriam CLI not found at {args.miriam} (use --miriam)")
        return 1
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    out_dir = args.out_dir or tempfile.mkdtemp(prefix="miriam-conformance-")
    os.makedirs(out_dir, exist_ok=True)
    print(f"conformance: torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"onnx {onnx.__version__}; miriam --precision {args.precision}; "
          f"pass if |y - ref| <= {args.atol_scale:g} * max|ref| + "
          f"{args.rtol:g} * |ref|; max rel diff = max abs diff / max|ref|; files in {out_dir}",
          flush=True)
    print_header()
    failures = []
    try:
        for name in models:
            model, shape = build(name)
            x = random_input(shape)
            ref = torch_forward(model, x)
            x_path = os.path.join(out_dir, f"{name}.x.npy")
            ref_path = os.path.join(out_dir, f"{name}.y.npy")
            np.save(x_path, x.numpy())
            np.save(ref_path, ref)
            ymax = float(np.max(np.abs(ref)))
            atol = args.atol_scale * ymax
            for opset in opsets:
                for mode in modes:
                    t0 = time.time()
                    tag = f"{name}.op{opset}.{mode}"
                    onnx_path = os.path.join(out_dir, tag + ".onnx")
                    out_path = os.path.join(out_dir, tag + ".miriam.npy")
                    if os.path.exists(out_path):
                        os.remove(out_path)
                    try:
                        export_onnx(model, x, onnx_path, opset, mode)
                        why = check_export(name, mode, onnx_path)
                        if why:
                            ok, y, log = False, None, "bad export: " + why
                        else:
                            ok, y, log = run_miriam(args.miriam, onnx_path, x_path, ref_path,
                                                    out_path, args.rtol, atol, args.threads,
                                                    precision=args.precision, sms=args.sms)
                    except Exception as e:  # export failure: report, go on
                        ok, y, log = False, None, f"export failed: {e}"
                    cols = ["-", "-", "-"]
                    if y is not None and y.shape == ref.shape:
                        cols = [f"{v:.3g}" for v in diffs(y, ref)]
                    print_row([name, opset, mode, f"{ymax:.4g}"] + cols +
                              ["ok" if ok else "FAIL", f"{time.time() - t0:.1f}"], WIDTHS)
                    if not ok or args.verbose:
                        print("    " + log.strip().replace("\n", "\n    "), flush=True)
                    if not ok:
                        failures.append(tag)
                    if not args.out_dir:
                        # The big models' files are hundreds of MB: do not keep them around.
                        for p in (onnx_path, out_path):
                            if os.path.exists(p):
                                os.remove(p)
    finally:
        if not args.out_dir:
            shutil.rmtree(out_dir, ignore_errors=True)
    if failures:
        print(f"conformance: {len(failures)} FAILED: {' '.join(failures)}")
        return 1
    print("conformance: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
