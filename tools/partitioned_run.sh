#!/usr/bin/env bash
# A partitioned run with no engine: the same xfstore steps the Ray driver schedules, run by this
# shell (N at a time with -j N). Re-running it resumes: finished units and shards are skipped.
#
#   tools/partitioned_run.sh RUN_DIR [-j N] [-- plan options: --input IN --rule R --partitions P ...]
#   tools/partitioned_run.sh RUN_DIR [-j N] [-- CAMPAIGN.yaml --partitions P ...]   (a campaign whose
#                                         steps read files: one partitioned run per stream)
#
# XFSTORE names the binary (default: this checkout's build, target/release/xfstore, else xfstore
# on PATH; `cargo install --path .` puts it there). A Slurm array does the same per task:
#   xfstore map RUN_DIR --unit "$SLURM_ARRAY_TASK_ID"   (array 0..units-1, then a dependent
#   array 0..partitions-1 of `xfstore reduce RUN_DIR --partition "$SLURM_ARRAY_TASK_ID"`);
# see ARCHITECTURE.md, "Partitioned runs".
set -euo pipefail
if [ -z "${XFSTORE:-}" ]; then
  built="$(cd "$(dirname "$0")/.." && pwd)/${CARGO_TARGET_DIR:-target}/release/xfstore"
  if [ -x "$built" ]; then XFSTORE=$built; else XFSTORE=xfstore; fi
fi
command -v "$XFSTORE" > /dev/null || {
  echo "$0: no xfstore binary: build it (cargo build --release), set XFSTORE, or put it on PATH" >&2; exit 2
}
[ "$#" -ge 1 ] || { echo "usage: $0 RUN_DIR [-j N] [-- plan options]" >&2; exit 2; }
dir=$1; shift
jobs=1
if [ "${1:-}" = "-j" ]; then jobs=$2; shift 2; fi
if [ "${1:-}" = "--" ]; then
  shift
  "$XFSTORE" plan --out "$dir" "$@"
fi
# a partitioned campaign (plan CAMPAIGN.yaml) lists "FOLDER UNIT" per line, a single run "UNIT"
step() {  # step map|reduce --unit|--partition
  "$XFSTORE" "$1" "$dir" --list-pending | while IFS= read -r line; do
    k=${line##* }
    if [ "$k" = "$line" ]; then folder=$dir; else folder=${line% *}; fi
    printf '%s\0%s\0' "$folder" "$k"
  done | xargs -0 -r -n 2 -P "$jobs" sh -c '"$0" "$1" "$3" "$2" "$4"' "$XFSTORE" "$1" "$2"
}
waiting() {  # a partitioned campaign with streams not planned yet (their upstream not reduced):
  # `status --json` (schemas/status.schema.json) has a `"kind":"waiting"` line for each
  local doc
  doc=$("$XFSTORE" status --store "$dir" --json)
  [[ $doc == *'"kind":"waiting"'* ]]
}
# xargs exits non-zero if any step fails; set -e stops the run there (re-run to resume)
step map --unit
step reduce --partition
# a campaign runs stage by stage: plan the chained steps whose upstream is now reduced
while waiting; do
  "$XFSTORE" plan --resume --out "$dir" | tail -1
  step map --unit
  step reduce --partition
done
"$XFSTORE" status --store "$dir"
