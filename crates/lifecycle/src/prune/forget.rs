//! Forget: apply a retention policy by removing snapshot records (cheap;
//! never touches data — prune reclaims it later).
//!
//! Admins only. Each removal first writes a tombstone signed by the admin
//! authority (see the `repo::signed` module), then deletes the record.
//! The tombstone is what makes the removal count: every listing, and so
//! every prune, hides a snapshot only when its tombstone verifies, and a
//! later prune deletes a record that is still (or again) stored under a
//! valid tombstone. A handle opened with a version 1 key file (admin, no
//! authority) only deletes the record, as before version 2.
//!
//! # What this protects, and what it cannot
//!
//! A backup host knows the master key, so it can write anything sealed:
//! tombstones it writes do not verify and are ignored. It cannot be stopped
//! from *deleting* a record if the storage lets it delete — but then it can
//! delete packs as well, and nothing in the repository can bring those
//! back. So the storage side must refuse deletes to backup hosts
//! ([`AppendOnly`](cairn_backends::AppendOnly), or S3 credentials without
//! `s3:DeleteObject`); records a host could not delete cannot go missing,
//! and its only way to "remove" a snapshot is a tombstone, which an admin's
//! prune ignores unless it verifies.

use serde::Serialize;

use crate::retention::{plan_retention, KeepPolicy, PlanOptions, RetentionPlan};
use crate::snapshot::snapshot_key;
use crate::{Repository, Result, Snapshot, SnapshotId, SnapshotQuery};

/// Which snapshots a forget considers (the others are left alone): the
/// crate's one query type, under the name forget used before it existed.
pub type SnapshotFilter = SnapshotQuery;

/// What [`forget`] decided and did.
#[derive(Debug, Clone, Serialize)]
pub struct ForgetReport {
    /// Every selected snapshot with keep/remove and reasons.
    pub plan: RetentionPlan,
    /// Records removed (empty on a dry run).
    pub removed: Vec<SnapshotId>,
}

/// Plans `policy` over the snapshots `filter` selects and, unless
/// `dry_run`, removes the records of those it does not keep. Fails if any
/// record cannot be read (a plan must not be made on a partial list).
pub async fn forget(
    repo: &Repository,
    policy: &KeepPolicy,
    opts: &PlanOptions,
    filter: &SnapshotFilter,
    dry_run: bool,
) -> Result<ForgetReport> {
    repo.require_admin("forget snapshots")?;
    let selected: Vec<(SnapshotId, Snapshot)> = repo
        .snapshots()
        .await?
        .into_iter()
        .filter(|(id, s)| filter.matches(id, s))
        .collect();
    let mut plan = plan_retention(&selected, policy, opts)?;
    keep_held(repo, &mut plan).await?;
    let doomed = plan.remove();
    let removed = match dry_run {
        true => Vec::new(),
        false => remove_records(repo, doomed).await?,
    };
    Ok(ForgetReport { plan, removed })
}

/// Keeps every snapshot under an active hold, whatever the policy decided
/// (see the `hold` module); the reason says which hold.
async fn keep_held(repo: &Repository, plan: &mut RetentionPlan) -> Result<()> {
    let held = crate::hold::active_holds(repo).await?;
    for g in &mut plan.groups {
        for d in g.decisions.iter_mut().filter(|d| !d.keep) {
            if let Some(h) = held.get(&d.id) {
                d.keep = true;
                d.reasons.push(match h.reason.is_empty() {
                    true => "held".to_owned(),
                    false => format!("held: {}", h.reason),
                });
            }
        }
    }
    Ok(())
}

/// Journals the removal of `doomed`, then removes each record: a signed
/// tombstone first (when the handle holds the admin authority), then the
/// record itself. Returns the ids removed.
pub(crate) async fn remove_records(
    repo: &Repository,
    doomed: Vec<SnapshotId>,
) -> Result<Vec<SnapshotId>> {
    let mut removed = Vec::new();
    if doomed.is_empty() {
        return Ok(removed);
    }
    // The last check before anything is journaled or removed: whoever
    // calls, a held snapshot stays.
    crate::hold::refuse_held(repo, &doomed).await?;
    // Recorded before anything is removed: no forget goes unjournaled.
    let gone = crate::journal::counts([("snapshots", doomed.len() as u64)]);
    let op = crate::journal::Operation::Forget {
        snapshots: doomed.iter().map(|id| id.to_string()).collect(),
    };
    crate::journal::record(repo, op, Default::default(), gone).await?;
    for id in doomed {
        let signed = repo.authority().is_some();
        if signed {
            repo.write_tombstone(&id).await?;
        }
        match repo.backend().delete(&snapshot_key(&id)).await {
            // An append-only store keeps the record; the tombstone
            // already hides it, and an admin's prune deletes it.
            Err(e) if signed && e.is_not_permitted() => removed.push(id),
            Err(e) if !e.is_not_found() => return Err(e.into()),
            _ => removed.push(id),
        }
    }
    Ok(removed)
}
