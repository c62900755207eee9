//! The audit journal: an authenticated, hash-linked record of every
//! operation that changed the repository — who, what, when, and which
//! objects it added or removed.
//!
//! # Object format (version 1) — do not change; add a new version instead
//!
//! ```text
//! journal/<64 hex: BLAKE3 of the whole object>
//! object := magic:[u8;4]="CRNJ" version:u8=1
//!           seal(journal key, json, aad = magic || version)      (AES-256-GCM, as every document)
//! ```
//!
//! The journal key is `HKDF-SHA256(master, info = "cairn/v1/journal")`
//! ([`cairn_crypto::KeySet::journal_key`]): only holders of a repository key
//! can write an entry that verifies. The JSON fields are those of [`Entry`]:
//!
//! | field | meaning |
//! |-------|---------|
//! | `repo` | the repository id (config): an entry cannot be moved to another repository |
//! | `parents` | ids of the entries that were heads when it was written, sorted |
//! | `seq` | 0 for an entry without parents, else 1 + the largest parent's `seq` |
//! | `who` | `key` (`keys/<hex>`, the key file that opened the repository), `host` |
//! | `time` | the writer's clock (RFC 3339), informational only |
//! | `op` | the operation: `{"kind": "init" \| "backup" \| "forget" \| …, …}` ([`Operation`]) |
//! | `added`, `removed` | objects added and removed, counted by kind (`snapshots`, `packs`, …) |
//!
//! A golden fixture (`tests` below) pins the bytes.
//!
//! # A DAG, not a chain
//!
//! An entry's id is the hash of its bytes, and it names its parents by id:
//! the journal is a hash DAG. A writer lists `journal/`, reads every entry,
//! and names as parents the *heads* — the entries no other entry names
//! (including any it cannot read: a damaged entry stays referenced). Two
//! writers running at once both name the same heads and write two
//! siblings; the next writer names both. Nothing is overwritten and no lock
//! is taken, so concurrent backups from many processes never conflict, and
//! every entry is written create-only under its own hash.
//!
//! # Verification and retention
//!
//! What a verification detects and how a checkpoint bounds the journal are
//! the audit side, in `cairn_lifecycle::journal` (`verify`, `checkpoint`):
//! this module writes and reads entries; that one judges them.

mod append;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[doc(hidden)]
pub use append::record_after;
pub use append::{journal_heads, load_journal, record, record_restore, LoadedJournal};
#[doc(hidden)]
pub use append::{record_backup, write, Seen};

pub(crate) const ENTRY_MAGIC: &[u8; 4] = b"CRNJ";
/// Prefix of journal entries.
pub const JOURNAL_PREFIX: &str = "journal/";
/// Largest journal entry read (a few hundred bytes usually; a forget or a
/// repair may list many snapshots).
pub const MAX_ENTRY_SIZE: u64 = 4 << 20;

/// Opens a journal entry object read from storage (`object` names it in
/// errors): magic, version, authentication under the journal key, JSON.
/// Whether it is stored under its hash is the caller's check.
pub fn decode_entry(
    keys: &cairn_crypto::KeySet,
    object: &str,
    bytes: &[u8],
) -> crate::Result<Entry> {
    crate::snapshot::open_doc(&keys.journal_key(), ENTRY_MAGIC, object, bytes)
}

/// The object name of the entry `id`.
pub fn entry_key(id: &str) -> String {
    format!("{JOURNAL_PREFIX}{id}")
}

/// Who wrote an entry.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Who {
    /// The key file that opened the repository (`keys/<hex>`).
    pub key: String,
    /// The host the operation ran on.
    pub host: String,
}

/// One snapshot written from another (copy, repair).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotPair {
    /// The snapshot it was made from (the source's id for a copy, the
    /// damaged snapshot's id for a repair).
    pub from: String,
    /// The new snapshot's id.
    pub to: String,
}

impl SnapshotPair {
    /// A pair `from` -> `to`.
    pub fn new(from: &str, to: &str) -> Self {
        SnapshotPair {
            from: from.to_owned(),
            to: to.to_owned(),
        }
    }
}

