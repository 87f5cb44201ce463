#!/usr/bin/env python3
"""Checks that every built-in zoo model is the real PyTorch network, not a look-alike.

For each zoo model NAME:
 1. `miriam export zoo:NAME NAME.onnx` writes the zoo graph with its weights as initializers
    named like the PyTorch state_dict ("layer1.0.conv1.weight", "bn1.running_mean", ...).
 2. The float initializers are loaded into the reference PyTorch module (torchvision's
    resnet18/resnet50/vgg16/alexnet/squeezenet1_1/mobilenet_v2, the CIFAR-10 tutorial CNN for
    cifarnet, nn.LSTM/nn.GRU(256, 512, 2, batch_first) + nn.Linear(512, 10) for lstm/gru) with
    load_state_dict(strict=True): every key must exist on both sides and every shape must be
    equal, which proves the parameters of the two architectures are identical.
    Not in the ONNX file, and taken from the PyTorch module: BatchNorm's num_batches_tracked
    (a training counter, unused in eval mode). Left out of the ONNX side: int64 initializers
    (Squeeze axes, Gather indices), which are graph constants, not parameters.
    Recurrent weights are converted from ONNX's layout: W [1, G*H, I] -> weight_ih [G*H, I],
    B [1, 2*G*H] -> bias_ih, bias_hh, and the gate blocks reordered: ONNX LSTM i,o,f,c ->
    PyTorch i,f,g,o; ONNX GRU z,r,h -> PyTorch r,z,n.
 3. PyTorch runs on a random normal input, and `miriam run zoo:NAME --input x.npy --compare
    y.npy` must match it (same criterion as scripts/conformance.py: |y - ref| <= 1e-4 *
    max|ref| + 1e-4 * |ref|), which proves the connectivity (strides, paddings, pooling,
    activations, gate equations) is the same too.

Exit status: 0 when every model passes, 1 on any failure, 77 when PyTorch is not importable.
Always run with a Python that has torch (on Debian: /usr/bin/python3).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conformance as conf  # noqa: E402  (exits 77 when torch is missing)
from conformance import np, torch, onnx  # noqa: E402

from onnx import numpy_helper  # noqa: E402

ZOO = ["resnet18", "resnet50", "vgg16", "alexnet", "squeezenet1_1", "mobilenet_v2", "cifarnet",
       "lstm", "gru"]

# Gate blocks of PyTorch's order, as indices of ONNX's order.
GATE_ORDER = {"lstm": [0, 2, 3, 1],  # ONNX i,o,f,c -> PyTorch i,f,g(=c),o
              "gru": [1, 0, 2]}      # ONNX z,r,h -> PyTorch r,z,n(=h)


def reorder_gates(w, kind):
    """w: [G*H, ...] in ONNX gate order -> PyTorch gate order."""
    blocks = np.split(w, len(GATE_ORDER[kind]), axis=0)
    return np.concatenate([blocks[i] for i in GATE_ORDER[kind]], axis=0)


class Mismatch(Exception):
    pass


def onnx_to_state_dict(name, path, module):
    """The zoo's initializers as a PyTorch state_dict for `module` (see the docstring)."""
    model = onnx.load(path)
    sd = {}
    skipped = []
    for init in model.graph.initializer:
        a = numpy_helper.to_array(init)
        if a.dtype != np.float32:
            skipped.append(init.name)
            continue
        sd[init.name] = a
    if name in GATE_ORDER:
        g = len(GATE_ORDER[name])
        conv = {}
        for key, a in sd.items():
            if not key.startswith(name + "."):
                conv[key] = a
                continue
            base = key[len(name) + 1:]
            if base.startswith(("weight_ih_l", "weight_hh_l")):
                if a.ndim != 3 or a.shape[0] != 1 or a.shape[1] % g:
                    raise Mismatch(f"{key}: ONNX shape {list(a.shape)}, want [1, {g}*H, *]")
                conv[key] = reorder_gates(a[0], name)
            elif base.startswith("bias_l"):
                layer = base[len("bias_l"):]
                if a.ndim != 2 or a.shape[0] != 1 or a.shape[1] % (2 * g):
                    raise Mismatch(f"{key}: ONNX shape {list(a.shape)}, want [1, 2*{g}*H]")
                wb, rb = np.split(a[0], 2)
                conv[f"{name}.bias_ih_l{layer}"] = reorder_gates(wb, name)
                conv[f"{name}.bias_hh_l{layer}"] = reorder_gates(rb, name)
            else:
                conv[key] = a
        sd = conv
    ref = module.state_dict()
    for key, t in ref.items():
        if key.endswith("num_batches_tracked") and key not in sd:
            sd[key] = t.numpy()
    return {k: torch.from_numpy(np.array(v)) for k, v in sd.items()}, skipped


