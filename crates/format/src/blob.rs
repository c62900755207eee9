//! Blobs: one chunk (or one tree), compressed, then sealed.
//!
//! A stored blob is `seal(key, compress(plaintext), aad)` where the key is
//! the data key for data blobs and the metadata key for tree blobs, and
//!
//! ```text
//! aad = "cairn/blob/v1" || kind (1 byte: 0 data, 1 tree) || chunk id (32 bytes)
//! ```
//!
//! Binding the kind and the id into the AEAD means a blob cannot be swapped for
//! another one, even another of the same repository, without the tag failing.
//! After opening, the plaintext is hashed again and compared with the id
//! (a rekeyed tenant's older blobs carry ids keyed by an older generation:
//! each of its chunk-id keys is tried, see `cairn_crypto::tenant_key`).

use std::cell::RefCell;

use cairn_crypto::{ChunkId, KeySet, SealingKey};

use crate::{Error, Result};

/// What a blob holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BlobKind {
    /// File contents: one chunk.
    Data = 0,
    /// A directory listing (a [`Tree`](crate::Tree)).
    Tree = 1,
}

impl BlobKind {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(BlobKind::Data),
            1 => Some(BlobKind::Tree),
            _ => None,
        }
    }
}

/// How a blob's plaintext was compressed before sealing. Recorded per blob, so
/// a repository can change its setting at any time.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Stored as is (also used whenever compression would not shrink a blob).
    None,
    /// Zstandard at the given level (1..=22; 3 is the default).
    Zstd(i32),
    /// LZ4 (block format, faster, weaker).
    Lz4,
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Zstd(3)
    }
}

impl Compression {
    /// The per-blob code stored in pack headers and indexes.
    pub fn code(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Zstd(_) => 1,
            Compression::Lz4 => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Compression::None),
            1 => Some(Compression::Zstd(3)),
            2 => Some(Compression::Lz4),
            _ => None,
        }
    }

    /// Parses `none`, `lz4`, `zstd` or `zstd:LEVEL`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::InvalidOption {
            what: format!("compression {s:?}: expected none, lz4, zstd or zstd:LEVEL (1..=22)"),
        };
        match s {
            "none" => Ok(Compression::None),
            "lz4" => Ok(Compression::Lz4),
            "zstd" => Ok(Compression::Zstd(3)),
            _ => {
                let level: i32 = s
                    .strip_prefix("zstd:")
                    .and_then(|l| l.parse().ok())
                    .ok_or_else(bad)?;
                if (1..=22).contains(&level) {
                    Ok(Compression::Zstd(level))
                } else {
                    Err(bad())
                }
            }
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::Zstd(l) => write!(f, "zstd:{l}"),
            Compression::Lz4 => f.write_str("lz4"),
        }
    }
}

/// Largest plaintext a blob may claim: bounds the allocation a hostile
/// index entry could ask for when decompressing.
pub const MAX_BLOB_SIZE: u32 = 1 << 30;

thread_local! {
    // Reusing a compression context per thread saves its allocation per chunk.
    static ZSTD: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
    // And a decompression context: `zstd::bulk::decompress` makes a new one
    // per blob, for blobs that are mostly a few KiB (trees, small files):
    // `ZSTD_createDCtx` was 7% of `perf` samples restoring 20 000 small
    // files (BENCHMARKS.md, "Fixed costs").
    static UNZSTD: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Decompresses a zstd `body` of at most `capacity` bytes with this
/// thread's context. A context that failed is dropped rather than reused:
/// nothing a hostile blob left in it reaches the next one.
fn unzstd(body: &[u8], capacity: usize) -> std::io::Result<Vec<u8>> {
    UNZSTD.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return zstd::bulk::decompress(body, capacity);
        };
        let mut ctx = match slot.take() {
            Some(ctx) => ctx,
            None => zstd::bulk::Decompressor::new()?,
        };
        let out = ctx.decompress(body, capacity)?;
        *slot = Some(ctx);
        Ok(out)
    })
}