/// What an entry records.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Operation {
    /// The repository was created.
    Init,
    /// A backup stored a snapshot.
    Backup {
        /// The snapshot's id.
        snapshot: String,
    },
    /// Snapshot records were removed (written before they are).
    Forget {
        /// Their ids.
        snapshots: Vec<String>,
    },
    /// A prune ran.
    Prune {
        /// The condemned record it wrote, if any.
        condemned: Option<String>,
        /// Packs it condemned (unreferenced or repacked).
        packs_condemned: u64,
        /// Packs it deleted (from any record whose wait was over).
        packs_deleted: u64,
        /// Their bytes.
        bytes_deleted: u64,
    },
    /// `repair index` replaced index objects.
    RepairIndex {
        /// Index objects written.
        written: Vec<String>,
        /// Index objects removed.
        removed: Vec<String>,
    },
    /// `repair snapshots` rewrote snapshots that referenced lost data.
    RepairSnapshots {
        /// Each damaged snapshot and its repaired copy.
        repaired: Vec<SnapshotPair>,
        /// Damaged snapshots removed.
        forgotten: Vec<String>,
    },
    /// Snapshots were copied in from another repository.
    Copy {
        /// The source repository's id.
        from_repo: String,
        /// Each source snapshot and its copy here.
        snapshots: Vec<SnapshotPair>,
    },
    /// A key file was added.
    KeyAdd {
        /// Its name.
        key: String,
    },
    /// A key file was removed.
    KeyRemove {
        /// Its name.
        key: String,
    },
    /// A password was changed: a new key file replaces the old one (written
    /// before the old one is removed).
    KeyPasswd {
        /// The key file removed.
        old: String,
        /// The key file that replaces it.
        new: String,
    },
    /// A snapshot was restored (journaled only when the caller asks: a
    /// restore changes nothing in the repository, but who read what is an
    /// audit question too).
    Restore {
        /// The snapshot restored.
        snapshot: String,
        /// Files written (created, replaced or updated).
        files: u64,
        /// Bytes of file contents written.
        bytes: u64,
    },
    /// A new key epoch: data from now on is sealed under keys a removed
    /// key's holder never saw (written before the epoch object).
    KeyRotate {
        /// The new epoch's number.
        epoch: u32,
        /// Key files (names) left out and removed because they could not
        /// receive the new epoch's root.
        dropped: Vec<String>,
    },
    /// Retention: the entries listed in `covered` (every non-checkpoint
    /// entry with `seq <= cut` not covered before) may be deleted; a
    /// missing entry that a present checkpoint lists is not an issue.
    Checkpoint {
        /// The largest `seq` covered.
        cut: u64,
        /// Ids of the entries covered.
        covered: Vec<String>,
        /// Snapshots the covered entries added and did not remove: still
        /// journaled once those entries are gone.
        snapshots: Vec<String>,
        /// Snapshots the covered entries removed: still known forgotten
        /// once those entries are gone, so a record stored again is caught
        /// (absent in checkpoints written before it existed).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        forgotten: Vec<String>,
    },
    /// A tenant was created (its key object written).
    TenantCreate {
        /// Its id (a keyed hash of the name; the name is personal data).
        tenant: String,
        /// Its namespace (`tenants/<namespace>/`).
        namespace: String,
    },
    /// A tenant was given a fresh key generation (written after its new
    /// key object is stored and verified, before the old one is deleted).
    TenantRekey {
        /// Its id.
        tenant: String,
        /// Its namespace.
        namespace: String,
        /// The new generation.
        generation: u32,
    },
    /// A tenant was shredded (written after the shred record, before its
    /// key objects and snapshot records are deleted).
    Shred {
        /// Its id.
        tenant: String,
        /// The namespaces whose keys are destroyed.
        namespaces: Vec<String>,
    },
    /// Snapshots' tags were changed: each new record replaces its original
    /// (written after the new records, before the originals are removed).
    Tag {
        /// Each original and the record that replaces it.
        snapshots: Vec<SnapshotPair>,
    },
    /// A snapshot was put on hold (or its hold replaced).
    Hold {
        /// Its id.
        snapshot: String,
        /// When the hold ends (RFC 3339), if it does.
        until: Option<String>,
        /// Why.
        reason: String,
    },
    /// A snapshot's hold was released (written before the hold is removed).
    Release {
        /// Its id.
        snapshot: String,
    },
    /// Snapshots were rewritten without the paths `excluded` matches (the
    /// patterns, never the content); originals removed by a separate
    /// `forget` entry.
    Rewrite {
        /// Each original and its rewritten copy.
        snapshots: Vec<SnapshotPair>,
        /// The exclude patterns.
        excluded: Vec<String>,
    },
    /// An operation this version does not know (written by a newer one).
    #[serde(other)]
    Other,
}

