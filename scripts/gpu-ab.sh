#!/usr/bin/env bash
# Before/after on the GPU machine: one miriam command run with two builds, one after the other,
# in the same invocation (the figures of docs/KERNEL_NOTES.md and docs/PERFORMANCE.md that
# compare commits). Here:
#   scripts/build-gpu.sh                                # the "after" build -> build-gpu-pack
#   git worktree add /tmp/before COMMIT && (cd /tmp/before && scripts/build-gpu.sh)
#   mkdir -p build-old-pack && cp /tmp/before/build-gpu-pack/build-gpu.tar.xz build-old-pack/
# then on the GPU machine, with build-gpu-pack/ and build-old-pack/ copied along:
#   bash scripts/gpu-ab.sh bench bench/workloads/a.json --device cuda --sms 16
# Every argument is passed to `miriam`; AB_ARGS2 (optional) is a second command, run the same
# way. Output: $OUT/ab.log (both builds' output, "before" first), also on stdout.
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-$PWD/gpu-ab-out}
mkdir -p "$OUT"
unpack() { # pack-dir target-dir
  [[ -x $2/miriam ]] && return 0
  local tmp
  tmp=$(mktemp -d)
  tar -C "$tmp" -xJf "$1/build-gpu.tar.xz" 2>/dev/null ||
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
      "$1/build-gpu.tar.xz" "$tmp" || return 1
  rm -rf "$2" && mv "$tmp/build-gpu" "$2"
}
unpack build-old-pack build-old || { echo "gpu-ab: cannot unpack build-old-pack"; exit 1; }
unpack build-gpu-pack build-gpu || { echo "gpu-ab: cannot unpack build-gpu-pack"; exit 1; }
rc=0
run_both() {
  local b
  for b in build-old build-gpu; do
    echo "==== $([[ $b == build-old ]] && echo before || echo after) ($b): miriam $*"
    LD_LIBRARY_PATH=$PWD/$b/devlibs "$b/miriam" "$@" 2>&1 || rc=1
  done
}
exec > >(tee "$OUT/ab.log") 2>&1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | head -1
date -u '+%Y-%m-%d %H:%M UTC'
run_both "$@"
# shellcheck disable=SC2086
[[ -n ${AB_ARGS2:-} ]] && run_both ${AB_ARGS2}
exit $rc
