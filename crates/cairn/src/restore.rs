//! Restores on the facade: plan, run (a plan, an owned plan, or a whole
//! snapshot in windows), verify.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cas::Snapshot;
use cairn_recovery::{RestoreOptions, RestorePlan, RestoreProgress, RestoreSummary, VerifyReport};
use tracing::Instrument;

use crate::metrics::{self as m, Operation};
use crate::progress::{Bridge, Progress};
use crate::{Error, Repository, Result};

impl Repository {
    /// Plans restoring `snapshot`: a value to inspect (bytes, packs, an
    /// estimate) before running it with [`restore`](Self::restore).
    pub async fn plan_restore(
        &self,
        snapshot: &Snapshot,
        opts: &RestoreOptions,
    ) -> Result<RestorePlan> {
        Ok(cairn_recovery::plan_restore(&self.inner, snapshot, opts).await?)
    }

    /// Runs a restore plan.
    pub async fn restore(
        &self,
        plan: &RestorePlan,
        opts: &RestoreOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<RestoreSummary> {
        self.restoring(opts, progress, |p| {
            cairn_recovery::restore(&self.inner, plan, opts, p)
        })
        .await
    }

    /// Runs a restore plan it takes over: the plan is most of a restore's
    /// memory, and this way it is held once (see [`cairn_recovery::restore_owned`]).
    pub async fn restore_owned(
        &self,
        plan: RestorePlan,
        opts: &RestoreOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<RestoreSummary> {
        self.restoring(opts, progress, |p| {
            cairn_recovery::restore_owned(&self.inner, plan, opts, p)
        })
        .await
    }

    /// Plans and runs a restore of `snapshot` in one call,
    /// [`RestoreOptions::window`] files at a time: its memory is bounded by
    /// the window instead of growing with the snapshot's file count (see
    /// [`cairn_recovery::restore_snapshot`]).
    pub async fn restore_snapshot(
        &self,
        snapshot: &Snapshot,
        opts: &RestoreOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<RestoreSummary> {
        self.restoring(opts, progress, |p| {
            cairn_recovery::restore_snapshot(&self.inner, snapshot, opts, p)
        })
        .await
    }

    /// What every restore shares: the progress bridge, the `cairn.restore`
    /// span, the operation metric and byte counters, the after-restore hook.
    async fn restoring<F, Fut>(
        &self,
        opts: &RestoreOptions,
        progress: Arc<dyn Progress>,
        run: F,
    ) -> Result<RestoreSummary>
    where
        F: FnOnce(Arc<dyn RestoreProgress>) -> Fut,
        Fut: Future<Output = cairn_recovery::Result<RestoreSummary>>,
    {
        let op = Operation::start("restore");
        let span = tracing::info_span!("cairn.restore", target = %opts.target.display());
        let result = run(Arc::new(Bridge(progress))).instrument(span).await;
        if let Ok(s) = &result {
            metrics::counter!(m::RESTORE_BYTES_WRITTEN_TOTAL).increment(s.bytes_written);
            metrics::counter!(m::RESTORE_BYTES_FETCHED_TOTAL).increment(s.bytes_fetched);
        }
        op.finish(&result);
        let summary = result?;
        self.hooks()
            .after_restore(&opts.target, &summary)
            .await
            .map_err(|source| Error::Hook {
                stage: "after restore",
                source,
            })?;
        Ok(summary)
    }

    /// Compares what is under `target` with `snapshot` (contents and metadata).
    pub async fn verify(&self, snapshot: &Snapshot, target: &Path) -> Result<VerifyReport> {
        self.verify_paths(snapshot, target, &[]).await
    }

    /// Like [`verify`](Self::verify), only for the snapshot paths `include`
    /// (and what is below them); empty: everything.
    pub async fn verify_paths(
        &self,
        snapshot: &Snapshot,
        target: &Path,
        include: &[PathBuf],
    ) -> Result<VerifyReport> {
        let op = Operation::start("verify");
        let result = cairn_recovery::verify(&self.inner, snapshot, target, include)
            .instrument(tracing::info_span!("cairn.verify", target = %target.display()))
            .await;
        op.finish(&result);
        Ok(result?)
    }
}
