//! Choosing snapshots: restic's `--host/--tag/--path` filters, shared by
//! `forget` and `find`, and the listing that refuses to hide a damaged
//! record.

use anyhow::{Context, Result};
use cairn::{Repository, Snapshot, SnapshotId, SnapshotQuery};
use clap::Args;

use crate::ctx::Flat;

/// The snapshot filters (all that are given must hold).
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct SnapshotFilter {
    /// Only snapshots of this host (repeatable: any).
    #[arg(long)]
    pub(crate) host: Vec<String>,
    /// Only snapshots with these tags (`a,b`: both; repeatable: any).
    #[arg(long)]
    pub(crate) tag: Vec<String>,
    /// Only snapshots that include this path (repeatable: all).
    #[arg(long)]
    pub(crate) path: Vec<String>,
}

/// `a,b` → `[a, b]`.
pub(crate) fn tag_list(s: &str) -> Vec<String> {
    s.split(',').map(str::to_owned).collect()
}

impl SnapshotFilter {
    /// The filters as a query over every snapshot.
    pub(crate) fn query(&self) -> SnapshotQuery {
        let mut q = SnapshotQuery::latest();
        for h in &self.host {
            q = q.host(h.clone());
        }
        for t in &self.tag {
            q = q.tag_group(tag_list(t));
        }
        for p in &self.path {
            q = q.path(p.clone());
        }
        q
    }
}

/// Every snapshot `query` selects, oldest first; fails on the first record
/// that cannot be read (`check` names them all) rather than leave it out.
pub(crate) async fn readable(
    repo: &Repository,
    query: &SnapshotQuery,
) -> Result<Vec<(SnapshotId, Snapshot)>> {
    let (all, unreadable) = repo
        .snapshots(query)
        .await
        .flat()
        .context("listing snapshots")?;
    if let Some(e) = unreadable.into_iter().next() {
        return Err(e).context("listing snapshots");
    }
    Ok(all)
}
