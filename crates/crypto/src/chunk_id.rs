//! Keyed BLAKE3 chunk ids.

use std::fmt;
use std::str::FromStr;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, Result};

/// The id of a chunk: keyed BLAKE3 of its plaintext under the repository's
/// [`ChunkIdKey`]. Without the key, an id reveals nothing about the plaintext (no
/// "does this repository contain file X" test by hashing X).
///
/// `Display`, `Debug` and [`ChunkId::to_hex`] print 64 lowercase hex digits;
/// `FromStr` and [`ChunkId::from_hex`] parse them (either case).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChunkId([u8; 32]);

impl ChunkId {
    /// Length of an id in bytes.
    pub const LEN: usize = 32;

    /// Wraps raw id bytes (e.g. read from an index).
    /// The argument's copy is zeroized.
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let k = Self::from_key(&bytes);
        bytes.zeroize();
        k
    }

    /// Copied from `bytes` straight into the zeroized-on-drop value.
    pub fn from_key(bytes: &[u8; 32]) -> Self {
        let mut k = Self([0u8; 32]);
        k.0.copy_from_slice(bytes);
        k
    }

    /// The raw id bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits (either case).
    ///
    /// # Errors
    /// [`Error::InvalidHex`] if the length is not 64 or a character is not a hex digit.
    pub fn from_hex(s: &str) -> Result<Self> {
        if s.len() != 2 * Self::LEN {
            return Err(Error::InvalidHex {
                len: s.len(),
                reason: "a chunk id is 64 hex digits",
            });
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| Error::InvalidHex {
            len: s.len(),
            reason: "not a hex digit",
        })?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 64];
        // Cannot fail: the buffer is exactly twice the input length.
        if hex::encode_to_slice(self.0, &mut buf).is_err() {
            return Err(fmt::Error);
        }
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChunkId({self})")
    }
}

impl FromStr for ChunkId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_hex(s)
    }
}

/// The key for chunk ids: [`ChunkIdKey::id`] is `blake3::keyed_hash(key, data)`.
///
/// Zeroized on drop; `Debug` prints `ChunkIdKey(..)` only.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ChunkIdKey([u8; 32]);

impl ChunkIdKey {
    /// A chunk-id key from raw bytes. Repositories get theirs from
    /// [`KeySet::chunk_id_key`](crate::KeySet::chunk_id_key); this exists for test
    /// vectors and for keys derived elsewhere.
    /// The argument's copy is zeroized.
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let k = Self::from_key(&bytes);
        bytes.zeroize();
        k
    }

    /// Copied from `bytes` straight into the zeroized-on-drop value.
    pub fn from_key(bytes: &[u8; 32]) -> Self {
        let mut k = Self([0u8; 32]);
        k.0.copy_from_slice(bytes);
        k
    }

    /// The id of `data`. Single-threaded on purpose: callers hash many chunks in
    /// parallel, and a chunk (KiB to a few MiB) is too small for BLAKE3's own
    /// multithreading to pay off.
    pub fn id(&self, data: &[u8]) -> ChunkId {
        ChunkId(*blake3::keyed_hash(&self.0, data).as_bytes())
    }
}

impl fmt::Debug for ChunkIdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChunkIdKey(..)")
    }
}
