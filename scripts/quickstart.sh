#!/usr/bin/env bash
# Builds miriam (installing its Debian dependencies if missing) and runs the main job on the
# built-in default model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
exec build/miriam run zoo:resnet18 --repeat 20 --warmup 3