def input_shape(path):
    m = onnx.load(path, load_external_data=False)
    dims = m.graph.input[0].type.tensor_type.shape.dim
    return tuple(d.dim_value for d in dims)


def check_model(name, miriam, work, rtol, atol_scale):
    """Returns (ok, detail, max|y|, max abs diff, max rel diff)."""
    path = os.path.join(work, name + ".onnx")
    p = subprocess.run([miriam, "export", "zoo:" + name, path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        return False, "export failed: " + p.stdout.strip(), None, None, None
    module, _ = conf.build(name)
    try:
        sd, skipped = onnx_to_state_dict(name, path, module)
        # strict=True: missing and unexpected keys are errors; a shape mismatch always is.
        module.load_state_dict(sd, strict=True)
    except (Mismatch, RuntimeError) as e:
        return False, f"state_dict mismatch: {e}", None, None, None
    n_params = sum(int(v.numel()) for k, v in sd.items() if not k.endswith("num_batches_tracked"))
    shape = input_shape(path)
    os.remove(path)
    x = conf.random_input(shape)
    ref = conf.torch_forward(module, x)
    x_path, ref_path = os.path.join(work, name + ".x.npy"), os.path.join(work, name + ".y.npy")
    out_path = os.path.join(work, name + ".miriam.npy")
    np.save(x_path, x.numpy())
    np.save(ref_path, ref)
    ymax = float(np.max(np.abs(ref)))
    ok, y, log = conf.run_miriam(miriam, "zoo:" + name, x_path, ref_path, out_path, rtol,
                                 atol_scale * ymax)
    dabs = drel = None
    if y is not None and y.shape == ref.shape:
        dabs, drel, _ = conf.diffs(y, ref)
    detail = f"{len(sd)} state_dict entries, {n_params} parameters"
    if skipped:
        detail += f" (int64 constants not parameters: {', '.join(skipped)})"
    if not ok:
        detail += "\n" + log.strip()
    return ok, detail, ymax, dabs, drel


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--miriam", default="build/miriam", help="miriam CLI (default build/miriam)")
    ap.add_argument("--models", default=",".join(ZOO),
                    help="comma-separated subset of: " + " ".join(ZOO))
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--atol-scale", type=float, default=1e-4)
    args = ap.parse_args()
    models = [m for m in args.models.split(",") if m]
    bad = [m for m in models if m not in ZOO]
    if bad:
        ap.error(f"unknown model(s) {bad}; valid: {ZOO}")
    if not os.access(args.miriam, os.X_OK):
        print(f"zoo_vs_torch: miriam CLI not found at {args.miriam} (use --miriam)")
        return 1
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    work = tempfile.mkdtemp(prefix="miriam-zoo-vs-torch-")
    widths = [13, 9, 12, 12, 6, 5]
    print("zoo_vs_torch: zoo weights loaded into the PyTorch modules with strict=True, then "
          f"miriam run zoo:NAME vs PyTorch; pass if |y - ref| <= {args.atol_scale:g} * max|ref| "
          f"+ {args.rtol:g} * |ref|", flush=True)
    conf.print_row(["model", "max|y|", "max abs diff", "max rel diff", "result", "s"], widths)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|", flush=True)
    failures = []
    try:
        for name in models:
            t0 = time.time()
            try:
                ok, detail, ymax, dabs, drel = check_model(name, args.miriam, work, args.rtol,
                                                           args.atol_scale)
            except Exception as e:  # report and go on with the next model
                ok, detail, ymax, dabs, drel = False, f"error: {e!r}", None, None, None
            fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
            conf.print_row([name, fmt(ymax, ".4g"), fmt(dabs, ".3g"), fmt(drel, ".3g"),
                            "ok" if ok else "FAIL", f"{time.time() - t0:.1f}"], widths)
            print("    " + detail.replace("\n", "\n    "), flush=True)
            if not ok:
                failures.append(name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"zoo_vs_torch: {len(failures)} FAILED: {' '.join(failures)}")
        return 1
    print("zoo_vs_torch: every zoo model is its PyTorch network")
    return 0


if __name__ == "__main__":
    sys.exit(main())
