//! Journal retention: a checkpoint entry covers an old prefix, which is
//! then deleted (see the module docs).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::verify::covered_entries;
use super::{counts, entry_key, Operation};
use super::{load_journal, write, Seen};
use crate::{Error, Repository, Result};

/// What [`checkpoint`] did.
#[non_exhaustive]
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckpointReport {
    /// The checkpoint entry written (`None`: nothing old enough to cover).
    pub entry: Option<String>,
    /// Entries it covers.
    pub covered: usize,
    /// Covered entries deleted (by this or an earlier checkpoint).
    pub deleted: usize,
}

/// Keeps the newest `keep` generations (`seq` values) of the journal:
/// writes a checkpoint covering every older non-checkpoint entry, then
/// deletes them. Refuses a journal that does not verify: a checkpoint
/// vouches for what it covers.
///
/// # Errors
/// [`Error::NotAdmin`] unless opened with an admin key: a checkpoint
/// deletes history, which a backup key must never do (it could cover and
/// delete the entries of backups it wants forgotten).
pub async fn checkpoint(repo: &Repository, keep: u64) -> Result<CheckpointReport> {
    repo.require_admin("audit checkpoint")?;
    let verified = super::verify(repo, &[]).await?;
    if !verified.is_clean() {
        return Err(Error::corrupt(
            "journal/",
            format!(
                "{} issues (see `journal::verify`); no checkpoint over a journal that does not verify",
                verified.issues.len()
            ),
        ));
    }
    let journal = load_journal(repo).await?;
    // Checkpoints do not count as generations: running it twice covers
    // nothing more.
    let Some(top) = journal
        .entries
        .values()
        .filter(|e| !matches!(e.op, Operation::Checkpoint { .. }))
        .map(|e| e.seq)
        .max()
    else {
        return Ok(CheckpointReport::default());
    };
    let cut = match top.checked_sub(keep.max(1)) {
        Some(c) => c,
        None => return Ok(CheckpointReport::default()),
    };
    let covered_before: BTreeSet<String> = covered_entries(&journal).into_iter().cloned().collect();
    let old: Vec<(&String, &super::Entry)> = journal
        .entries
        .iter()
        .filter(|(_, e)| e.seq <= cut && !matches!(e.op, Operation::Checkpoint { .. }))
        .collect();
    let new: Vec<&(&String, &super::Entry)> = old
        .iter()
        .filter(|(id, _)| !covered_before.contains(*id))
        .collect();
    let mut report = CheckpointReport::default();
    if !new.is_empty() {
        let (mut added, mut forgotten) = (BTreeSet::new(), BTreeSet::new());
        for (_, e) in &new {
            added.extend(e.op.snapshots_added());
        }
        for (_, e) in &new {
            for s in e.op.snapshots_removed() {
                added.remove(s);
                forgotten.insert(s);
            }
        }
        // The heads, and the newest checkpoints (those no other checkpoint
        // names): the chain of checkpoints survives every deletion.
        let is_checkpoint = |e: &super::Entry| matches!(e.op, Operation::Checkpoint { .. });
        let named: BTreeSet<&String> = journal
            .entries
            .values()
            .filter(|e| is_checkpoint(e))
            .flat_map(|e| &e.parents)
            .collect();
        let mut parents: BTreeSet<String> = journal.heads().into_iter().collect();
        parents.extend(
            journal
                .entries
                .iter()
                .filter(|(id, e)| is_checkpoint(e) && !named.contains(id))
                .map(|(id, _)| id.clone()),
        );
        let op = Operation::Checkpoint {
            cut,
            covered: new.iter().map(|(id, _)| (*id).clone()).collect(),
            snapshots: added.into_iter().map(str::to_owned).collect(),
            forgotten: forgotten.into_iter().map(str::to_owned).collect(),
        };
        let seen = Seen::after(&journal, parents.into_iter().collect());
        let removed = counts([("journal", new.len() as u64)]);
        report.entry = Some(write(repo, &seen, op, BTreeMap::new(), removed).await?);
        report.covered = new.len();
    }
    // Only entries now listed by a stored checkpoint.
    for (id, _) in old {
        match repo.backend().delete(&entry_key(id)).await {
            Ok(()) => report.deleted += 1,
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(report)
}
