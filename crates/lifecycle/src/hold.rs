//! Holds: an admin puts a snapshot on hold (a legal hold, an incident
//! under investigation) and `forget` — by policy or by id — `prune`, `tag`
//! and `rewrite --forget` keep it, whatever a policy says, until the hold
//! is released or its `until` time has passed.
//!
//! A hold is an admin-signed record, `holds/<snapshot id>` (format:
//! `cairn_cas_core::repo::signed`, magic `CRHD`). A hold that does not
//! verify — planted by a backup key holder, which can seal but not sign —
//! protects nothing and is reported as ignored: it must not let anyone
//! without the admin role block retention. Holding and releasing are
//! admin-only ([`Error::NotAdmin`] names the role
//! otherwise) and journaled (`hold` after the record is written, `release`
//! before it is deleted, as every removal).
//!
//! # Limits
//!
//! - The check is made when forget runs: a hold written by another admin
//!   while a forget is already removing records does not stop that forget.
//! - `until` is compared with this machine's clock, like every retention
//!   decision `--keep-within --from-now` makes.
//! - Release deletes the record; someone able to write the storage can
//!   put an old, validly signed copy back, which holds the snapshot again
//!   (the safe direction: it keeps data, it removes none).

use std::collections::BTreeMap;

use jiff::Timestamp;

pub use cairn_cas_core::repo::{Hold, Holds, HOLDS};

use crate::journal::{counts, record, record_after, Operation};
use crate::{Error, Repository, Result, SnapshotId};

/// Whether `hold` still protects its snapshot at `now`: it has no `until`,
/// or `until` is later than `now`. An `until` that does not parse (a newer
/// writer's form) protects: the safe direction.
pub fn protects(hold: &Hold, now: Timestamp) -> bool {
    match &hold.until {
        None => true,
        Some(t) => t.parse::<Timestamp>().map_or(true, |t| t > now),
    }
}

/// The snapshots under a hold that verifies and has not expired, with it.
pub async fn active_holds(repo: &Repository) -> Result<BTreeMap<SnapshotId, Hold>> {
    let now = Timestamp::now();
    let mut out = BTreeMap::new();
    for (id, hold) in repo.holds().await?.valid {
        if let (Ok(id), true) = (id.parse::<SnapshotId>(), protects(&hold, now)) {
            out.insert(id, hold);
        }
    }
    Ok(out)
}

/// The error [`Error::Held`] for snapshot `id` under `hold`.
pub fn held_error(id: &SnapshotId, hold: &Hold) -> Error {
    let mut reason = match hold.reason.is_empty() {
        true => "no reason given".to_owned(),
        false => hold.reason.clone(),
    };
    if let Some(t) = &hold.until {
        reason.push_str(&format!(", until {t}"));
    }
    Error::Held {
        snapshot: id.to_string(),
        reason,
    }
}

/// Puts snapshot `id` on hold until `until` (`None`: until released),
/// for `reason`; replaces a hold it already has. Admins only; the snapshot
/// must be live ([`Error::SnapshotNotFound`] otherwise). Journaled as
/// `hold` once the record is stored.
pub async fn hold_snapshot(
    repo: &Repository,
    id: &SnapshotId,
    until: Option<Timestamp>,
    reason: &str,
) -> Result<Hold> {
    repo.require_admin("hold snapshots")?;
    if !repo.snapshot_ids().await?.contains(id) {
        return Err(Error::SnapshotNotFound {
            query: id.to_string(),
        });
    }
    let until = until.map(|t| format!("{t:.0}"));
    let hold = repo.write_hold(id.as_ref(), until.clone(), reason).await?;
    let op = Operation::Hold {
        snapshot: id.to_string(),
        until,
        reason: reason.to_owned(),
    };
    record_after(repo, op, counts([("holds", 1)]), Default::default()).await?;
    Ok(hold)
}

/// Releases the hold on snapshot `id`; returns whether there was one
/// (none: nothing is written). Admins only; journaled as `release` before
/// the record is deleted.
pub async fn release_snapshot(repo: &Repository, id: &SnapshotId) -> Result<bool> {
    repo.require_admin("release snapshots")?;
    let object = format!("{HOLDS}{id}");
    match repo.backend().stat(&object).await {
        Err(e) if e.is_not_found() => return Ok(false),
        r => r?,
    };
    let op = Operation::Release {
        snapshot: id.to_string(),
    };
    record(repo, op, Default::default(), counts([("holds", 1)])).await?;
    match repo.backend().delete(&object).await {
        Err(e) if !e.is_not_found() => Err(e.into()),
        _ => Ok(true),
    }
}

/// Fails with [`Error::Held`] if any of `ids` is under an active hold.
pub(crate) async fn refuse_held(repo: &Repository, ids: &[SnapshotId]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let held = active_holds(repo).await?;
    match ids.iter().find_map(|id| Some((id, held.get(id)?))) {
        Some((id, hold)) => Err(held_error(id, hold)),
        None => Ok(()),
    }
}
