#!/usr/bin/env bash
# The ctest test "mdtb_torch": scripts/mdtb_torch.py briefly on the CPU smoke workload, then its
# CSV read back by `miriam compare --include`: both sides of the results.csv schema agree.
# Exits 77 (ctest: skipped) when PyTorch is not importable.
#   scripts/ctest_mdtb_torch.sh MIRIAM_CLI
#
# Debian's python3-torch lives in /usr/bin/python3; a python3 earlier on PATH (pyenv, venv)
# usually lacks it, so /usr/bin/python3 is preferred when it exists.
set -u
miriam=${1:?usage: ctest_mdtb_torch.sh MIRIAM_CLI}
dir=$(cd "$(dirname "$0")" && pwd)
workload=$(dirname "$dir")/bench/workloads/cpu-smoke.json
py=/usr/bin/python3
[[ -x $py ]] || py=$(command -v python3 || true)
if [[ -z $py ]] || ! "$py" -c "import torch, torchvision" 2>/dev/null; then
  echo "PyTorch not importable: mdtb_torch skipped"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "mdtb_torch: FAILED: $*"
  exit 1
}

"$py" "$dir/mdtb_torch.py" "$workload" --device cpu --duration 0.5 --warmup 0.2 --grace 1 \
  -o "$tmp/torch.csv" || fail "mdtb_torch.py exited with $?"
for policy in pytorch-solo pytorch-multistream pytorch-priority; do
  for task in critical normal; do
    grep -q "^cpu-smoke,$policy,$task,zoo:" "$tmp/torch.csv" || fail "no row $policy/$task"
  done
done

"$miriam" compare "$workload" --device cpu --duration 0.3 --warmup 0 --policies elastic \
  --include "$tmp/torch.csv" -o "$tmp/out" --no-plots >"$tmp/report.md" ||
  fail "miriam compare --include exited with $?"
[[ "$(head -n 1 "$tmp/torch.csv")" == "$(head -n 1 "$tmp/out/results.csv")" ]] ||
  fail "the headers differ: $(head -n 1 "$tmp/torch.csv")"
n=$(grep -c '^cpu-smoke,pytorch-' "$tmp/out/results.csv")
[[ $n -eq 6 ]] || fail "$n pytorch rows in results.csv, expected 6"
grep -q '| pytorch-priority ' "$tmp/report.md" || fail "no pytorch-priority row in the table"
echo "mdtb_torch: ok"
