//! The heal record: a small object saying "shards of this object are
//! missing", stored whole (not striped) on every child that took it, under
//! [`RESERVED_PREFIX`]`heal/<BLAKE3 hex of the object key>`.
//!
//! # Layout (heal record version 1) — DO NOT CHANGE
//!
//! Records written by every Cairn version must stay readable; a new layout
//! gets a new version byte and a parser beside this one. The golden fixture
//! in the tests below pins these bytes.
//!
//! ```text
//! offset  size  field
//!      0     4  magic: ASCII "CRNH" (0x43 0x52 0x4E 0x48)
//!      4     1  record version: 1
//!      5     1  n: number of missing shard indexes, 1..=255
//!      6     2  L: length of the object key in bytes, u16 little-endian, 1..=1024
//!      8     L  object key, UTF-8 (a valid backend key)
//!    8+L     n  missing shard indexes, one byte each, strictly ascending
//!  8+L+n    32  BLAKE3 of bytes 0..8+L+n
//! ```
//!
//! The checksum catches a damaged record; a record whose name is not the
//! hash of the key inside it is refused too, so a record cannot send heal
//! to another object. Nothing in a record can make the reader allocate
//! more than the record itself.

use cairn_backends::MAX_KEY_LEN;

use crate::backend::{check_key, RESERVED_PREFIX};
use crate::{Error, Result};

/// The magic every heal record starts with.
const MAGIC: [u8; 4] = *b"CRNH";
/// The record version this crate writes and reads.
const VERSION: u8 = 1;
/// The largest record: header, longest key, 255 indexes, checksum.
pub(crate) const MAX_RECORD_LEN: usize = 8 + MAX_KEY_LEN + 255 + 32;

/// Where heal records live on every child.
pub(crate) fn heal_prefix() -> String {
    format!("{RESERVED_PREFIX}heal/")
}

/// The key of `object`'s heal record.
pub(crate) fn record_key(object: &str) -> String {
    format!(
        "{}{}",
        heal_prefix(),
        blake3::hash(object.as_bytes()).to_hex()
    )
}

fn bad(record: &str, reason: &'static str) -> Error {
    Error::BadShard {
        key: record.to_owned(),
        index: None,
        reason,
    }
}

/// Encodes the record for `object` with shards `missing` (sorted,
/// deduplicated here). `None` if there is nothing to record.
pub(crate) fn encode(object: &str, missing: &[usize]) -> Option<Vec<u8>> {
    let mut idx: Vec<u8> = missing
        .iter()
        .filter_map(|&i| u8::try_from(i).ok())
        .collect();
    idx.sort_unstable();
    idx.dedup();
    let n = u8::try_from(idx.len()).ok().filter(|&n| n > 0)?;
    let len = u16::try_from(object.len()).ok()?;
    let mut out = Vec::with_capacity(8 + object.len() + idx.len() + 32);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(n);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(object.as_bytes());
    out.extend_from_slice(&idx);
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    Some(out)
}

/// Decodes the record stored under `name`: the object key and its missing
/// shard indexes. Errors are [`Error::BadShard`] naming the record.
pub(crate) fn decode(name: &str, bytes: &[u8]) -> Result<(String, Vec<usize>)> {
    if bytes.len() < 8 + 1 + 1 + 32 || bytes.len() > MAX_RECORD_LEN {
        return Err(bad(name, "heal record has an impossible length"));
    }
    if bytes[..4] != MAGIC {
        return Err(bad(name, "not a heal record (bad magic)"));
    }
    if bytes[4] != VERSION {
        return Err(bad(name, "unsupported heal record version"));
    }
    let n = usize::from(bytes[5]);
    let len = usize::from(u16::from_le_bytes([bytes[6], bytes[7]]));
    if n == 0 || len == 0 || bytes.len() != 8 + len + n + 32 {
        return Err(bad(name, "heal record length disagrees with its header"));
    }
    let body = 8 + len + n;
    if blake3::hash(&bytes[..body]).as_bytes()[..] != bytes[body..] {
        return Err(bad(name, "heal record checksum mismatch"));
    }
    let key = std::str::from_utf8(&bytes[8..8 + len])
        .map_err(|_| bad(name, "heal record key is not UTF-8"))?;
    if check_key(key).is_err() || record_key(key) != name {
        return Err(bad(name, "heal record names another object"));
    }
    let idx = &bytes[8 + len..body];
    if idx.windows(2).any(|w| w[0] >= w[1]) {
        return Err(bad(name, "heal record indexes are not strictly ascending"));
    }
    Ok((
        key.to_owned(),
        idx.iter().map(|&i| usize::from(i)).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Version 1 record of `data/ab/cd` missing shards 1 and 5.
    const GOLDEN: &str = "43524e4801020a00646174612f61622f63640105";

    #[test]
    fn golden_record_is_pinned_and_round_trips() {
        let bytes = encode("data/ab/cd", &[5, 1, 5]).unwrap();
        let (head, sum) = bytes.split_at(bytes.len() - 32);
        assert_eq!(hex(head), GOLDEN);
        assert_eq!(sum, blake3::hash(head).as_bytes());
        let name = record_key("data/ab/cd");
        assert!(name.starts_with(".erasure/heal/") && name.len() == 14 + 64);
        assert_eq!(
            decode(&name, &bytes).unwrap(),
            ("data/ab/cd".to_owned(), vec![1, 5])
        );
        assert!(encode("k", &[]).is_none());
    }

    #[test]
    fn every_flipped_byte_and_truncation_is_refused() {
        let name = record_key("index/x");
        let bytes = encode("index/x", &[0, 3]).unwrap();
        for at in 0..bytes.len() {
            let mut b = bytes.clone();
            b[at] ^= 0x40;
            assert!(decode(&name, &b).is_err(), "flip at {at}");
        }
        for len in 0..bytes.len() {
            assert!(decode(&name, &bytes[..len]).is_err(), "cut at {len}");
        }
        // A valid record under another object's name.
        assert!(decode(&record_key("index/y"), &bytes).is_err());
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
