#!/usr/bin/env bash
# Installs the Debian packages miriam needs to build and test, when missing.
# Idempotent: does nothing (and needs no network) when everything is present.
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --build  build dependencies only
set -euo pipefail

build_pkgs=(
  cmake make gcc pkg-config
  libprotobuf-c-dev protobuf-c-compiler # ONNX parsing (code generated from onnx.proto)
  libonnx-dev                           # /usr/include/onnx/onnx.proto
  libcjson-dev                          # workload and profile files
  libblis-serial-dev                    # single-threaded, thread-safe BLAS for GEMM tiles
)
test_pkgs=(
  libonnx-testdata # ONNX golden node tests
  # conformance with PyTorch (scripts/conformance.py, zoo_vs_torch.py; /usr/bin/python3)
  python3-torch python3-torchvision python3-onnx python3-numpy
  clang libclang-rt-14-dev # fuzzing (scripts/fuzz.sh): clang 14 and its libFuzzer runtime
  valgrind                 # memcheck of the test suite (scripts/test-valgrind.sh)
  gnuplot-nox # the plots of `miriam compare` (optional at run time)
)

pkgs=("${build_pkgs[@]}")
[[ "${1:-}" == "--build" ]] || pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
