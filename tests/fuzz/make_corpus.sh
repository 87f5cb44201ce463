#!/usr/bin/env bash
# Generates the seed corpora of the fuzz harnesses into DIR (default build-fuzz/fuzz-corpus):
#   DIR/fuzz_onnx      model.onnx files and serialised TensorProtos (*.pb) of libonnx-testdata
#   DIR/fuzz_npy       .npy files of every dtype, rank 0-4, both orders, versions 1.0-3.0, and
#                      malformed ones (bad magic, versions, lengths, keys, shapes, data sizes)
#   DIR/fuzz_workload  bench/workloads/*.json
# plus the hand-written seeds of tests/fuzz/seeds/<harness> and the crash reproducers of
# tests/fuzz/regressions/<harness>. Files are named by content hash, so duplicates collapse.
# The corpora are generated, not committed: run this again after the test data changes.
#   MIRIAM_TESTDATA  libonnx-testdata directory (default /usr/share/libonnx-testdata/data)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/build-fuzz/fuzz-corpus}
testdata=${MIRIAM_TESTDATA:-/usr/share/libonnx-testdata/data}
# Seeds larger than this only slow the fuzzer down (libFuzzer's -max_len follows the largest).
max_bytes=16384

mkdir -p "$out"/fuzz_onnx "$out"/fuzz_npy "$out"/fuzz_workload

# add HARNESS FILE...: copies each file (up to max_bytes) under its content hash.
add() {
    local h=$1
    shift
    local f sum
    for f in "$@"; do
        [[ -f $f ]] || continue
        (($(stat -c %s "$f") <= max_bytes)) || continue
        sum=$(sha1sum "$f")
        cp "$f" "$out/$h/${sum%% *}"
    done
}

if [[ -d $testdata ]]; then
    while IFS= read -r -d '' f; do add fuzz_onnx "$f"; done \
        < <(find "$testdata" \( -name model.onnx -o -name '*.pb' \) -print0)
else
    echo "make_corpus: $testdata not found (libonnx-testdata): fuzz_onnx starts from its seeds" >&2
fi

# The node tests feed weights, shapes and indices as graph inputs, which this runtime needs as
# constants (the golden test binds them the same way): variants with inputs turned into
# initializers holding their recorded values reach the kernels (LSTM, Gather, Reshape...).
# Plain wire-format editing, so the onnx Python package is not needed.
if [[ -d $testdata/node ]]; then
    python3 - "$testdata/node" "$out/fuzz_onnx" "$max_bytes" <<'EOF'
import glob, hashlib, os, sys

node_dir, out, max_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3])

def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i

def enc_varint(v):
    res = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        res.append(c | (0x80 if v else 0))
        if not v:
            return bytes(res)

def fields(b):
    """(field number, wire type, bytes of the whole field) of each field of a message."""
    i, res = 0, []
    while i < len(b):
        start = i
        key, i = varint(b, i)
        wt = key & 7
        if wt == 0:
            _, i = varint(b, i)
        elif wt == 1:
            i += 8
        elif wt == 2:
            n, i = varint(b, i)
            i += n
        elif wt == 5:
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        if i > len(b):
            raise ValueError("truncated")
        res.append((key >> 3, wt, b[start:i]))
    return res

def payload(raw):
    _, i = varint(raw, 0)
    n, i = varint(raw, i)
    return raw[i:i + n]

def ld(field, data):
    return enc_varint(field << 3 | 2) + enc_varint(len(data)) + data

# ModelProto.graph = 7; GraphProto.initializer = 5, .input = 11; ValueInfoProto.name = 1;
# TensorProto.name = 8.
for model in sorted(glob.glob(os.path.join(node_dir, "*", "model.onnx"))):
    ds = os.path.join(os.path.dirname(model), "test_data_set_0")
    try:
        mf = fields(open(model, "rb").read())
        gi = [k for k, f in enumerate(mf) if f[0] == 7][0]
        gf = fields(payload(mf[gi][2]))
        inputs = [f for f in gf if f[0] == 11]
        inits = []
        for k, f in enumerate(inputs):
            pb = os.path.join(ds, "input_%d.pb" % k)
            names = [payload(x[2]) for x in fields(payload(f[2])) if x[0] == 1]
            if not os.path.exists(pb) or not names:
                raise ValueError("no recorded value")
            tensor = b"".join(x[2] for x in fields(open(pb, "rb").read()) if x[0] != 8)
            inits.append(ld(5, tensor + ld(8, names[0])))
    except (IndexError, ValueError):
        continue
    # Two variants: the first input left a graph input (the kernels run), and every input
    # frozen (the whole graph is folded at load time: ConstantOfShape, Shape chains...).
    for keep in (1, 0):
        if len(inputs) <= keep:
            continue
        graph = (b"".join(f[2] for f in gf if f[0] != 11) + b"".join(inits[keep:]) +
                 b"".join(f[2] for f in inputs[:keep]))
        blob = b"".join(ld(7, graph) if k == gi else f[2] for k, f in enumerate(mf))
        if len(blob) <= max_bytes:
            with open(os.path.join(out, hashlib.sha1(blob).hexdigest()), "wb") as fh:
                fh.write(blob)
