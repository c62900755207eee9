//! Packs: many sealed blobs in one immutable object.
//!
//! # Format (version 1) — do not change; add a new version instead
//!
//! ```text
//! pack    := blob* header trailer
//! blob    := a sealed blob (see the `blob` module), at the offset its entry gives
//! header  := seal(metadata key, plain, aad = "cairn/pack-header/v1")
//! plain   := "CRNH" version:u8=1 count:u32 entry*count
//! entry   := kind:u8 compression:u8 id:[u8;32] offset:u32 length:u32 raw_length:u32   (46 bytes)
//! trailer := header_length:u32 "CRNP" version:u8=1                                    (9 bytes)
//! ```
//!
//! All integers are little-endian. A pack is named `data/<first 2 hex>/<hex>`
//! where `<hex>` is the BLAKE3 hash of the whole pack (its ciphertext), so a
//! reader can verify a downloaded pack against its name, and the name of
//! identical content is identical (re-uploads after a crash are harmless).
//! The header lets `check` and index rebuilding read a pack without the index.

use bytes::Bytes;
use cairn_crypto::{ChunkId, KeySet};

use crate::blob::{BlobKind, Compression, SealedBlob};
use crate::bytes_io::{Put, Reader};
use crate::{Error, Result};

const HEADER_MAGIC: &[u8; 4] = b"CRNH";
const TRAILER_MAGIC: &[u8; 4] = b"CRNP";
const VERSION: u8 = 1;
const HEADER_AAD: &[u8] = b"cairn/pack-header/v1";
/// Size of the fixed trailer at the end of every pack.
pub const TRAILER_LEN: usize = 9;
pub const ENTRY_LEN: usize = 46;
/// Packs never exceed this (offsets are 32-bit).
pub const MAX_PACK_SIZE: usize = 1 << 31;

/// The id of a pack: the BLAKE3 hash of its bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackId(pub [u8; 32]);

impl PackId {
    /// The id of a pack with these bytes.
    pub fn of(bytes: &[u8]) -> Self {
        PackId(*blake3::hash(bytes).as_bytes())
    }
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// The pack's backend key.
    pub fn key(&self) -> String {
        let h = self.to_hex();
        format!("data/{}/{h}", &h[..2])
    }
}

impl std::fmt::Debug for PackId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackId({})", &self.to_hex()[..16])
    }
}

/// As its hex id (the form reports have always shown).
impl serde::Serialize for PackId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::fmt::Display for PackId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Where a blob sits in its pack, and how to open it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackEntry {
    /// What the blob holds.
    pub kind: BlobKind,
    /// How its plaintext was compressed.
    pub compression: Compression,
    /// The blob's id.
    pub id: ChunkId,
    /// Byte offset of the sealed blob in the pack.
    pub offset: u32,
    /// Length of the sealed blob.
    pub length: u32,
    /// Length of the plaintext.
    pub raw_length: u32,
}

impl PackEntry {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.kind as u8);
        out.put_u8(self.compression.code());
        out.extend_from_slice(self.id.as_bytes());
        out.put_u32(self.offset);
        out.put_u32(self.length);
        out.put_u32(self.raw_length);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let kind = r.u8()?;
        let kind = BlobKind::from_u8(kind).ok_or_else(|| r.err(format!("blob kind {kind}")))?;
        let comp = r.u8()?;
        let compression =
            Compression::from_code(comp).ok_or_else(|| r.err(format!("compression {comp}")))?;
        Ok(PackEntry {
            kind,
            compression,
            id: r.id()?,
            offset: r.u32()?,
            length: r.u32()?,
            raw_length: r.u32()?,
        })
    }
}

/// A finished pack, ready to upload.
#[derive(Debug, Clone)]
pub struct FinishedPack {
    /// Its id (hash of `bytes`).
    pub id: PackId,
    /// The whole pack.
    pub bytes: Bytes,
    /// The blobs in it.
    pub entries: Vec<PackEntry>,
}

/// Collects sealed blobs into a pack.
#[derive(Debug, Default)]
pub struct PackBuilder {
    buf: Vec<u8>,
    entries: Vec<PackEntry>,
}

