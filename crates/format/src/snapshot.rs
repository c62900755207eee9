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
//!
//! The API's types do not change the JSON: ids ([`SnapshotId`], [`TreeId`])
//! are the hex strings they always were, and a snapshot's `time` is written
//! as RFC 3339 in UTC with nine fractional digits
//! (`2026-11-25T18:30:00.123456789Z`), the form records had when it was a
//! `String`; reading accepts any RFC 3339 time (see the `rfc3339` module).

use std::time::SystemTime;

use cairn_crypto::{ChunkId, KeySet, SealingKey};
use jiff::Timestamp;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::{Error, Result, SnapshotId, TreeId};

pub const SNAPSHOT_MAGIC: &[u8; 4] = b"CRNR";
pub const CONFIG_MAGIC: &[u8; 4] = b"CRNC";
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
    /// When the backup started (RFC 3339, UTC, in the record).
    #[serde(with = "rfc3339")]
    pub time: Timestamp,
    /// The host backed up.
    pub hostname: String,
    /// The paths given to the backup, absolute.
    pub paths: Vec<String>,
    /// Free-form tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The snapshot this one was compared against, if any.
    #[serde(default)]
    pub parent: Option<SnapshotId>,
    /// The root tree's id.
    pub tree: TreeId,
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
    pub original: Option<SnapshotId>,
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
    pub fn new(time: Timestamp, hostname: String, paths: Vec<String>, tree: ChunkId) -> Self {
        Snapshot {
            time,
            hostname,
            paths,
            tags: Vec::new(),
            parent: None,
            tree: TreeId::from(tree),
            summary: BackupSummary::default(),
            program: concat!("cairn ", env!("CARGO_PKG_VERSION")).to_owned(),
            original: None,
            journal: Vec::new(),
        }
    }

    /// The backup's start time as a [`SystemTime`].
    pub fn system_time(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH
            .checked_add(std::time::Duration::new(
                self.time.as_second().max(0) as u64,
                self.time.subsec_nanosecond().max(0) as u32,
            ))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

/// The `time` field of snapshot records: written as RFC 3339 in UTC with
/// nine fractional digits, as records always were (their bytes and so
/// their ids must not depend on which version wrote them); read from any
/// RFC 3339 time, or the weaker forms `humantime` accepted before.
pub mod rfc3339 {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `t` in the record form.
    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{t:.9}"))
    }

    /// Reads a record's time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    /// Parses a record's time.
    pub fn parse(s: &str) -> Result<Timestamp, String> {
        if let Ok(t) = s.parse::<Timestamp>() {
            return Ok(t);
        }
        humantime::parse_rfc3339_weak(s)
            .ok()
            .and_then(|t| Timestamp::try_from(t).ok())
            .ok_or_else(|| format!("time {s:?} is not RFC 3339"))
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

impl RepoConfig {
    /// A version 1 config (what `Repository::init` writes).
    #[doc(hidden)]
    pub fn new_v1(
        id: String,
        created: String,
        chunker: &cairn_chunking::ChunkerConfig,
        compression: String,
        pack_size: u64,
    ) -> Self {
        Self {
            version: 1,
            id,
            created,
            chunk_min: chunker.min_size(),
            chunk_avg: chunker.avg_size(),
            chunk_max: chunker.max_size(),
            compression,
            pack_size,
        }
    }
}

pub fn encode_doc<T: Serialize>(keys: &KeySet, magic: &[u8; 4], doc: &T) -> Result<Vec<u8>> {
    seal_doc(keys.metadata_key(), magic, doc)
}

/// [`encode_doc`] under another key than the metadata key (journal entries).
pub fn seal_doc<T: Serialize>(key: &SealingKey, magic: &[u8; 4], doc: &T) -> Result<Vec<u8>> {
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

pub fn decode_doc<T: DeserializeOwned>(
    keys: &KeySet,
    magic: &[u8; 4],
    object: &str,
    bytes: &[u8],
) -> Result<T> {
    open_doc(keys.metadata_key(), magic, object, bytes)
}

/// [`decode_doc`] under another key than the metadata key (journal entries).
pub fn open_doc<T: DeserializeOwned>(
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

/// The object name of snapshot `id` (`snapshots/<id>`).
pub fn snapshot_key(id: &str) -> String {
    format!("snapshots/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record's JSON as version 1 writers (times and ids as `String`s)
    /// produced it: it must read into the typed fields and write back
    /// byte for byte.
    const OLD_RECORD: &str = concat!(
        r#"{"time":"2026-11-25T18:30:00.123456789Z","hostname":"db1","paths":["/srv"],"#,
        r#""tags":["daily"],"parent":"1111111111111111111111111111111111111111111111111111111111111111","#,
        r#""tree":"2222222222222222222222222222222222222222222222222222222222222222","#,
        r#""summary":{"files_new":1,"files_changed":0,"files_unchanged":0,"dirs":1,"symlinks":0,"#,
        r#""errors":0,"bytes_read":5,"total_bytes":5,"blobs_added":2,"bytes_added_raw":300,"#,
        r#""bytes_added_stored":350,"packs_added":1,"duration_secs":0.5},"program":"cairn 0.1.0"}"#
    );

    #[test]
    fn old_records_read_typed_and_write_back_unchanged() {
        let s: Snapshot = serde_json::from_str(OLD_RECORD).unwrap();
        assert_eq!(s.time.as_nanosecond(), 1_795_631_400_123_456_789);
        assert_eq!(s.parent.unwrap(), "1".repeat(64));
        assert_eq!(s.tree.to_string(), "2".repeat(64));
        assert_eq!(serde_json::to_string(&s).unwrap(), OLD_RECORD);
    }

    #[test]
    fn whole_second_times_keep_nine_digits_and_weak_forms_still_read() {
        let t: Timestamp = "2026-11-25T18:30:00Z".parse().unwrap();
        let json = OLD_RECORD.replace("18:30:00.123456789Z", "18:30:00Z");
        let mut s: Snapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(s.time, t);
        s.time = t;
        assert!(serde_json::to_string(&s)
            .unwrap()
            .contains(r#""time":"2026-11-25T18:30:00.000000000Z""#));
        // humantime's weak form (space, no zone) read before; it still does.
        assert_eq!(rfc3339::parse("2026-11-25 18:30:00").unwrap(), t);
    }

    #[test]
    fn records_with_bad_times_or_ids_are_refused_not_misread() {
        for (from, to) in [
            ("2026-11-25T18:30:00.123456789Z", "yesterday"),
            (&"2".repeat(64), "not-a-tree"),
            (&"1".repeat(64), "../../etc"),
        ] {
            let json = OLD_RECORD.replace(from, to);
            assert!(serde_json::from_str::<Snapshot>(&json).is_err(), "{to}");
        }
    }
}