EOF
fi

for h in fuzz_onnx fuzz_npy fuzz_workload; do
    for d in "$here/seeds/$h" "$here/regressions/$h"; do
        [[ -d $d ]] && add "$h" "$d"/*
    done
done
add fuzz_workload "$root"/bench/workloads/*.json

# .npy files, written byte by byte (numpy is not needed).
python3 - "$out/fuzz_npy" <<'EOF'
import hashlib, os, struct, sys

out = sys.argv[1]

def save(blob):
    with open(os.path.join(out, hashlib.sha1(blob).hexdigest()), "wb") as f:
        f.write(blob)

def npy(descr, shape, data, fortran=False, major=1, pad=True, raw_dict=None):
    if raw_dict is None:
        # numpy's spelling: "()", "(5,)", "(2, 3)"
        dims = "%d," % shape[0] if len(shape) == 1 else ", ".join(str(d) for d in shape)
        raw_dict = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
            descr, "True" if fortran else "False", dims)
    head = raw_dict.encode("latin-1")
    pre = 10 if major == 1 else 12
    if pad:
        total = (pre + len(head) + 1 + 63) // 64 * 64
        head = head + b" " * (total - pre - len(head) - 1) + b"\n"
    length = struct.pack("<H", len(head)) if major == 1 else struct.pack("<I", len(head))
    return b"\x93NUMPY" + bytes([major, 0]) + length + head + data

sizes = {"<f4": 4, "<i8": 8, "<i4": 4, "<f8": 8, "<f2": 2, "|b1": 1, "|u1": 1, "|i1": 1,
         "<u2": 2, "<i2": 2, "<u4": 4, "<u8": 8, ">f4": 4, ">i8": 8, "<c8": 8}
shapes = [(), (0,), (1,), (5,), (2, 3), (0, 4), (2, 1, 3), (1, 2, 2, 2)]
for descr, size in sizes.items():
    for shape in shapes:
        n = 1
        for d in shape:
            n *= d
        data = bytes((i * 37 + 11) & 0xFF for i in range(n * size))
        for fortran in (False, True):
            for major in (1, 2, 3):
                if major != 1 and (fortran or shape not in [(), (2, 3)]):
                    continue
                save(npy(descr, shape, data, fortran, major))
        if descr == "<f4":
            save(npy(descr, shape, data, pad=False))        # unpadded header
            save(npy(descr, shape, data[:-1] if data else b"\0"))  # data one byte off
            save(npy(descr, shape, data + b"\0"))

ok = npy("<f4", (2, 3), bytes(24))
bad = [
    b"", b"\x93NUMPY", b"\x93NUMPY\x01", b"\x93NUMPY\x02\x00\x40\x00",
    b"\x93NUMPZ" + ok[6:], b"PK\x03\x04" + ok[4:],
    ok[:6] + b"\x04\x00" + ok[8:],                   # unsupported version
    ok[:8] + b"\x00\x00" + ok[10:],                  # header length 0
    ok[:8] + b"\xff\xff" + ok[10:],                  # header length past the end
    b"\x93NUMPY\x02\x00\xff\xff\xff\xff" + ok[10:],  # 4 GiB header length
    ok[:40] + b"\0" + ok[41:],                       # NUL inside the header
]
for blob in bad:
    save(blob)
dicts = [
    "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }",
    "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3), }",
    "{'descr': '<f4', 'shape': (2, 3), }",
    "{'fortran_order': False, 'shape': (2, 3), }",
    "{'descr': '<f4', 'fortran_order': False, }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2,, 3), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, -3), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
    "{'descr': '<i8', 'fortran_order': False, 'shape': (2305843009213693952,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }",
    "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4', }",
    "{'descr':'<f4','fortran_order':False,'shape':(2,3)}",
]
for d in dicts:
    save(npy(None, None, bytes(24), raw_dict=d))
EOF

for h in fuzz_onnx fuzz_npy fuzz_workload; do
    echo "make_corpus: $h: $(find "$out/$h" -type f | wc -l) seeds in $out/$h"
done
