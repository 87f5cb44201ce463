#!/usr/bin/env bash
# The ctest test "conformance": miriam vs PyTorch on exported ONNX models
# (scripts/conformance.py, a CI-sized subset) and the zoo-vs-torchvision identity check
# (scripts/zoo_vs_torch.py, every zoo model). Exits 77 (ctest: skipped) when PyTorch is not
# importable.
#   scripts/ctest_conformance.sh MIRIAM_CLI
#
# Debian's python3-torch lives in /usr/bin/python3; a python3 earlier on PATH (pyenv, venv)
# usually lacks it, so /usr/bin/python3 is preferred when it exists.
set -u
miriam=${1:?usage: ctest_conformance.sh MIRIAM_CLI}
dir=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[[ -x $py ]] || py=$(command -v python3 || true)
if [[ -z $py ]] || ! "$py" -c "import torch, torchvision, onnx" 2>/dev/null; then
  echo "PyTorch not importable: conformance skipped"
  exit 77
fi
rc=0
# The small models, both opsets, all three export modes (~1 min on 2 cores); resnet50 and
# vgg16 take longer to export and run: `scripts/conformance.py` alone covers them.
"$py" "$dir/conformance.py" --miriam "$miriam" --opset 13 --opset 17 \
  --models resnet18,mobilenet_v2,squeezenet1_1,alexnet,lstm,gru,viewcnn || rc=1
"$py" "$dir/zoo_vs_torch.py" --miriam "$miriam" || rc=1
exit $rc
