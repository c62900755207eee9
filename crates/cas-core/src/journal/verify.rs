//! Verifying the journal: every entry intact and linked, every snapshot
//! journaled, the heads it saw present, and the caller's pins present.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::append::{load_journal, LoadedJournal};
use super::Operation;
use crate::{Error, Repository, Result, SnapshotId};

/// Something wrong with the journal, naming the entry (or snapshot) at fault.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JournalIssue {
    /// An entry's bytes do not hash to its name, fail authentication, or do
    /// not decode: altered, swapped with another entry, or forged.
    Altered {
        /// The entry's id.
        entry: String,
        /// What is wrong.
        reason: String,
    },
    /// An entry names a parent that is not stored: the parent was deleted.
    MissingParent {
        /// The entry naming it.
        entry: String,
        /// The missing parent's id.
        parent: String,
    },
    /// An entry's `seq` does not follow from its parents (re-parented).
    BadSequence {
        /// The entry's id.
        entry: String,
        /// Its `seq`.
        seq: u64,
        /// What its parents imply.
        expected: u64,
    },
    /// An entry written for another repository.
    ForeignEntry {
        /// The entry's id.
        entry: String,
        /// The repository id it names.
        repo: String,
    },
    /// A snapshot saw a journal head that is no longer stored: newest
    /// entries were deleted, or the journal was rolled back.
    MissingSnapshotHead {
        /// The snapshot's id.
        snapshot: SnapshotId,
        /// The missing entry's id.
        entry: String,
    },
    /// A snapshot written by a journaling backup that no entry records: the
    /// entry was deleted, or the backup stopped between its record and its
    /// entry.
    UnjournaledSnapshot {
        /// The snapshot's id.
        snapshot: SnapshotId,
    },
    /// A pinned entry (a head the caller saw earlier) is not stored: the
    /// journal was rolled back, or entries were deleted.
    PinMissing {
        /// The pinned entry's id.
        entry: String,
    },
    /// A snapshot record could not be read, so its links were not checked.
    UnreadableSnapshot {
        /// Why.
        reason: String,
    },
}

impl JournalIssue {
    /// The entry (or snapshot) the issue is about.
    pub fn subject(&self) -> &str {
        match self {
            JournalIssue::Altered { entry, .. }
            | JournalIssue::MissingParent { entry, .. }
            | JournalIssue::BadSequence { entry, .. }
            | JournalIssue::ForeignEntry { entry, .. }
            | JournalIssue::PinMissing { entry } => entry,
            JournalIssue::MissingSnapshotHead { snapshot, .. }
            | JournalIssue::UnjournaledSnapshot { snapshot } => snapshot,
            JournalIssue::UnreadableSnapshot { reason } => reason,
        }
    }
}

impl fmt::Display for JournalIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalIssue::Altered { entry, reason } => {
                write!(f, "journal entry {entry} was altered: {reason}")
            }
            JournalIssue::MissingParent { entry, parent } => write!(
                f,
                "journal entry {parent} was deleted (entry {entry} names it as its parent)"
            ),
            JournalIssue::BadSequence {
                entry,
                seq,
                expected,
            } => write!(
                f,
                "journal entry {entry} is out of order: seq {seq}, its parents imply {expected}"
            ),
            JournalIssue::ForeignEntry { entry, repo } => {
                write!(f, "journal entry {entry} belongs to repository {repo}")
            }
            JournalIssue::MissingSnapshotHead { snapshot, entry } => write!(
                f,
                "journal entry {entry} is missing (rolled back or deleted): snapshot {snapshot} saw it"
            ),
            JournalIssue::UnjournaledSnapshot { snapshot } => write!(
                f,
                "snapshot {snapshot} is recorded by no journal entry (its entry was deleted, \
                 or its backup stopped before writing it)"
            ),
            JournalIssue::PinMissing { entry } => write!(
                f,
                "pinned journal entry {entry} is missing: the journal was rolled back or entries were deleted"
            ),
            JournalIssue::UnreadableSnapshot { reason } => {
                write!(f, "a snapshot's journal links were not checked: {reason}")
            }
        }
    }
}

/// What [`verify`] found.
#[non_exhaustive]
#[derive(Debug, Clone, Default, Serialize)]
pub struct JournalReport {
    /// Entries stored (readable or not).
    pub entries: usize,
    /// Entries a checkpoint covers (deleted, or still to be).
    pub covered: usize,
    /// The heads now: what a caller pins for the next verification.
    pub heads: Vec<String>,
    /// Entries without parents (the `init` entry; in a repository created
    /// before the journal existed, the first journaled operation(s)).
    pub roots: Vec<String>,
    /// Snapshots whose journal links were checked.
    pub snapshots_checked: usize,
    /// Snapshots written before the journal existed (no links to check).
    pub snapshots_before_journal: usize,
    /// Everything wrong; empty if the journal verifies.
    pub issues: Vec<JournalIssue>,
}

