#!/usr/bin/env bash
# Builds miriam (installing its Debian dependencies if missing) and runs the main job,
# `miriam compare` (report, results and plots in compare-out/<workload>/): a critical and a
# normal task sharing the device under every sharing policy, next to each task alone. On a GPU: workload A (critical ResNet-50 at 30 Hz + normal VGG-16 closed loop)
# on a 16-SM partition, the edge-sized emulation; without one: the CPU smoke workload
# (critical CifarNet at 50 Hz + normal SqueezeNet) on the CPU backend.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
if build/miriam info zoo:cifarnet --device cuda >/dev/null 2>&1; then
  exec build/miriam compare bench/workloads/a.json --device cuda --sms 16
else
  echo "quickstart: no usable GPU; running the CPU smoke workload on the CPU backend" >&2
  exec build/miriam compare bench/workloads/cpu-smoke.json --device cpu
fi
