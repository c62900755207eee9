//! Forget and prune on the facade: a retention policy removes snapshot
//! records (cheap), a prune reclaims the data no snapshot references —
//! safely while backups run (see [`cas::prune`](crate::cas::prune)).

use crate::cas::prune::{ForgetReport, PruneOptions, PrunePlan, PruneReport};
use crate::cas::retention::{KeepPolicy, PlanOptions};
use crate::cas::SnapshotQuery;

use crate::metrics::timed;
use crate::{Repository, Result};

impl Repository {
    /// Forgets the snapshots `ids` (full ids; resolve prefixes with
    /// [`snapshot`](Self::snapshot)), as a policy's forget would: admins
    /// only, journaled, each hidden by a signed tombstone; returns the ids
    /// removed (on a dry run, the ids that would be). An unknown id fails
    /// before anything is removed. Operation `forget`.
    pub async fn forget_snapshots(
        &self,
        ids: &[cairn_cas_core::SnapshotId],
        dry_run: bool,
    ) -> Result<Vec<cairn_cas_core::SnapshotId>> {
        let run = cairn_lifecycle::prune::forget_snapshots(&self.inner, ids, dry_run);
        timed("forget", tracing::info_span!("cairn.forget", dry_run), run).await
    }

    /// Plans `policy` over the snapshots `filter` selects and, unless
    /// `dry_run`, removes the records of those it does not keep (admins
    /// only; each removal is signed). Fails if any record cannot be read: a
    /// plan is never made on a partial list. Operation `forget`.
    pub async fn forget(
        &self,
        policy: &KeepPolicy,
        opts: &PlanOptions,
        filter: &SnapshotQuery,
        dry_run: bool,
    ) -> Result<ForgetReport> {
        let run = crate::cas::prune::forget(&self.inner, policy, opts, filter, dry_run);
        timed("forget", tracing::info_span!("cairn.forget", dry_run), run).await
    }

    /// Plans a prune: what is unreferenced, what to repack, what it frees.
    /// Changes nothing; run it with [`prune`](Self::prune). On an erasure
    /// layout (not a tenant's view) the plan also condemns stray shards.
    pub async fn prune_plan(&self, opts: &PruneOptions) -> Result<PrunePlan> {
        let opts = self.prune_options(opts);
        let run = crate::cas::prune::prune_plan(&self.inner, &opts);
        timed("prune_plan", tracing::info_span!("cairn.prune_plan"), run).await
    }

    /// Runs a prune plan from [`prune_plan`](Self::prune_plan) with the
    /// same `opts`. Operation `prune`.
    pub async fn prune(&self, opts: &PruneOptions, plan: PrunePlan) -> Result<PruneReport> {
        let opts = self.prune_options(opts);
        let span = tracing::info_span!("cairn.prune", packs_to_delete = plan.packs_to_delete.len());
        let run = crate::cas::prune::prune(&self.inner, &opts, plan);
        timed("prune", span, run).await
    }

    /// `opts`, with the erasure layout's stray shards (failed deletes,
    /// crashed writes) to condemn too — not on a tenant's view: strays are
    /// found by prefix over the whole layout, and other namespaces' writers
    /// are not this prune's sessions.
    fn prune_options(&self, opts: &PruneOptions) -> PruneOptions {
        #[allow(unused_mut)]
        let mut opts = opts.clone();
        #[cfg(feature = "erasure")]
        if let (Some(store), None, None) = (&self.erasure, self.tenant(), &opts.partial) {
            opts = opts.partial_objects(store.clone());
        }
        opts
    }
}