impl PackBuilder {
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn add(&mut self, blob: &SealedBlob) {
        self.entries.push(PackEntry {
            kind: blob.kind,
            compression: blob.compression,
            id: blob.id,
            // Callers flush at the target size, far below MAX_PACK_SIZE.
            offset: self.buf.len() as u32,
            length: blob.bytes.len() as u32,
            raw_length: blob.raw_length,
        });
        self.buf.extend_from_slice(&blob.bytes);
    }

    /// Seals the header, appends it and the trailer, and names the pack.
    pub fn finish(mut self, keys: &KeySet) -> Result<FinishedPack> {
        let mut plain = Vec::with_capacity(9 + self.entries.len() * ENTRY_LEN);
        plain.extend_from_slice(HEADER_MAGIC);
        plain.put_u8(VERSION);
        plain.put_u32(self.entries.len() as u32);
        for e in &self.entries {
            e.encode(&mut plain);
        }
        let header = keys
            .metadata_key()
            .seal(&plain, HEADER_AAD)
            .map_err(|source| Error::Crypto {
                object: "pack header".into(),
                source,
            })?;
        self.buf.extend_from_slice(&header);
        self.buf.put_u32(header.len() as u32);
        self.buf.extend_from_slice(TRAILER_MAGIC);
        self.buf.put_u8(VERSION);
        let id = PackId::of(&self.buf);
        Ok(FinishedPack {
            id,
            bytes: Bytes::from(self.buf),
            entries: self.entries,
        })
    }
}

/// Reads the trailer (last [`TRAILER_LEN`] bytes) of the pack `object` and
/// returns the header's length.
pub fn parse_trailer(object: &str, trailer: &[u8]) -> Result<u32> {
    let mut r = Reader::new(object, trailer);
    let len = r.u32()?;
    if r.take(4)? != TRAILER_MAGIC {
        return Err(r.err("bad pack trailer magic"));
    }
    let v = r.u8()?;
    if v != VERSION {
        return Err(Error::UnsupportedVersion {
            object: object.to_owned(),
            found: v,
        });
    }
    r.finish()?;
    Ok(len)
}

/// Opens and parses a sealed pack header read from `object`. `pack_len` is
/// the pack's size: every entry must lie before the header.
pub fn parse_header(
    keys: &KeySet,
    object: &str,
    sealed: &[u8],
    pack_len: u64,
) -> Result<Vec<PackEntry>> {
    let plain =
        keys.metadata_key()
            .open(sealed, HEADER_AAD)
            .map_err(|_| Error::Authentication {
                object: format!("{object} (header)"),
            })?;
    let mut r = Reader::new(object, &plain);
    r.header(HEADER_MAGIC, &[VERSION])?;
    let n = r.count(ENTRY_LEN)?;
    let data_end = pack_len.saturating_sub((sealed.len() + TRAILER_LEN) as u64);
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        let e = PackEntry::decode(&mut r)?;
        if u64::from(e.offset) + u64::from(e.length) > data_end {
            return Err(r.err(format!("blob {} lies outside the pack's data", e.id)));
        }
        entries.push(e);
    }
    r.finish()?;
    Ok(entries)
}

/// Parses the header of a whole pack held in memory (used by `check`).
pub fn read_pack_header(keys: &KeySet, object: &str, pack: &[u8]) -> Result<Vec<PackEntry>> {
    if pack.len() < TRAILER_LEN {
        return Err(Error::corrupt(object, "shorter than a pack trailer"));
    }
    let header_len = parse_trailer(object, &pack[pack.len() - TRAILER_LEN..])? as usize;
    let header_start = (pack.len() - TRAILER_LEN)
        .checked_sub(header_len)
        .ok_or_else(|| Error::corrupt(object, "header longer than the pack"))?;
    parse_header(
        keys,
        object,
        &pack[header_start..pack.len() - TRAILER_LEN],
        pack.len() as u64,
    )
}

// Lets `Repository::read_blobs` take runs of entries or of references.
impl AsRef<PackEntry> for PackEntry {
    fn as_ref(&self) -> &PackEntry {
        self
    }
}
