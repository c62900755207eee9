//! Format version 2: block checksums of every shard in each shard's header
//! (layout in the parent module's docs).

use bytes::Bytes;

use super::{bad, payload_len, Shard, ShardHeader, HEADER_LEN, SHARD_SUM_AT};
use crate::Result;

/// The block shift Cairn writes: 64 KiB blocks, small enough that a range
/// read fetches little beyond what was asked, large enough that the table
/// stays a fraction of a percent of the payload.
pub const BLOCK_SHIFT: u8 = 16;
/// The smallest block shift a reader accepts (4 KiB blocks).
pub const MIN_BLOCK_SHIFT: u8 = 12;
/// The largest block shift a reader accepts (16 MiB blocks).
pub const MAX_BLOCK_SHIFT: u8 = 24;

const SUM: usize = 32;

/// BLAKE3 of one block.
fn block_sum(block: &[u8]) -> [u8; SUM] {
    *blake3::hash(block).as_bytes()
}

/// The header checksum: the prefix (bytes 0..52) and the table.
fn header_sum(prefix: &[u8], table: &[u8]) -> [u8; SUM] {
    let mut h = blake3::Hasher::new();
    h.update(&prefix[..SHARD_SUM_AT]);
    h.update(table);
    *h.finalize().as_bytes()
}

/// Fills in the headers and block tables of `total` shards laid out in `buf`
/// every `stride` bytes, whose payloads are already in place. `template`
/// gives every field but the index and checksum; its table length must be
/// `stride - HEADER_LEN - P` (the caller sized `buf` from it).
pub(crate) fn write_v2(buf: &mut [u8], stride: usize, template: ShardHeader) {
    let b = template.block_len();
    let Some(off) = template.payload_offset() else {
        return;
    };
    let sums = |shards: &[u8]| {
        let mut part = Vec::new();
        for shard in shards.chunks(stride) {
            for block in shard[off..].chunks(b) {
                part.extend_from_slice(&block_sum(block));
            }
        }
        part
    };
    // Half the shards' blocks hashed on another thread for large objects
    // (the table is the same bytes, in shard order).
    let shards = buf.len() / stride.max(1);
    let table = if buf.len() >= crate::codec::PARALLEL_MIN && shards >= 2 {
        let (first, second) = buf.split_at(shards / 2 * stride);
        std::thread::scope(|scope| {
            let tail = scope.spawn(|| sums(second));
            let mut table = sums(first);
            table.extend(tail.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            table
        })
    } else {
        sums(buf)
    };
    for (i, shard) in buf.chunks_mut(stride).enumerate() {
        let mut header = template;
        // k + m <= 255 (checked by the codec), so the index fits.
        header.index = i as u8;
        header.write_prefix(shard);
        shard[HEADER_LEN..off].copy_from_slice(&table);
        let sum = header_sum(shard, &table);
        shard[SHARD_SUM_AT..HEADER_LEN].copy_from_slice(&sum);
    }
}

/// Verifies a whole version-2 shard whose header parsed and whose length
/// matched: the header checksum, then each of its own blocks.
pub(super) fn parse_shard(header: ShardHeader, bytes: Bytes) -> Result<Shard> {
    let table = BlockTable::parse(&bytes)?;
    let index = usize::from(header.index);
    let payload = bytes.slice(table.payload_offset..);
    for (j, block) in payload.chunks(table.block_len).enumerate() {
        if !table.verify(index, j, block) {
            return Err(bad(Some(index), "block checksum mismatch"));
        }
    }
    Ok(Shard { header, payload })
}

/// The verified header and block table of a version-2 shard: enough to
/// verify any block of any shard of the object.
#[derive(Debug, Clone)]
pub(crate) struct BlockTable {
    /// The header it came with.
    pub(crate) header: ShardHeader,
    /// `B`.
    pub(crate) block_len: usize,
    /// Blocks per shard.
    pub(crate) blocks: usize,
    /// `P`.
    pub(crate) payload_len: usize,
    /// Where payloads start in every version-2 shard of the object.
    pub(crate) payload_offset: usize,
    table: Bytes,
}

impl BlockTable {
    /// Parses the header and table at the start of `bytes` (a whole shard
    /// or just its first `payload_offset` bytes) and checks the header
    /// checksum. Version-1 headers and short reads are errors.
    pub(crate) fn parse(bytes: &[u8]) -> Result<BlockTable> {
        let header = ShardHeader::parse(bytes)?;
        let index = Some(usize::from(header.index));
        if header.version != super::FORMAT_V2 {
            return Err(bad(index, "not a version 2 shard"));
        }
        let (Some(off), Some(blocks), Some(p)) = (
            header.payload_offset(),
            header.blocks(),
            payload_len(header.object_len, usize::from(header.k)),
        ) else {
            return Err(bad(index, "shard size overflows"));
        };
        let Some(table) = bytes.get(HEADER_LEN..off) else {
            return Err(bad(index, "shorter than its block table"));
        };
        if header_sum(bytes, table) != header.shard_checksum {
            return Err(bad(index, "shard header checksum mismatch"));
        }
        Ok(BlockTable {
            header,
            block_len: header.block_len(),
            blocks,
            payload_len: p,
            payload_offset: off,
            table: Bytes::copy_from_slice(table),
        })
    }

    /// The length of block `block` (the last one may be short).
    pub(crate) fn len_of(&self, block: usize) -> usize {
        let start = block.saturating_mul(self.block_len);
        self.payload_len.saturating_sub(start).min(self.block_len)
    }

    /// Whether `data` is block `block` of shard `shard`.
    pub(crate) fn verify(&self, shard: usize, block: usize, data: &[u8]) -> bool {
        if block >= self.blocks {
            return false;
        }
        let at = shard
            .checked_mul(self.blocks)
            .and_then(|n| n.checked_add(block))
            .and_then(|n| n.checked_mul(SUM));
        match at.and_then(|at| self.table.get(at..at.checked_add(SUM)?)) {
            Some(want) => data.len() == self.len_of(block) && block_sum(data) == want,
            None => false,
        }
    }
}
