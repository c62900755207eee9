//! Range reads that fetch and verify only the blocks they need.
//!
//! For a version-2 object (see [`format`](crate::format)) a range read:
//!
//! 1. reads the header and block table of one shard (the healthiest child
//!    first; one small ranged read), which says the object's length and the
//!    checksum of every block of every shard — or takes it from a small
//!    cache of the tables of the objects read last, since a restore reads
//!    several ranges of each pack;
//! 2. reads, from each data shard that holds part of the range, just the
//!    64 KiB blocks covering it (one ranged read per data shard, in
//!    parallel), and verifies every block against the table;
//! 3. for blocks that are missing, unreadable or fail their checksum, reads
//!    the same block range from further shards (healthiest first) until
//!    `k` verified copies of each such stripe are in hand, reconstructs just those stripes, and checks the rebuilt blocks
//!    against the table too.
//!
//! Range reads do not hedge (see
//! [`hedge_after`](crate::ErasureConfig::hedge_after)): a hung data child
//! costs `op_timeout` per read until its circuit opens, after which its
//! blocks are rebuilt from the others without asking it.
//!
//! Every byte returned was checked against a block checksum. Whatever this
//! path cannot settle — a version-1 object, a header that disagrees with
//! the shards (a stale shard of an overwritten object), fewer than `k`
//! good copies of a stripe — falls back to the whole-object read, which
//! picks the version by shard majority and checks the object checksum.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::future::join_all;

mod blocks;
mod cache;

use blocks::{assemble, pieces, verify_run};
pub(crate) use cache::TableCache;

use crate::backend::{check_key, OFFLOAD_BYTES};
use crate::call::Slot;
use crate::format::{BlockTable, ShardHeader, FORMAT_V1, HEADER_LEN};
use crate::{ErasureBackend, Error, Result};

/// Bytes read from the start of a shard for its header: the block table of
/// a 16 MiB pack under 4+2 is 12 KiB, so one read usually holds it all.
const HEAD_READ: u64 = HEADER_LEN as u64 + 32 * 1024;

/// The verified blocks known of each shard: shard -> block -> bytes.
type Known = Vec<BTreeMap<usize, Bytes>>;

/// What the header phase found.
enum Head {
    /// A version-2 header with its table.
    V2(Arc<BlockTable>),
    /// The object is gone: no child holds it.
    NotFound,
    /// No usable version-2 header: read the whole object.
    Fallback,
}

/// What the repair of failed blocks works on.
struct Repair<'a> {
    t: &'a Arc<BlockTable>,
    slots: &'a [Arc<Slot>],
    known: &'a mut Known,
    /// (shard, block) pairs that failed.
    failed: &'a [(usize, usize)],
    /// Shards with a failed block: not asked again.
    doubtful: &'a BTreeSet<usize>,
    blame: bool,
}

impl ErasureBackend {
    /// [`Backend::get_range`](cairn_backends::Backend::get_range) with the
    /// typed error. Fetches only the blocks covering `range` when the object
    /// is in shard format 2 (see the module docs), else the whole object.
    pub async fn get_range_object(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        check_key(key)?;
        // An inverted range is refused by the whole-object path below, after
        // it has told a missing object from an existing one.
        if range.start <= range.end {
            // A cached table may be stale (the object was overwritten since):
            // then no child is blamed, and a fresh header is read once.
            if let Some(t) = self.tables.get(key) {
                if let Some(bytes) = self.range_v2(key, &range, t, false).await {
                    return Ok(bytes);
                }
                self.tables.forget(key);
            }
            match self.read_head(key).await {
                Head::V2(t) => {
                    if let Some(bytes) = self.range_v2(key, &range, Arc::clone(&t), true).await {
                        self.tables.insert(key, t);
                        return Ok(bytes);
                    }
                }
                Head::NotFound => {
                    return Err(cairn_backends::Error::NotFound { key: key.into() }.into());
                }
                Head::Fallback => {}
            }
        }
        let data = self.get_object(key).await?;
        let size = data.len() as u64;
        if range.start > range.end || range.start > size {
            return Err(invalid(key, &range, size));
        }
        // Both ends are at most `size`, the length of bytes in memory.
        Ok(data.slice(range.start as usize..range.end.min(size) as usize))
    }

