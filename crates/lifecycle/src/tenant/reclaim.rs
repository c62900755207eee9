//! Prune's part in shredding: the namespaces of shredded tenants are
//! garbage as a whole.
//!
//! A shredded tenant's index and trees cannot be read any more (that is
//! the point), so prune cannot decide pack by pack; it does not need to.
//! Under a shred record that verifies with the admin authority (a version 1
//! admin, which has none, reclaims nothing and says so), and only when no
//! key object of another tenant names the namespace, *every*
//! object under `tenants/<namespace>/` is deleted, from a complete listing
//! (an incomplete one deletes nothing there and is reported).
//!
//! Why this is safe against a backup into that tenant that is still
//! running: nothing under a shredded namespace may be acknowledged any more
//! — the writer checks the shred record before indexing and after writing
//! its snapshot record (`Session::killed`), and withdraws — so deleting
//! what it wrote loses nothing acknowledged. What it uploads after this
//! run is deleted by the next. A namespace created again under the same
//! name is a new random namespace, never touched here.

use futures::TryStreamExt;
use serde::Serialize;

use super::{namespace_prefix, TENANT_SHREDS};
use crate::open::list_tolerant;
use crate::{Repository, Result};

/// What a prune reclaimed from shredded tenants.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReclaimReport {
    /// Shredded namespaces looked at.
    pub namespaces: Vec<String>,
    /// Objects deleted under them.
    pub objects_deleted: u64,
    /// Their bytes.
    pub bytes_deleted: u64,
    /// Stray pieces (erasure layouts) removed under them.
    pub pieces_deleted: u64,
    /// Shred records ignored: their signature does not verify.
    pub ignored_records: Vec<String>,
    /// Namespaces not reclaimed this time, with the reason (a listing that
    /// could not be shown complete, a failed delete); the next prune tries
    /// again.
    pub errors: Vec<String>,
}

/// Deletes everything under the namespaces of validly shredded tenants.
pub(crate) async fn reclaim_shredded(
    repo: &Repository,
    partial: Option<&dyn cairn_backends::PartialObjects>,
) -> Result<ReclaimReport> {
    repo.require_admin("prune")?;
    let mut report = ReclaimReport::default();
    let (records, _) = list_tolerant(&**repo.backend(), TENANT_SHREDS).await?;
    if repo.authority().is_none() {
        // A version 1 admin cannot verify a shred record, and a writer's
        // "treat as shredded" is no ground for deleting a namespace: a
        // record anyone can plant would steer the deletion.
        if !records.is_empty() {
            report.errors.push(format!(
                "{TENANT_SHREDS}: not reclaimed: this key file (version 1) has no admin authority \
                 to verify shred records with; change its password (which writes a version 3 \
                 admin file) and prune again"
            ));
        }
        return Ok(report);
    }
    for m in records {
        let rest = m.key.trim_start_matches(TENANT_SHREDS);
        let Some((id, ns)) = rest.split_once('/') else {
            report.ignored_records.push(m.key);
            continue;
        };
        if !repo.shred_recorded(id, ns).await? {
            report.ignored_records.push(m.key);
            continue;
        }
        if let Some(claim) = repo.namespace_claimed_elsewhere(id, ns).await? {
            report.errors.push(format!(
                "{}: not reclaimed: {claim} (another tenant) names this namespace",
                namespace_prefix(ns)
            ));
            continue;
        }
        report.namespaces.push(ns.to_owned());
        if let Err(e) = reclaim_one(repo, partial, ns, &mut report).await {
            report.errors.push(format!("{}: {e}", namespace_prefix(ns)));
        }
    }
    Ok(report)
}

async fn reclaim_one(
    repo: &Repository,
    partial: Option<&dyn cairn_backends::PartialObjects>,
    ns: &str,
    report: &mut ReclaimReport,
) -> Result<()> {
    let prefix = namespace_prefix(ns);
    // Strict: an incomplete listing fails here and deletes nothing.
    let listed: Vec<_> = repo.backend().list(&prefix).try_collect().await?;
    for m in listed {
        match repo.backend().delete(&m.key).await {
            Ok(()) => {
                report.objects_deleted += 1;
                report.bytes_deleted += m.size;
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(p) = partial {
        for key in p.partial_keys(&prefix).await? {
            report.pieces_deleted += p.delete_pieces(&key).await? as u64;
        }
    }
    Ok(())
}
