# shellcheck shell=bash
# Helpers of the GPU study scripts that run `miriam steps` (sourced, not run).

# The sum of the steps per form, one line per model, from a `miriam steps` log.
steps_sums() {
  grep -E "kernel steps|sum of the steps" "$1" | sed -E 's/: [0-9]+ kernel steps.*//' |
    paste - - | awk -F'|' '{printf "%-20s plain %8s elastic %8s %6s preempt %8s %6s shard %8s %6s\n", $1, $8, $9, $10, $11, $12, $13, $14}'
}

# The CSVs DIR/steps-TAG.csv merged into DIR/steps-all.csv (at most 8 files come back from
# the GPU machine), each row prefixed with its TAG (build, width, precision); the parts removed.
steps_merge_csv() {
  local f tag
  for f in "$1"/steps-miriam*.csv; do
    tag=$(basename "$f" .csv)
    tail -n +2 "$f" | sed "s/^/${tag#steps-},/"
    rm -f "$f"
  done >"$1/steps-all.csv"
}