    /// Reads a header and block table, healthiest child first.
    async fn read_head(&self, key: &str) -> Head {
        let slots = self.slots();
        let all: Vec<usize> = (0..slots.len()).collect();
        let mut absent = 0;
        for i in Self::read_order(&slots, &all) {
            let slot = &slots[i];
            let first = slot
                .call(&self.config, key, |b| b.get_range(key, 0..HEAD_READ))
                .await;
            let bytes = match first {
                Ok(bytes) => bytes,
                Err(e) if e.is_not_found() => {
                    absent += 1;
                    continue;
                }
                Err(_) => continue,
            };
            match ShardHeader::parse(&bytes) {
                Ok(h) if usize::from(h.index) != i => {
                    slot.corrupt();
                    continue;
                }
                Ok(h) if h.version == FORMAT_V1 => return Head::Fallback,
                Ok(_) => {}
                Err(_) => {
                    slot.corrupt();
                    continue;
                }
            }
            match self.table_from(key, slot, bytes).await {
                Some(t) if self.fits(&t) => return Head::V2(Arc::new(t)),
                _ => slot.corrupt(),
            }
        }
        if absent > self.codec.m() && absent == slots.len() {
            return Head::NotFound;
        }
        Head::Fallback
    }

    /// Whether a table belongs to this code.
    fn fits(&self, t: &BlockTable) -> bool {
        usize::from(t.header.k) == self.codec.k() && usize::from(t.header.m) == self.codec.m()
    }

    /// The block table from the first bytes of a shard, reading the rest of
    /// it when the table is longer than the first read.
    async fn table_from(&self, key: &str, slot: &Slot, first: Bytes) -> Option<BlockTable> {
        let header = ShardHeader::parse(&first).ok()?;
        let off = header.payload_offset()?;
        if first.len() >= off {
            return BlockTable::parse(&first).ok();
        }
        let rest = slot
            .call(&self.config, key, |b| {
                b.get_range(key, first.len() as u64..off as u64)
            })
            .await
            .ok()?;
        let mut whole = BytesMut::with_capacity(first.len() + rest.len());
        whole.extend_from_slice(&first);
        whole.extend_from_slice(&rest);
        BlockTable::parse(&whole).ok()
    }

    /// The fast path; `None` sends the caller to the whole-object read.
    /// With `blame`, children whose blocks are missing or fail verification
    /// are noted (health, needs-repair); without (a cached table that may be
    /// stale), nothing is held against them.
    async fn range_v2(
        &self,
        key: &str,
        range: &Range<u64>,
        t: Arc<BlockTable>,
        blame: bool,
    ) -> Option<Bytes> {
        let len = t.header.object_len;
        if range.start > len {
            // Perhaps a stale header: let the whole read decide.
            return None;
        }
        let (a, b) = (range.start, range.end.min(len));
        if a == b {
            return Some(Bytes::new());
        }
        let pieces = pieces(&t, a, b)?;
        let slots = self.slots();
        let mut known: Known = vec![BTreeMap::new(); slots.len()];
        let mut failed: Vec<(usize, usize)> = Vec::new();
        let mut doubtful = BTreeSet::new();
        let fetched = join_all(pieces.iter().map(|p| {
            let slot = Arc::clone(&slots[p.shard]);
            let t = Arc::clone(&t);
            async move {
                // A child whose circuit is open is not waited for: its
                // blocks are rebuilt from others (and it is asked last).
                if slot.health.rank().0 == 2 {
                    return vec![None; p.last - p.first];
                }
                self.fetch_blocks(key, &slot, &t, p.shard, p.first..p.last, blame)
                    .await
            }
        }))
        .await;
        for (p, blocks) in pieces.iter().zip(fetched) {
            for (j, block) in (p.first..p.last).zip(blocks) {
                match block {
                    Some(bytes) => {
                        known[p.shard].insert(j, bytes);
                    }
                    None => {
                        failed.push((p.shard, j));
                        doubtful.insert(p.shard);
                    }
                }
            }
        }
        if !failed.is_empty() {
            let mut r = Repair {
                t: &t,
                slots: &slots,
                known: &mut known,
                failed: &failed,
                doubtful: &doubtful,
                blame,
            };
            self.repair_blocks(key, &mut r).await?;
        }
        assemble(&t, &pieces, &known, b - a)
    }

