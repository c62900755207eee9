//! The shard format: a fixed 84-byte header, (version 2) a table of block
//! checksums, then the payload.
//!
//! Version 2 is written; both are read. Shards of one object may mix
//! versions (a v1 object repaired by a newer scrub): the payload bytes are
//! the same in both, so whole-object decoding does not care. Range reads
//! (see [`ErasureBackend`](crate::ErasureBackend)) need version 2.
//!
//! # Layout (format version 1) — DO NOT CHANGE
//!
//! Shards written by every Cairn version must stay readable. Change nothing
//! here; a new layout gets a new version byte and a new parser beside this one.
//! The golden fixtures in `tests/golden.rs` pin these bytes.
//!
//! ```text
//! offset  size  field
//!      0     4  magic: ASCII "CRNS" (0x43 0x52 0x4E 0x53)
//!      4     1  format version: 1
//!      5     1  codec id: 1 = Reed-Solomon over GF(2^8), systematic matrix of
//!               reed-solomon-erasure 6 (Vandermonde times the inverse of its
//!               top k rows, polynomial 0x11D), object split into k equal
//!               data shards, the last zero-padded
//!      6     1  k: data shards, 1..=254
//!      7     1  m: parity shards, 1..=254, k + m <= 255
//!      8     1  shard index: 0..k+m (indices < k are data, the rest parity)
//!      9     3  reserved: zero
//!     12     8  original object length, u64 little-endian
//!     20    32  object checksum: BLAKE3 of the whole original object
//!     52    32  shard checksum: BLAKE3 of bytes 0..52 of this header
//!               followed by the payload
//!     84     P  payload: P = max(1, ceil(length / k)) bytes
//! ```
//!
//! The shard checksum covers the header fields as well as the payload, so a
//! flipped index or length is caught on this shard alone. The object checksum
//! ties shards of one version of an object together: shards left over from an
//! older object under the same key carry a different one, and the decoded
//! object is checked against it. Every field read from a stored shard is
//! validated before use; nothing in a header can make the reader allocate more
//! than the shard it was given.
//!
//! # Layout (format version 2) — DO NOT CHANGE
//!
//! Version 1 can only be verified whole, so reading 100 KiB of a 16 MiB
//! object meant fetching and decoding all of it. Version 2 checksums the
//! payload in blocks, and every shard carries the block checksums of *all*
//! `k + m` shards: one header read from any child tells how to verify any
//! block of any shard, so a range read fetches just the covering blocks of
//! the data shards (plus one header) and verifies each before use. The RS
//! code works column-wise (byte `j` of every shard is one codeword), so a bad
//! or missing block is rebuilt from the same block range of `k` other shards.
//!
//! ```text
//! offset  size  field
//!      0     4  magic: ASCII "CRNS"
//!      4     1  format version: 2
//!      5     1  codec id: 1 (as in version 1)
//!      6     1  k
//!      7     1  m
//!      8     1  shard index
//!      9     1  block shift s: blocks are B = 2^s bytes, 12 <= s <= 24
//!               (Cairn writes 16: 64 KiB)
//!     10     2  reserved: zero
//!     12     8  original object length, u64 little-endian
//!     20    32  object checksum: BLAKE3 of the whole original object
//!     52    32  header checksum: BLAKE3 of bytes 0..52 followed by the
//!               block table (bytes 84..84+T)
//!     84     T  block table: for shard i in 0..k+m, for block j in 0..n,
//!               the 32-byte BLAKE3 of bytes j*B..min((j+1)*B, P) of shard
//!               i's payload; n = ceil(P / B), T = (k + m) * n * 32
//!   84+T     P  payload: P = max(1, ceil(length / k)) bytes, as in version 1
//! ```
//!
//! A shard is whole when its header checksum matches and each of its own
//! blocks matches its entry in the table. The table costs `32 (k + m) / B`
//! of the payload: 0.3% for 4+2 with 64 KiB blocks.

use bytes::Bytes;

use crate::{Error, Result};

mod v2;
pub(crate) use v2::{write_v2, BlockTable};
pub use v2::{BLOCK_SHIFT, MAX_BLOCK_SHIFT, MIN_BLOCK_SHIFT};

/// Size of the fixed part of a shard header in bytes (in version 2 the block
/// table follows it).
pub const HEADER_LEN: usize = 84;
/// The magic every shard starts with.
pub const MAGIC: [u8; 4] = *b"CRNS";
/// Format version 1: one checksum over the whole shard.
pub const FORMAT_V1: u8 = 1;
/// Format version 2: per-block checksums of every shard in each header.
pub const FORMAT_V2: u8 = 2;
/// The format version this crate writes (it reads every version).
pub const FORMAT_VERSION: u8 = FORMAT_V2;

