//! Which blocks a range covers, verifying runs of blocks, and joining the
//! requested bytes back together.

use std::ops::Range;

use bytes::Bytes;

use super::Known;
use crate::format::BlockTable;

/// The part of one data shard a range covers.
pub(super) struct Piece {
    pub(super) shard: usize,
    /// Byte range within the shard's payload.
    pub(super) lo: usize,
    pub(super) hi: usize,
    /// Covering blocks, `first..last`.
    pub(super) first: usize,
    pub(super) last: usize,
}

/// Verifies the consecutive blocks `blocks` of shard `shard`, read as one
/// run of bytes.
pub(super) fn verify_run(
    t: &BlockTable,
    shard: usize,
    blocks: Range<usize>,
    bytes: &Bytes,
) -> Vec<Option<Bytes>> {
    let mut at = 0;
    blocks
        .map(|j| {
            let n = t.len_of(j);
            let block = bytes.get(at..at + n).map(|_| bytes.slice(at..at + n));
            at += n;
            block.filter(|b| t.verify(shard, j, b))
        })
        .collect()
}

/// The data shards (and blocks) holding object bytes `a..b`.
pub(super) fn pieces(t: &BlockTable, a: u64, b: u64) -> Option<Vec<Piece>> {
    let p = u64::try_from(t.payload_len).ok()?;
    let bl = t.block_len;
    let mut out = Vec::new();
    for s in a / p..=(b - 1) / p {
        let base = s * p;
        let lo = usize::try_from(a.max(base) - base).ok()?;
        let hi = usize::try_from(b.min(base.checked_add(p)?) - base).ok()?;
        out.push(Piece {
            shard: usize::try_from(s).ok()?,
            lo,
            hi,
            first: lo / bl,
            last: hi.div_ceil(bl),
        });
    }
    Some(out)
}

/// Joins the requested bytes from verified blocks; zero-copy when they sit
/// in one block.
pub(super) fn assemble(t: &BlockTable, pieces: &[Piece], known: &Known, len: u64) -> Option<Bytes> {
    let bl = t.block_len;
    if let [p] = pieces {
        if p.first + 1 == p.last {
            let block = known.get(p.shard)?.get(&p.first)?;
            let at = p.first * bl;
            return block
                .get(p.lo - at..p.hi - at)
                .map(|_| block.slice(p.lo - at..p.hi - at));
        }
    }
    let mut out = Vec::with_capacity(usize::try_from(len).ok()?);
    for p in pieces {
        for j in p.first..p.last {
            let block = known.get(p.shard)?.get(&j)?;
            let at = j * bl;
            let from = p.lo.max(at) - at;
            let to = p.hi.min(at + block.len()) - at;
            out.extend_from_slice(block.get(from..to)?);
        }
    }
    Some(Bytes::from(out))
}
