//! What [`check`](crate::check) reports: counts and typed issues, each
//! naming the object at fault; `Serialize` so programs (and the CLI's
//! `--json`) print the report itself.

use std::fmt;

use cairn_audit::JournalIssue;
use cairn_cas_core::{SnapshotId, TreeId};
use serde::Serialize;

/// What `check` found.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CheckReport {
    /// Snapshots read (unreadable ones are in `errors`).
    pub snapshots: usize,
    /// Distinct trees read.
    pub trees: usize,
    /// Distinct blobs referenced.
    pub blobs: usize,
    /// Packs in the index.
    pub packs: usize,
    /// Packs downloaded and verified.
    pub packs_read: usize,
    /// Packs stored but in no index (left by an interrupted backup: harmless).
    pub unreferenced_packs: usize,
    /// Snapshot tombstones without a valid admin signature (the snapshots
    /// they name are kept). Not an error of the data, but a sign that a key
    /// holder without the admin authority — a compromised backup host —
    /// tried to remove history.
    pub ignored_tombstones: Vec<String>,
    /// Problems, each naming the object at fault.
    pub errors: Vec<CheckIssue>,
    /// Things to look at that are not errors: snapshots the audit journal
    /// does not record (an interrupted backup leaves one; so
    /// does someone deleting the newest entries — `audit verify` counts it
    /// as an error).
    pub warnings: Vec<CheckIssue>,
}

impl CheckReport {
    /// Whether no problem was found.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// One problem (or, in [`CheckReport::warnings`], one thing to look at)
/// that `check` found. Serialized with a `kind` tag in snake case
/// (`{"kind": "missing_pack", "pack": "data/…"}`); `Display` gives the
/// one-line message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckIssue {
    /// An index object `open` skipped: the blobs it lists are missing until
    /// `repair index` rebuilds them from the packs.
    SkippedIndex {
        /// The index object.
        object: String,
        /// Why it was skipped.
        reason: String,
    },
    /// A snapshot record that could not be read.
    UnreadableSnapshot {
        /// The error, naming the record.
        reason: String,
    },
    /// A tree of a snapshot that could not be loaded.
    UnreadableTree {
        /// The snapshot.
        snapshot: SnapshotId,
        /// The tree.
        tree: TreeId,
        /// The error.
        reason: String,
    },
    /// A blob a tree references that no index lists.
    UnindexedBlob {
        /// The blob's id (hex).
        blob: String,
    },
    /// A pack the index names that is not stored.
    MissingPack {
        /// The pack's object name.
        pack: String,
    },
    /// An index object naming packs that are not stored: replayed after a
    /// prune deleted them, or a prune's leftover. Blobs another pack holds
    /// are read from there; `prune` drops its entries.
    StaleIndex {
        /// The index object.
        object: String,
        /// The missing packs it names (object names, sorted).
        packs: Vec<String>,
    },
    /// A pack read back that failed verification (name, header, a blob, or
    /// agreement with the index).
    DamagedPack {
        /// The pack's object name.
        pack: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Something wrong with the audit journal.
    Journal {
        /// The journal's own issue.
        issue: JournalIssue,
    },
}

impl fmt::Display for CheckIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckIssue::SkippedIndex { object, reason } => write!(
                f,
                "index object {object} skipped (the blobs it lists are missing until `repair index`): {reason}"
            ),
            CheckIssue::UnreadableSnapshot { reason } => f.write_str(reason),
            CheckIssue::UnreadableTree {
                snapshot,
                tree,
                reason,
            } => write!(f, "snapshot {snapshot}: tree {tree}: {reason}"),
            CheckIssue::UnindexedBlob { blob } => {
                write!(f, "blob {blob} is referenced but in no index")
            }
            CheckIssue::MissingPack { pack } => write!(f, "{pack} is indexed but missing"),
            CheckIssue::StaleIndex { object, packs } => write!(
                f,
                "index object {object} names {} missing packs (replayed or left by a prune; \
                 `prune` drops them): {}",
                packs.len(),
                packs.join(", ")
            ),
            CheckIssue::DamagedPack { pack, reason } => write!(f, "{pack}: {reason}"),
            CheckIssue::Journal { issue } => write!(f, "{issue}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_serialize_with_tagged_issues_and_print_their_lines() {
        let mut r = CheckReport {
            snapshots: 2,
            ..Default::default()
        };
        r.errors.push(CheckIssue::MissingPack {
            pack: "data/ab/abcd".into(),
        });
        r.warnings.push(CheckIssue::Journal {
            issue: JournalIssue::UnjournaledSnapshot {
                snapshot: "cd".repeat(32).parse().unwrap(),
            },
        });
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["snapshots"], 2);
        assert_eq!(
            v["errors"],
            serde_json::json!([{"kind": "missing_pack", "pack": "data/ab/abcd"}])
        );
        assert_eq!(v["warnings"][0]["kind"], "journal");
        assert_eq!(v["warnings"][0]["issue"]["kind"], "unjournaled_snapshot");
        assert_eq!(v["warnings"][0]["issue"]["snapshot"], "cd".repeat(32));
        assert_eq!(
            r.errors[0].to_string(),
            "data/ab/abcd is indexed but missing"
        );
        assert!(!r.is_ok());
    }
}