    /// Reads blocks `blocks` of shard `shard` from its child and verifies
    /// each; `None` for each block that is missing or bad. A missing shard
    /// is noted for repair; with `blame` (a freshly read table), so is a bad
    /// one, which also counts against the child's health.
    async fn fetch_blocks(
        &self,
        key: &str,
        slot: &Slot,
        t: &Arc<BlockTable>,
        shard: usize,
        blocks: Range<usize>,
        blame: bool,
    ) -> Vec<Option<Bytes>> {
        let n = blocks.len();
        let start = t.payload_offset + blocks.start * t.block_len;
        let end = t.payload_offset + (blocks.end * t.block_len).min(t.payload_len);
        let got = slot
            .call(&self.config, key, |b| {
                b.get_range(key, start as u64..end as u64)
            })
            .await;
        let bytes = match got {
            Ok(bytes) => bytes,
            Err(e) => {
                // A missing shard is missing whatever the table says.
                if e.is_not_found() {
                    self.hint(key, shard);
                }
                return vec![None; n];
            }
        };
        let check = {
            let t = Arc::clone(t);
            move || verify_run(&t, shard, blocks, &bytes)
        };
        let out = if end - start < OFFLOAD_BYTES {
            check()
        } else {
            blocking::unblock(check).await
        };
        if blame && out.iter().any(Option::is_none) {
            slot.corrupt();
            self.hint(key, shard);
        }
        out
    }

    /// Gets `k` verified copies of every stripe (block index) in `failed`
    /// from further shards, rebuilds the failed blocks and checks them
    /// against the table. `None` when that is not possible.
    async fn repair_blocks(&self, key: &str, r: &mut Repair<'_>) -> Option<()> {
        let Repair {
            t,
            slots,
            ref mut known,
            failed,
            doubtful,
            blame,
        } = *r;
        let k = self.codec.k();
        let stripes: BTreeSet<usize> = failed.iter().map(|&(_, j)| j).collect();
        let (lo, hi) = (*stripes.first()?, *stripes.last()? + 1);
        let all: Vec<usize> = (0..slots.len()).collect();
        let mut untried: Vec<usize> = Self::read_order(slots, &all)
            .into_iter()
            .filter(|s| !doubtful.contains(s))
            .collect();
        // Shards that already cover the whole span need no second read.
        untried.retain(|&s| !(lo..hi).all(|j| known[s].contains_key(&j)));
        untried.reverse();
        loop {
            let need = stripes
                .iter()
                .map(|j| k.saturating_sub(known.iter().filter(|m| m.contains_key(j)).count()))
                .max()
                .unwrap_or(0);
            if need == 0 {
                break;
            }
            let batch: Vec<usize> = (0..need).map_while(|_| untried.pop()).collect();
            if batch.is_empty() {
                return None;
            }
            let reads = join_all(
                batch
                    .iter()
                    .map(|&s| self.fetch_blocks(key, &slots[s], t, s, lo..hi, blame)),
            )
            .await;
            for (&s, blocks) in batch.iter().zip(reads) {
                for (j, block) in (lo..hi).zip(blocks) {
                    if let Some(bytes) = block {
                        known[s].insert(j, bytes);
                    }
                }
            }
        }
        for &j in &stripes {
            let rebuilt = self.rebuild_stripe(t, known, j).await?;
            for &(s, fj) in failed {
                if fj == j {
                    let block = rebuilt.get(s)?.clone()?;
                    if !t.verify(s, j, &block) {
                        return None;
                    }
                    known[s].insert(j, Bytes::from(block));
                }
            }
        }
        Some(())
    }

    /// Reconstructs every data column of stripe `j` from the known blocks.
    async fn rebuild_stripe(
        &self,
        t: &BlockTable,
        known: &Known,
        j: usize,
    ) -> Option<Vec<Option<Vec<u8>>>> {
        // Exactly k columns: more would only be copied for nothing.
        let mut present = 0;
        let mut cols: Vec<Option<Vec<u8>>> = known
            .iter()
            .map(|m| {
                let b = m.get(&j).filter(|_| present < self.codec.k())?;
                present += 1;
                Some(b.to_vec())
            })
            .collect();
        let codec = self.codec.clone();
        let solve = move || codec.reconstruct_stripe(&mut cols).map(|()| cols);
        let rebuilt = if t.len_of(j) * self.codec.k() < OFFLOAD_BYTES {
            solve()
        } else {
            blocking::unblock(solve).await
        };
        rebuilt.ok()
    }
}

fn invalid(key: &str, range: &Range<u64>, size: u64) -> Error {
    cairn_backends::Error::InvalidRange {
        key: key.to_owned(),
        start: range.start,
        end: range.end,
        size,
    }
    .into()
}
