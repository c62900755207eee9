#!/bin/sh
# Restore of the latest of three versions of 40 files of 5 MiB (6 random
# 4 KiB writes per file between versions), plain vs 4+2 healthy vs 4+2
# with shards 1 and 4 gone, alternating, five rounds, on tmpfs. Each
# restore is a separate `cairn-bench step restore` process; prints
# "<repo> <restore seconds> <peak RSS MiB> <wall seconds>".
#
#   cargo build --release -p cairn-bench
#   sh crates/erasure/benches/versioned_restore.sh target/release/cairn-bench [/dev/shm/cairn-vr]
#
# To compare with an older Cairn, pass its cairn-bench as OLD=path: it gets
# its own 4+2 repository (written in its shard format) of the same versions.
set -eu
B=$(realpath "$1")
W=${2:-/dev/shm/cairn-vr}
rm -rf "$W" && mkdir -p "$W/src" && cd "$W"
python3 -c "
import random; random.seed(1)
for i in range(40): open(f'src/f{i:02}.img','wb').write(random.randbytes(5<<20))"
repos="plain ec"
"$B" step init --repo plain >/dev/null
"$B" step init --repo ec --erasure >/dev/null
if [ -n "${OLD:-}" ]; then "$OLD" step init --repo ec_old --erasure >/dev/null; repos="$repos ec_old"; fi
for v in 1 2 3; do
  "$B" step backup --repo plain --src "$W/src" >/dev/null
  "$B" step backup --repo ec --src "$W/src" --erasure >/dev/null
  if [ -n "${OLD:-}" ]; then "$OLD" step backup --repo ec_old --src "$W/src" --erasure >/dev/null; fi
  [ $v = 3 ] || python3 -c "
import random; random.seed($v)
for i in range(40):
    f = open(f'src/f{i:02}.img', 'r+b')
    for _ in range(6): f.seek(random.randrange(0, (5<<20)-4096)); f.write(random.randbytes(4096))"
done
for r in $repos; do
  [ $r = plain ] && continue
  cp -r $r ${r}_deg && rm -rf ${r}_deg/shard1 ${r}_deg/shard4
  repos="$repos ${r}_deg"
done
for round in 1 2 3 4 5; do
  for r in $repos; do
    bin=$B; case $r in ec_old*) bin=$OLD;; esac
    flag=--erasure; [ $r = plain ] && flag=
    rm -rf t
    /usr/bin/time -f %e -o wall "$bin" step restore --repo $r --target t $flag 2>/dev/null |
      python3 -c "import json,sys; d=json.load(sys.stdin); print('$r', round(d['internal_secs'],3), d['vmhwm_kib']>>10, end=' ')"
    cat wall
  done
done
