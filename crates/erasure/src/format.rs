//! The shard format: a fixed 84-byte header followed by the payload.
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

use bytes::Bytes;

use crate::{Error, Result};

/// Size of a shard header in bytes.
pub const HEADER_LEN: usize = 84;
/// The magic every shard starts with.
pub const MAGIC: [u8; 4] = *b"CRNS";
/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Codec id of Reed-Solomon over GF(2^8) (reed-solomon-erasure 6).
pub const CODEC_RS_GF8: u8 = 1;
/// Where the shard checksum starts: it covers everything before it.
const SHARD_SUM_AT: usize = 52;

/// The parsed header of one shard.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardHeader {
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
    /// BLAKE3 of header bytes 0..52 and the payload.
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

fn bad(index: Option<usize>, reason: &'static str) -> Error {
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
        if h[4] != FORMAT_VERSION {
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
        if h[9..12] != [0, 0, 0] {
            return Err(bad(index, "reserved header bytes are not zero"));
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&h[12..20]);
        let mut object_checksum = [0u8; 32];
        object_checksum.copy_from_slice(&h[20..52]);
        let mut shard_checksum = [0u8; 32];
        shard_checksum.copy_from_slice(&h[52..84]);
        Ok(ShardHeader {
            codec: h[5],
            k,
            m,
            index: h[8],
            object_len: u64::from_le_bytes(len),
            object_checksum,
            shard_checksum,
        })
    }

    /// The shard's stored size: header plus payload, or `None` if it would not
    /// fit in memory addresses.
    pub fn shard_len(&self) -> Option<usize> {
        payload_len(self.object_len, usize::from(self.k))?.checked_add(HEADER_LEN)
    }

    /// Writes bytes 0..52 (everything the shard checksum covers) into `out`.
    fn write_prefix(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&MAGIC);
        out[4] = FORMAT_VERSION;
        out[5] = self.codec;
        out[6] = self.k;
        out[7] = self.m;
        out[8] = self.index;
        out[9..12].fill(0);
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