impl Operation {
    /// The operation's name (`op.kind` in the JSON).
    pub fn kind(&self) -> &'static str {
        match self {
            Operation::Init => "init",
            Operation::Backup { .. } => "backup",
            Operation::Forget { .. } => "forget",
            Operation::Prune { .. } => "prune",
            Operation::RepairIndex { .. } => "repair_index",
            Operation::RepairSnapshots { .. } => "repair_snapshots",
            Operation::Copy { .. } => "copy",
            Operation::KeyAdd { .. } => "key_add",
            Operation::KeyRemove { .. } => "key_remove",
            Operation::KeyPasswd { .. } => "key_passwd",
            Operation::Restore { .. } => "restore",
            Operation::KeyRotate { .. } => "key_rotate",
            Operation::Checkpoint { .. } => "checkpoint",
            Operation::TenantCreate { .. } => "tenant_create",
            Operation::TenantRekey { .. } => "tenant_rekey",
            Operation::Shred { .. } => "shred",
            Operation::Tag { .. } => "tag",
            Operation::Hold { .. } => "hold",
            Operation::Release { .. } => "release",
            Operation::Rewrite { .. } => "rewrite",
            Operation::Other => "other",
        }
    }

    /// Snapshots this operation brought into the repository.
    #[doc(hidden)]
    pub fn snapshots_added(&self) -> Vec<&str> {
        match self {
            Operation::Backup { snapshot } => vec![snapshot],
            Operation::RepairSnapshots { repaired, .. } => {
                repaired.iter().map(|p| p.to.as_str()).collect()
            }
            Operation::Copy { snapshots, .. }
            | Operation::Tag { snapshots }
            | Operation::Rewrite { snapshots, .. } => {
                snapshots.iter().map(|p| p.to.as_str()).collect()
            }
            Operation::Checkpoint { snapshots, .. } => {
                snapshots.iter().map(String::as_str).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Snapshots this operation removed.
    #[doc(hidden)]
    pub fn snapshots_removed(&self) -> Vec<&str> {
        match self {
            Operation::Forget { snapshots } => snapshots.iter().map(String::as_str).collect(),
            Operation::Tag { snapshots } => snapshots.iter().map(|p| p.from.as_str()).collect(),
            Operation::RepairSnapshots { forgotten, .. }
            | Operation::Checkpoint { forgotten, .. } => {
                forgotten.iter().map(String::as_str).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// One journal entry (see the module docs for the format).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The repository's id.
    pub repo: String,
    /// The heads the writer saw (entry ids, sorted).
    pub parents: Vec<String>,
    /// 0 without parents, else 1 + the largest parent's.
    pub seq: u64,
    /// Who wrote it.
    pub who: Who,
    /// When, by the writer's clock (informational).
    pub time: String,
    /// What was done.
    pub op: Operation,
    /// Objects added, by kind.
    #[serde(default)]
    pub added: BTreeMap<String, u64>,
    /// Objects removed, by kind.
    #[serde(default)]
    pub removed: BTreeMap<String, u64>,
}

/// Counts of objects by kind, for [`Entry::added`] and [`Entry::removed`].
pub fn counts<'a>(items: impl IntoIterator<Item = (&'a str, u64)>) -> BTreeMap<String, u64> {
    items
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k.to_owned(), n))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod golden_tests;
