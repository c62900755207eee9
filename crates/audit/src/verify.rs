//! Verifying the journal: every entry intact and linked, every snapshot
//! journaled, the heads it saw present, and the caller's pins present.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::Operation;
use super::{load_journal, LoadedJournal};
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
    /// A snapshot the journal added and never forgot has no record: it was
    /// deleted without a `forget` (issue 20 item 9).
    DeletedSnapshot {
        /// The snapshot's id.
        snapshot: SnapshotId,
        /// The entry that added it.
        entry: String,
    },
    /// A snapshot the journal forgot is live again: its tombstone was
    /// deleted and its record stored again (or a forget stopped between
    /// its entry and its tombstone: forget it again).
    ForgottenSnapshotBack {
        /// The snapshot's id.
        snapshot: SnapshotId,
        /// The entry that forgot it.
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
            | JournalIssue::DeletedSnapshot { snapshot, .. }
            | JournalIssue::ForgottenSnapshotBack { snapshot, .. }
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
            JournalIssue::DeletedSnapshot { snapshot, entry } => write!(
                f,
                "snapshot {snapshot} was deleted without a forget (journal entry {entry} added it)"
            ),
            JournalIssue::ForgottenSnapshotBack { snapshot, entry } => write!(
                f,
                "snapshot {snapshot} was forgotten (journal entry {entry}) but is live again: \
                 its record was stored again, or that forget stopped early"
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
    check_lives(repo, &journal, &snapshots, &mut report).await?;
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

/// Each snapshot the journal added and did not remove still has a record,
/// and none it removed is live. Candidates are looked at again before they
/// are reported, so that a backup or forget running meanwhile is no issue:
/// a backup stores its record before its entry, and a forget writes its
/// entry, then its tombstone, then deletes the record.
async fn check_lives(
    repo: &Repository,
    journal: &LoadedJournal,
    live: &[(SnapshotId, cairn_cas_core::Snapshot)],
    report: &mut JournalReport,
) -> Result<()> {
    let (added, removed) = lives(journal);
    let live: BTreeSet<&SnapshotId> = live.iter().map(|(id, _)| id).collect();
    let mut deleted: Vec<(SnapshotId, &String)> = added
        .iter()
        .filter(|(s, _)| !removed.contains_key(*s))
        .filter_map(|(s, e)| Some((s.parse().ok()?, *e)))
        .filter(|(id, _)| !live.contains(id))
        .collect();
    if !deleted.is_empty() {
        let (listed, incomplete) =
            crate::open::list_tolerant(&**repo.backend(), "snapshots/").await?;
        let listed: BTreeSet<String> = listed.into_iter().map(|m| m.key).collect();
        // A listing that cannot be shown complete proves nothing missing.
        deleted.retain(|(id, _)| {
            incomplete.is_none() && !listed.contains(&cairn_cas_core::snapshot_key(id))
        });
    }
    if !deleted.is_empty() {
        let again = load_journal(repo).await?;
        let (_, removed) = lives(&again);
        for (snapshot, entry) in deleted {
            if !removed.contains_key(snapshot.as_str()) {
                let entry = entry.clone();
                report
                    .issues
                    .push(JournalIssue::DeletedSnapshot { snapshot, entry });
            }
        }
    }
    let back: Vec<(&SnapshotId, &String)> = live
        .iter()
        .filter_map(|id| Some((*id, *removed.get(id.as_str())?)))
        .collect();
    if !back.is_empty() {
        let (now, tombs) = futures::try_join!(repo.snapshot_ids(), repo.tombstones())?;
        // Without an authority a handle sees forgotten records until a prune
        // deletes them: a tombstone of any kind then counts.
        let blind = repo.authority_chain().is_none();
        for (snapshot, entry) in back {
            let tomb = format!("{}{snapshot}", cairn_cas_core::repo::TOMBSTONES);
            if now.contains(snapshot) && !(blind && tombs.ignored.contains(&tomb)) {
                let (snapshot, entry) = (*snapshot, entry.clone());
                report
                    .issues
                    .push(JournalIssue::ForgottenSnapshotBack { snapshot, entry });
            }
        }
    }
    Ok(())
}

/// The snapshots the journal added and those it removed, each with the
/// (last read) entry saying so. Snapshot ids are hashes of sealed records,
/// so an id is never added again after its removal.
fn lives(journal: &LoadedJournal) -> (BTreeMap<&str, &String>, BTreeMap<&str, &String>) {
    let (mut added, mut removed) = (BTreeMap::new(), BTreeMap::new());
    for (id, e) in &journal.entries {
        added.extend(e.op.snapshots_added().into_iter().map(|s| (s, id)));
        removed.extend(e.op.snapshots_removed().into_iter().map(|s| (s, id)));
    }
    (added, removed)
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

/// Snapshots the journal knows: added, or removed (one brought back after
/// its forget is `ForgottenSnapshotBack`, not unjournaled).
fn journaled_snapshots(journal: &LoadedJournal) -> BTreeSet<&str> {
    let (added, removed) = lives(journal);
    added.into_keys().chain(removed.into_keys()).collect()
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
