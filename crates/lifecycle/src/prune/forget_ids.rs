//! Forget named snapshots (restic's `forget ID…`), as a policy's forget
//! removes them: admins only, journaled, each record hidden by a signed
//! tombstone before it is deleted. A snapshot under an active hold fails
//! the call with [`Error::Held`] before anything is removed.

use crate::{Error, Repository, Result, SnapshotId};

/// Removes the records of the snapshots `ids` (unless `dry_run`) and
/// returns them. Every id must name a readable snapshot of the repository
/// (or of the tenant this handle works in): an unknown one fails the call
/// with [`Error::SnapshotNotFound`] before anything is removed. An id given
/// twice is removed once.
pub async fn forget_snapshots(
    repo: &Repository,
    ids: &[SnapshotId],
    dry_run: bool,
) -> Result<Vec<SnapshotId>> {
    repo.require_admin("forget snapshots")?;
    let known: std::collections::HashSet<SnapshotId> = repo
        .snapshots()
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut doomed: Vec<SnapshotId> = Vec::new();
    for id in ids {
        if !known.contains(id) {
            return Err(Error::SnapshotNotFound {
                query: id.to_string(),
            });
        }
        if !doomed.contains(id) {
            doomed.push(*id);
        }
    }
    crate::hold::refuse_held(repo, &doomed).await?;
    match dry_run {
        true => Ok(doomed),
        false => super::forget::remove_records(repo, doomed).await,
    }
}
