#!/usr/bin/env bash
# A study variant of the miriam CLI: one CUDA (or host C) source of an existing
# scripts/build-gpu.sh build compiled again with extra preprocessor definitions (the study
# macros a source documents, e.g. RNN_TRACE, RNN_TIMELINE or RNN_PERSIST_HT in src/cuda/rnn.cu),
# linked into the `miriam` CLI (target miriam_cli), and
# packed beside the build as build-gpu-pack/variants/miriam-NAME.xz. The build itself is left as
# it was (its object is restored and the CLI relinked).
#
#   scripts/build-variant.sh NAME SOURCE DEFINE...
#   scripts/build-variant.sh trace src/cuda/rnn.cu -DRNN_TRACE
#
# On the GPU machine: xz -dc build-gpu-pack/variants/miriam-NAME.xz > build-gpu/miriam-NAME
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 3 ]] || {
  echo "usage: $0 NAME SOURCE DEFINE..." >&2
  exit 2
}
name=$1 src=$2
shift 2
build="build-gpu"
obj="CMakeFiles/miriam_objs.dir/$src.o"
[[ -f $build/$obj ]] || {
  echo "build-variant.sh: no $build/$obj (run scripts/build-gpu.sh first)" >&2
  exit 1
}
flags=$(sed -n 's/^CUDA_FLAGS = //p' "$build/CMakeFiles/miriam_objs.dir/flags.make")
defs=$(sed -n 's/^CUDA_DEFINES = //p' "$build/CMakeFiles/miriam_objs.dir/flags.make")
saved=$(mktemp)
cp "$build/$obj" "$saved"
restore() {
  cp "$saved" "$build/$obj"
  rm -f "$saved"
  cmake --build "$build" --target miriam miriam_cli >/dev/null
}
trap restore EXIT
(
  cd "$build"
  if [[ $src == *.c ]]; then
    # a host source (a launcher's study switch): the C compiler, with the build's C flags
    cflags=$(sed -n 's/^C_FLAGS = //p' CMakeFiles/miriam_objs.dir/flags.make)
    cdefs=$(sed -n 's/^C_DEFINES = //p' CMakeFiles/miriam_objs.dir/flags.make)
    cincs=$(sed -n 's/^C_INCLUDES = //p' CMakeFiles/miriam_objs.dir/flags.make)
    # shellcheck disable=SC2086
    cc $cdefs "$@" $cincs $cflags -c "../$src" -o "$obj"
  else
    # shellcheck disable=SC2086
    nvcc -forward-unknown-to-host-compiler $defs "$@" \
      --options-file CMakeFiles/miriam_objs.dir/includes_CUDA.rsp $flags \
      -x cu -c "../$src" -o "$obj"
  fi
)
cmake --build "$build" --target miriam_cli >/dev/null
mkdir -p build-gpu-pack/variants
xz -T1 -6 -c "$build/miriam" >"build-gpu-pack/variants/miriam-$name.xz"
echo "build-gpu-pack/variants/miriam-$name.xz: $src with $*"
