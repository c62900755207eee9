//! Snapshot records and the repository config: small JSON documents, sealed.
//!
//! # Object format (version 1) — do not change; add a new version instead
//!
//! ```text
//! object := magic:[u8;4] version:u8=1 seal(metadata key, json, aad = magic || version)
//! ```
//!
//! with magic `CRNR` for snapshot records (`snapshots/<hex BLAKE3 of the object>`)
//! and `CRNC` for the config (`config`). The JSON fields are those of
//! [`Snapshot`] and [`RepoConfig`]; unknown fields are ignored so later
//! versions can add some.

use std::time::SystemTime;

use cairn_crypto::{ChunkId, KeySet, SealingKey};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::{Error, Result};

pub(crate) const SNAPSHOT_MAGIC: &[u8; 4] = b"CRNR";
pub(crate) const CONFIG_MAGIC: &[u8; 4] = b"CRNC";
const VERSION: u8 = 1;

/// What a backup did, stored in its snapshot record.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackupSummary {
    /// Files not in the parent snapshot.
    pub files_new: u64,
    /// Files in the parent but changed.
    pub files_changed: u64,
    /// Files unchanged since the parent (not read).
    pub files_unchanged: u64,
    /// Directories.
    pub dirs: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Entries skipped because they could not be read (see the warnings).
    pub errors: u64,
    /// Bytes of file contents read.
    pub bytes_read: u64,
    /// Total size of the files in the snapshot.
    pub total_bytes: u64,
    /// New blobs stored.
    pub blobs_added: u64,
    /// Bytes of new blobs before compression.
    pub bytes_added_raw: u64,
    /// Bytes uploaded (packs, after dedup, compression and encryption).
    pub bytes_added_stored: u64,
    /// Packs uploaded.
    pub packs_added: u64,
    /// Wall time, in seconds.
    pub duration_secs: f64,
}

/// A snapshot record: one backup's metadata and its root tree.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When the backup started (RFC 3339, UTC).
    pub time: String,
    /// The host backed up.
    pub hostname: String,
    /// The paths given to the backup, absolute.
    pub paths: Vec<String>,
    /// Free-form tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The snapshot this one was compared against, if any.
    #[serde(default)]
    pub parent: Option<String>,
    /// The root tree's id (hex).
    pub tree: String,
    /// What the backup did.
    #[serde(default)]
    pub summary: BackupSummary,
    /// The program that wrote it.
    #[serde(default)]
    pub program: String,
    /// For a snapshot written by `repair snapshots`: the id of the damaged
    /// snapshot it replaces (absent in ordinary records, so their bytes are
    /// unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// The audit journal's heads (entry ids) the backup saw before writing
    /// this record: a journal rolled back past them is detected (see the
    /// `journal` module). Empty, and then absent from the record, for
    /// records written before the journal existed, so their bytes (and ids)
    /// are unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub journal: Vec<String>,
}

impl Snapshot {
    /// A record for a backup of `paths` started at `time` with root `tree`.
    pub fn new(time: SystemTime, hostname: String, paths: Vec<String>, tree: ChunkId) -> Self {
        Snapshot {
            time: Snapshot::time_string(time),
            hostname,
            paths,
            tags: Vec::new(),
            parent: None,
            tree: tree.to_hex(),
            summary: BackupSummary::default(),
            program: concat!("cairn ", env!("CARGO_PKG_VERSION")).to_owned(),
            original: None,
            journal: Vec::new(),
        }
    }

    /// A time in the form snapshot records use (RFC 3339, UTC).
    pub fn time_string(t: SystemTime) -> String {
        humantime::format_rfc3339_nanos(t).to_string()
    }

    /// The backup's start time.
    pub fn system_time(&self) -> SystemTime {
        humantime::parse_rfc3339_weak(&self.time).unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// The root tree's id.
    pub fn tree_id(&self) -> Result<ChunkId> {
        ChunkId::from_hex(&self.tree).map_err(|_| Error::corrupt("snapshot", "bad tree id"))
    }
}

/// A repository's settings, fixed at `init` (the chunker parameters must not
/// change, or dedup against older snapshots would stop working).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoConfig {
    /// Config format version (1).
    pub version: u32,
    /// Random repository id (hex).
    pub id: String,
    /// When the repository was created (RFC 3339).
    pub created: String,
    /// FastCDC minimum chunk size.
    pub chunk_min: u32,
    /// FastCDC average chunk size.
    pub chunk_avg: u32,
    /// FastCDC maximum chunk size.
    pub chunk_max: u32,
    /// Compression of new blobs (`zstd:3`, `lz4`, `none`).
    pub compression: String,
    /// Target pack size in bytes.
    pub pack_size: u64,
}

pub(crate) fn encode_doc<T: Serialize>(keys: &KeySet, magic: &[u8; 4], doc: &T) -> Result<Vec<u8>> {
    seal_doc(keys.metadata_key(), magic, doc)
}

/// [`encode_doc`] under another key than the metadata key (journal entries).
pub(crate) fn seal_doc<T: Serialize>(
    key: &SealingKey,
    magic: &[u8; 4],
    doc: &T,
) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(doc).map_err(|e| Error::Internal {
        what: format!("serialising a document: {e}"),
    })?;
    let mut aad = [0u8; 5];
    aad[..4].copy_from_slice(magic);
    aad[4] = VERSION;
    let mut out = aad.to_vec();
    key.seal_into(&json, &aad, &mut out)
        .map_err(|source| Error::Crypto {
            object: String::from_utf8_lossy(magic).into_owned(),
            source,
        })?;
    Ok(out)
}

pub(crate) fn decode_doc<T: DeserializeOwned>(
    keys: &KeySet,
    magic: &[u8; 4],
    object: &str,
    bytes: &[u8],
) -> Result<T> {
    open_doc(keys.metadata_key(), magic, object, bytes)
}

/// [`decode_doc`] under another key than the metadata key (journal entries).
pub(crate) fn open_doc<T: DeserializeOwned>(
    key: &SealingKey,
    magic: &[u8; 4],
    object: &str,
    bytes: &[u8],
) -> Result<T> {
    if bytes.len() < 5 || &bytes[..4] != magic {
        return Err(Error::corrupt(object, "bad magic"));
    }
    if bytes[4] != VERSION {
        return Err(Error::UnsupportedVersion {
            object: object.to_owned(),
            found: bytes[4],
        });
    }
    let json = key
        .open(&bytes[5..], &bytes[..5])
        .map_err(|_| Error::Authentication {
            object: object.to_owned(),
        })?;
    serde_json::from_slice(&json).map_err(|e| Error::corrupt(object, e.to_string()))
}

/// A snapshot's id: the BLAKE3 hash of its record object (hex).
pub fn snapshot_key(id: &str) -> String {
    format!("snapshots/{id}")
}