/// The shard formats [`Codec::encode_format`](crate::Codec::encode_format)
/// can write.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShardFormat {
    /// Version 1 (one checksum per shard): kept for tests and fixtures.
    V1,
    /// Version 2 with 64 KiB blocks (the default).
    #[default]
    V2,
}
/// Codec id of Reed-Solomon over GF(2^8) (reed-solomon-erasure 6).
pub const CODEC_RS_GF8: u8 = 1;
/// Where the shard checksum starts: it covers everything before it.
pub(crate) const SHARD_SUM_AT: usize = 52;

/// The parsed header of one shard.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardHeader {
    /// Format version ([`FORMAT_V1`] or [`FORMAT_V2`]).
    pub version: u8,
    /// Version 2: blocks are `2^block_shift` bytes; 0 in version 1.
    pub block_shift: u8,
    /// Codec id ([`CODEC_RS_GF8`]).
    pub codec: u8,
    /// Data shards of the code.
    pub k: u8,
    /// Parity shards of the code.
    pub m: u8,
    /// This shard's index, `0..k + m`.
    pub index: u8,
    /// Length of the original object in bytes.
    pub object_len: u64,
    /// BLAKE3 of the whole original object.
    pub object_checksum: [u8; 32],
    /// Version 1: BLAKE3 of header bytes 0..52 and the payload. Version 2:
    /// BLAKE3 of header bytes 0..52 and the block table.
    pub shard_checksum: [u8; 32],
}

/// A shard whose header parsed and whose checksum matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// Its header.
    pub header: ShardHeader,
    /// Its payload (a slice of the stored bytes, not a copy).
    pub payload: Bytes,
}

pub(crate) fn bad(index: Option<usize>, reason: &'static str) -> Error {
    Error::BadShard {
        key: String::new(),
        index,
        reason,
    }
}

/// Payload bytes of each shard for an object of `len` bytes split `k` ways,
/// or `None` if that does not fit in memory addresses.
pub(crate) fn payload_len(len: u64, k: usize) -> Option<usize> {
    let k = u64::try_from(k).ok()?;
    let per = len.div_ceil(k).max(1);
    usize::try_from(per).ok()
}

impl ShardHeader {
    /// Parses and validates the header at the start of `bytes` (which may be
    /// just the header, as from a ranged read). The shard checksum is not
    /// checked here: that needs the payload (see [`Shard::parse`]).
    pub fn parse(bytes: &[u8]) -> Result<ShardHeader> {
        let h: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad(None, "shorter than a shard header"))?;
        if h[0..4] != MAGIC {
            return Err(bad(None, "not a Cairn shard (bad magic)"));
        }
        let version = h[4];
        if version != FORMAT_V1 && version != FORMAT_V2 {
            return Err(bad(None, "unsupported shard format version"));
        }
        let index = Some(usize::from(h[8]));
        if h[5] != CODEC_RS_GF8 {
            return Err(bad(index, "unknown codec id"));
        }
        let (k, m) = (h[6], h[7]);
        if k == 0 || m == 0 || usize::from(k) + usize::from(m) > 255 {
            return Err(bad(index, "invalid k or m"));
        }
        if h[8] >= k + m {
            return Err(bad(index, "shard index out of range"));
        }
        let block_shift = if version == FORMAT_V2 { h[9] } else { 0 };
        let reserved = if version == FORMAT_V2 {
            &h[10..12]
        } else {
            &h[9..12]
        };
        if reserved.iter().any(|&b| b != 0) {
            return Err(bad(index, "reserved header bytes are not zero"));
        }
        if version == FORMAT_V2 && !(MIN_BLOCK_SHIFT..=MAX_BLOCK_SHIFT).contains(&block_shift) {
            return Err(bad(index, "block size out of range"));
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&h[12..20]);
        let mut object_checksum = [0u8; 32];
        object_checksum.copy_from_slice(&h[20..52]);
        let mut shard_checksum = [0u8; 32];
        shard_checksum.copy_from_slice(&h[52..84]);
        Ok(ShardHeader {
            version,
            block_shift,
            codec: h[5],
            k,
            m,
            index: h[8],
            object_len: u64::from_le_bytes(len),
            object_checksum,
            shard_checksum,
        })
    }

    /// The shard's stored size: header, block table and payload, or `None`
    /// if it would not fit in memory addresses.
    pub fn shard_len(&self) -> Option<usize> {
        self.payload_offset()?
            .checked_add(payload_len(self.object_len, usize::from(self.k))?)
    }

    /// Where the payload starts: after the header and (version 2) the block
    /// table; `None` if that would not fit in memory addresses.
    pub fn payload_offset(&self) -> Option<usize> {
        HEADER_LEN.checked_add(self.table_len()?)
    }

    /// Bytes of the block table (0 in version 1).
    pub fn table_len(&self) -> Option<usize> {
        if self.version == FORMAT_V1 {
            return Some(0);
        }
        let total = usize::from(self.k) + usize::from(self.m);
        self.blocks()?.checked_mul(total)?.checked_mul(32)
    }

    /// Version 2: blocks per shard, `ceil(P / B)`.
    pub(crate) fn blocks(&self) -> Option<usize> {
        let p = payload_len(self.object_len, usize::from(self.k))?;
        Some(p.div_ceil(self.block_len()))
    }

    /// Version 2: the block size `B` (1 in version 1, where it is unused).
    pub(crate) fn block_len(&self) -> usize {
        1usize << self.block_shift
    }

    /// Writes bytes 0..52 (everything the shard checksum covers) into `out`.
    pub(crate) fn write_prefix(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&MAGIC);
        out[4] = self.version;
        out[5] = self.codec;
        out[6] = self.k;
        out[7] = self.m;
        out[8] = self.index;
        out[9] = self.block_shift;
        out[10..12].fill(0);
        out[12..20].copy_from_slice(&self.object_len.to_le_bytes());
        out[20..52].copy_from_slice(&self.object_checksum);
    }
}

