#!/usr/bin/env bash
# Builds miriam with the CUDA backend on this machine (no GPU needed: nvcc only) and packs what
# the GPU machine needs, for scripts/gpu-check.sh there.
#
#   scripts/build-gpu.sh            build into build-gpu/, pack into build-gpu-pack/
#
# Steps:
#   1. cmake Release build with CUDA into build-gpu/ (sm_90a: H100/H200), every target;
#   2. scripts/bundle-libs.sh copies the Debian shared libraries the programs link
#      (protobuf-c, cJSON, BLIS, ...), which the GPU machine lacks, into build-gpu/devlibs;
#   3. packs into build-gpu-pack/ (what is copied to the GPU machine with the source tree;
#      kept small, the two together well under 64 MiB):
#        build-gpu.tar.xz      the executables, every CTestTestfile.cmake and devlibs/;
#        onnx-testdata.tar.xz  ONNX's backend test data for the golden test (Debian's
#                              libonnx-testdata), which the GPU machine lacks;
#        BUILD_INFO            commit, date, toolchain.
#      Every test program links the static library, so each holds the same fatbin (all the
#      kernels, ~10 MB and growing): build-gpu/ is hundreds of MB, but xz with a dictionary
#      larger than one program stores that fatbin once (~3 MB per extra program -> ~0.1 MB).
#
# Then, on the GPU machine, from the repo root, with build-gpu-pack/ copied along:
#   bash scripts/gpu-check.sh
#
# Environment: JOBS (parallel build jobs, default 1: this machine is shared), CUDA_ARCH
# (default 90a), BUILD_TYPE (default Release).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build="build-gpu"
pack="build-gpu-pack"

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" -DMIRIAM_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90a}"
if ! grep -q '^CMAKE_CUDA_COMPILER:[A-Z]*=.*nvcc' "$build/CMakeCache.txt"; then
  echo "build-gpu.sh: CMake found no CUDA compiler (nvcc): the build would have no CUDA backend" >&2
  exit 1
fi
cmake --build "$build" -j"${JOBS:-1}"

# Only the programs that run there (CMake's compiler-identification binaries need nothing).
mapfile -t progs < <(find "$build" -path "$build/CMakeFiles" -prune -o -path "$build/devlibs" -prune \
  -o -type f -perm -u+x -print)
rm -rf "$build/devlibs"
bash scripts/bundle-libs.sh "$build" "${progs[@]}"

mkdir -p "$pack"
rm -f "$pack/build-gpu.tar.xz.tmp"
mapfile -t testfiles < <(find "$build" -name CTestTestfile.cmake)
# -T1 and a 64 MiB dictionary: one stream, so identical fatbins of different programs are
# found (multi-threaded xz would split the input into independent blocks).
tar -cf - "${progs[@]}" "${testfiles[@]}" "$build/devlibs" |
  xz -T1 --lzma2=preset=3,dict=64MiB >"$pack/build-gpu.tar.xz.tmp"
mv "$pack/build-gpu.tar.xz.tmp" "$pack/build-gpu.tar.xz"

testdata=/usr/share/libonnx-testdata/data
if [[ -d $testdata/node && ! -f $pack/onnx-testdata.tar.xz ]]; then
  tar -C "$testdata" -cf - node pytorch-converted pytorch-operator simple |
    xz -T0 -6 >"$pack/onnx-testdata.tar.xz.tmp"
  mv "$pack/onnx-testdata.tar.xz.tmp" "$pack/onnx-testdata.tar.xz"
fi

{
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "built: $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname)"
  echo "nvcc: $(nvcc --version | tail -1)"
  echo "cmake: $(cmake --version | head -1)"
  echo "programs: ${#progs[@]}"
} >"$pack/BUILD_INFO"

size=$(du -sm "$pack" | cut -f1)
echo "build-gpu.sh: $pack is ${size} MiB ($(find "$pack" -mindepth 1 -maxdepth 1 -printf '%f '))"
cat "$pack/BUILD_INFO"
if ((size > 56)); then
  echo "build-gpu.sh: warning: $pack is close to 64 MiB (with the source tree)" >&2
fi
echo "next: on the GPU machine, with $pack/ copied along: bash scripts/gpu-check.sh"
