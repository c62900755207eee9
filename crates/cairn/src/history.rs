//! Changing snapshots after the fact: tags, holds, and (in
//! `cairn-lifecycle`) rewrites. Each is admin-only and journaled.

use crate::cas::hold::Hold;
use crate::cas::rewrite::{RewriteOptions, RewriteReport};
use crate::cas::tag::{TagChange, TagReport};
use crate::cas::SnapshotId;
use crate::jiff::Timestamp;
use crate::metrics::timed;
use crate::{Repository, Result};

impl Repository {
    /// Changes the tags of the snapshots `ids` (full ids): each changed
    /// one gets a new record and the old one is removed like a forget (see
    /// [`cas::tag`](crate::cas::tag)). Operation `tag`.
    pub async fn tag_snapshots(&self, ids: &[SnapshotId], change: &TagChange) -> Result<TagReport> {
        let run = crate::cas::tag::tag_snapshots(&self.inner, ids, change);
        timed("tag", tracing::info_span!("cairn.tag"), run).await
    }

    /// Puts snapshot `id` on hold until `until` (`None`: until released):
    /// forget and prune keep it whatever a policy says (see
    /// [`cas::hold`](crate::cas::hold)). Operation `hold`.
    pub async fn hold(
        &self,
        id: &SnapshotId,
        until: Option<Timestamp>,
        reason: &str,
    ) -> Result<Hold> {
        let run = crate::cas::hold::hold_snapshot(&self.inner, id, until, reason);
        timed("hold", tracing::info_span!("cairn.hold"), run).await
    }

    /// Releases the hold on snapshot `id`; whether there was one.
    /// Operation `release`.
    pub async fn release(&self, id: &SnapshotId) -> Result<bool> {
        let run = crate::cas::hold::release_snapshot(&self.inner, id);
        timed("release", tracing::info_span!("cairn.release"), run).await
    }

    /// Rewrites the snapshots `ids` without the paths `exclude` matches,
    /// reusing every chunk; with [`RewriteOptions::forget`] the originals
    /// go (see [`cas::rewrite`](crate::cas::rewrite)). Operation `rewrite`.
    pub async fn rewrite_snapshots(
        &self,
        ids: &[SnapshotId],
        exclude: &crate::Patterns,
        opts: &RewriteOptions,
    ) -> Result<RewriteReport> {
        let run = crate::cas::rewrite::rewrite_snapshots(&self.inner, ids, exclude, opts);
        let span = tracing::info_span!("cairn.rewrite", forget = opts.forget);
        timed("rewrite", span, run).await
    }

    /// Every hold stored: those that verify (expired ones included, see
    /// [`cas::hold::protects`](crate::cas::hold::protects)) and those
    /// ignored.
    pub async fn holds(&self) -> Result<crate::cas::hold::Holds> {
        Ok(self.inner.holds().await?)
    }
}