fn compress(data: &[u8], c: Compression) -> Option<Vec<u8>> {
    let out = match c {
        Compression::None => return None,
        Compression::Lz4 => lz4_flex::block::compress(data),
        Compression::Zstd(level) => ZSTD.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.as_ref().map(|(l, _)| *l) != Some(level) {
                *slot = zstd::bulk::Compressor::new(level).ok().map(|c| (level, c));
            }
            slot.as_mut()?.1.compress(data).ok()
        })?,
    };
    // Incompressible data (already compressed media, encrypted files) is
    // stored raw: it saves the reader a decompression and costs nothing.
    (out.len() < data.len()).then_some(out)
}

fn aad(kind: BlobKind, id: &ChunkId) -> [u8; 46] {
    let mut a = [0u8; 46];
    a[..13].copy_from_slice(b"cairn/blob/v1");
    a[13] = kind as u8;
    a[14..].copy_from_slice(id.as_bytes());
    a
}

fn key_for(keys: &KeySet, kind: BlobKind) -> &SealingKey {
    match kind {
        BlobKind::Data => keys.data_key(),
        BlobKind::Tree => keys.metadata_key(),
    }
}

/// A blob ready to be appended to a pack.
#[derive(Debug)]
pub struct SealedBlob {
    pub kind: BlobKind,
    pub id: ChunkId,
    pub compression: Compression,
    pub raw_length: u32,
    pub bytes: Vec<u8>,
}

/// Compresses and seals `plain`, whose id is `id`.
pub fn seal_blob(
    keys: &KeySet,
    kind: BlobKind,
    id: ChunkId,
    plain: &[u8],
    compression: Compression,
) -> Result<SealedBlob> {
    let raw_length = u32::try_from(plain.len())
        .ok()
        .filter(|&l| l <= MAX_BLOB_SIZE)
        .ok_or_else(|| Error::InvalidOption {
            what: format!("blob {id} of {} bytes exceeds the 1 GiB limit", plain.len()),
        })?;
    let compressed = compress(plain, compression);
    let (body, used) = match &compressed {
        Some(c) => (c.as_slice(), compression),
        None => (plain, Compression::None),
    };
    let bytes = key_for(keys, kind)
        .seal(body, &aad(kind, &id))
        .map_err(|source| Error::Crypto {
            object: format!("blob {id}"),
            source,
        })?;
    Ok(SealedBlob {
        kind,
        id,
        compression: used,
        raw_length,
        bytes,
    })
}

/// Opens a blob read from `object`, decompresses it and checks it hashes to `id`.
pub fn open_blob(
    keys: &KeySet,
    object: &str,
    kind: BlobKind,
    id: &ChunkId,
    compression: Compression,
    raw_length: u32,
    sealed: &[u8],
) -> Result<Vec<u8>> {
    let body = key_for(keys, kind)
        .open(sealed, &aad(kind, id))
        .map_err(|_| Error::Authentication {
            object: format!("{object} (blob {id})"),
        })?;
    if raw_length > MAX_BLOB_SIZE {
        return Err(Error::corrupt(
            object,
            format!("blob {id} claims {raw_length} bytes"),
        ));
    }
    let plain = match compression {
        Compression::None => body,
        Compression::Zstd(_) => unzstd(&body, raw_length as usize)
            .map_err(|e| Error::corrupt(object, format!("blob {id}: zstd: {e}")))?,
        Compression::Lz4 => lz4_flex::block::decompress(&body, raw_length as usize)
            .map_err(|e| Error::corrupt(object, format!("blob {id}: lz4: {e}")))?,
    };
    // A tenant rekeyed since this blob was written keyed its id with an
    // older generation's chunk-id key.
    if plain.len() != raw_length as usize || !keys.verifies_chunk_id(&plain, id) {
        return Err(Error::ChunkIdMismatch {
            object: object.to_owned(),
            id: *id,
        });
    }
    Ok(plain)
}
