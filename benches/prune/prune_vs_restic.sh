#!/bin/bash
# Prune benchmark (BENCHMARKS.md, "Prune"): cairn vs restic on the same two
# versions of a tree of many small files. Usage:
#   benches/prune/prune_vs_restic.sh CAIRN_BINARY [FILES] [WORK_DIR]
# Needs restic and GNU time (/usr/bin/time). Deletes WORK_DIR at the end.
set -euo pipefail
CAIRN=$(realpath "$1"); N=${2:-200000}; B=${3:-/tmp/cairn-prune-bench}
HERE=$(cd "$(dirname "$0")" && pwd)
export CAIRN_PASSWORD=bench-password RESTIC_PASSWORD=bench-password
T="/usr/bin/time -f %e\t%M"
rm -rf "$B"; mkdir -p "$B"; cd "$B"
python3 "$HERE/gen_tree.py" "$B/src" "$N" 1
$CAIRN -q -r cairn-pristine init > /dev/null
restic -q -r restic-pristine init --repository-version 2 > /dev/null
echo "backup v1 (wall s, peak RSS KiB): cairn, restic"
$T $CAIRN -q -r cairn-pristine backup src 2>&1 | tail -1
$T restic -q -r restic-pristine backup --compression auto src 2>&1 | tail -1
python3 "$HERE/gen_tree.py" "$B/src" "$N" 2
echo "files after v2: $(find src -type f | wc -l)"
echo "backup v2: cairn, restic"
$T $CAIRN -q -r cairn-pristine backup src 2>&1 | tail -1
$T restic -q -r restic-pristine backup --compression auto src 2>&1 | tail -1
du -sb cairn-pristine restic-pristine
for round in 1 2 3; do
  rm -rf cairn-work restic-work
  cp -a cairn-pristine cairn-work; cp -a restic-pristine restic-work; sync
  echo "round $round cairn"
  /usr/bin/time -v $CAIRN -r cairn-work forget --keep-last 1 --prune --grace 0 \
    > cairn-$round.out 2> cairn-$round.time
  grep -E "Elapsed|Maximum resident" cairn-$round.time
  echo "round $round restic"
  /usr/bin/time -v restic -r restic-work forget --keep-last 1 --prune \
    > restic-$round.out 2> restic-$round.time
  grep -E "Elapsed|Maximum resident" restic-$round.time
  du -sb cairn-work restic-work
done
cd /; rm -rf "$B"