/// The shard checksum of a header prefix (bytes 0..52) and a payload.
fn shard_checksum(prefix: &[u8], payload: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&prefix[..SHARD_SUM_AT]);
    h.update(payload);
    *h.finalize().as_bytes()
}

/// Fills the header area `out` (exactly [`HEADER_LEN`] bytes) of a shard whose
/// payload is `payload`, computing its checksum.
pub(crate) fn write_header(
    out: &mut [u8],
    payload: &[u8],
    k: u8,
    m: u8,
    index: u8,
    object_len: u64,
    object_checksum: &[u8; 32],
) {
    let mut header = ShardHeader {
        version: FORMAT_V1,
        block_shift: 0,
        codec: CODEC_RS_GF8,
        k,
        m,
        index,
        object_len,
        object_checksum: *object_checksum,
        shard_checksum: [0; 32],
    };
    header.write_prefix(out);
    header.shard_checksum = shard_checksum(out, payload);
    out[SHARD_SUM_AT..HEADER_LEN].copy_from_slice(&header.shard_checksum);
}

impl Shard {
    /// Parses a whole stored shard: validates its header, checks that its
    /// length is the one the header implies and that its checksum matches.
    /// Errors are [`Error::BadShard`]; untrusted bytes never cause a panic.
    pub fn parse(bytes: Bytes) -> Result<Shard> {
        let header = ShardHeader::parse(&bytes)?;
        let index = Some(usize::from(header.index));
        if header.shard_len() != Some(bytes.len()) {
            return Err(bad(index, "shard length disagrees with its header"));
        }
        if header.version == FORMAT_V2 {
            return v2::parse_shard(header, bytes);
        }
        let payload = bytes.slice(HEADER_LEN..);
        if shard_checksum(&bytes[..HEADER_LEN], &payload) != header.shard_checksum {
            return Err(bad(index, "shard checksum mismatch"));
        }
        Ok(Shard { header, payload })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_len_rounds_up_and_is_never_zero() {
        assert_eq!(payload_len(0, 4), Some(1));
        assert_eq!(payload_len(1, 4), Some(1));
        assert_eq!(payload_len(4, 4), Some(1));
        assert_eq!(payload_len(5, 4), Some(2));
        let mut h = ShardHeader::parse(&valid_header()).unwrap();
        h.object_len = u64::MAX;
        h.k = 1;
        // A hostile length cannot overflow the size computation.
        assert_eq!(h.shard_len(), None);
    }

    fn valid_header() -> Vec<u8> {
        let mut buf = vec![0u8; HEADER_LEN + 1];
        let (head, body) = buf.split_at_mut(HEADER_LEN);
        write_header(head, body, 1, 1, 0, 1, &[0; 32]);
        buf
    }

    #[test]
    fn header_round_trips_and_tamper_is_caught() {
        let payload = b"payload!";
        let mut buf = vec![0u8; HEADER_LEN + payload.len()];
        let (head, body) = buf.split_at_mut(HEADER_LEN);
        body.copy_from_slice(payload);
        write_header(head, body, 3, 2, 4, 24, &[7; 32]);
        let shard = Shard::parse(Bytes::from(buf.clone())).unwrap();
        assert_eq!(shard.header.index, 4);
        assert_eq!(shard.header.object_len, 24);
        assert_eq!(&shard.payload[..], payload);
        for at in 0..buf.len() {
            let mut bad = buf.clone();
            bad[at] ^= 0x01;
            assert!(
                Shard::parse(Bytes::from(bad)).is_err(),
                "flip at {at} undetected"
            );
        }
    }
}