impl JournalReport {
    /// Whether the journal verified without issue.
    pub fn is_clean(&self) -> bool {
        self.issues.is_empty()
    }
}

/// Verifies the journal of `repo` and its links to the snapshots, and that
/// every entry of `pins` (heads a caller saw earlier) is still stored.
///
/// Snapshots are listed before the journal, so a backup committing
/// meanwhile has its entry written by the time the journal is read, except
/// when it is between its record and its entry: such a snapshot is looked
/// for once more after a second read of the journal.
pub async fn verify(repo: &Repository, pins: &[String]) -> Result<JournalReport> {
    let (snapshots, unreadable) = repo.readable_snapshots().await?;
    let mut journal = load_journal(repo).await?;
    let mut report = JournalReport::default();
    for e in unreadable {
        match e {
            // Forgotten while we listed: nothing to check.
            Error::Backend(b) if b.is_not_found() => {}
            e => report.issues.push(JournalIssue::UnreadableSnapshot {
                reason: e.to_string(),
            }),
        }
    }
    let mut unjournaled: Vec<&SnapshotId> = Vec::new();
    let journaled = journaled_snapshots(&journal);
    for (id, s) in &snapshots {
        if s.journal.is_empty() {
            report.snapshots_before_journal += 1;
            continue;
        }
        report.snapshots_checked += 1;
        if !journaled.contains(id.as_str()) {
            unjournaled.push(id);
        }
    }
    if !unjournaled.is_empty() {
        journal = load_journal(repo).await?;
    }
    let journaled = journaled_snapshots(&journal);
    // Entries a checkpoint covers may be gone: they count as present.
    let covered = covered_entries(&journal);
    let stored: BTreeSet<&String> = journal.ids().chain(covered.iter().copied()).collect();
    for (id, s) in &snapshots {
        for head in &s.journal {
            if !stored.contains(head) {
                report.issues.push(JournalIssue::MissingSnapshotHead {
                    snapshot: *id,
                    entry: head.clone(),
                });
            }
        }
    }
    for id in unjournaled {
        if !journaled.contains(id.as_str()) {
            report
                .issues
                .push(JournalIssue::UnjournaledSnapshot { snapshot: *id });
        }
    }
    check_entries(repo, &journal, &covered, &mut report);
    for pin in pins {
        if !stored.contains(pin) {
            report
                .issues
                .push(JournalIssue::PinMissing { entry: pin.clone() });
        }
    }
    report.entries = journal.ids().count();
    report.covered = covered.len();
    report.heads = journal.heads();
    Ok(report)
}

/// Ids of the entries the present checkpoints cover.
pub(crate) fn covered_entries(journal: &LoadedJournal) -> BTreeSet<&String> {
    journal
        .entries
        .values()
        .flat_map(|e| match &e.op {
            Operation::Checkpoint { covered, .. } => covered.iter().collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn journaled_snapshots(journal: &LoadedJournal) -> BTreeSet<&str> {
    journal
        .entries
        .values()
        .flat_map(|e| e.op.snapshots_added())
        .collect()
}

/// Each entry: intact, of this repository, parents stored, `seq` consistent.
fn check_entries(
    repo: &Repository,
    journal: &LoadedJournal,
    covered: &BTreeSet<&String>,
    report: &mut JournalReport,
) {
    for (id, e) in &journal.unreadable {
        report.issues.push(JournalIssue::Altered {
            entry: id.clone(),
            reason: e.to_string(),
        });
    }
    for (id, e) in &journal.entries {
        if e.repo != repo.config().id {
            report.issues.push(JournalIssue::ForeignEntry {
                entry: id.clone(),
                repo: e.repo.clone(),
            });
        }
        if e.parents.is_empty() {
            report.roots.push(id.clone());
        }
        let mut all_readable = true;
        for p in &e.parents {
            if journal.entries.contains_key(p) {
                continue;
            }
            all_readable = false;
            if !journal.unreadable.contains_key(p) && !covered.contains(p) {
                report.issues.push(JournalIssue::MissingParent {
                    entry: id.clone(),
                    parent: p.clone(),
                });
            }
        }
        let expected = journal.seq_after(&e.parents);
        if all_readable && e.seq != expected {
            report.issues.push(JournalIssue::BadSequence {
                entry: id.clone(),
                seq: e.seq,
                expected,
            });
        }
    }
}
