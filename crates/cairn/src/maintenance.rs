//! Checking and repairing on the facade, and copying between repositories.
//! Both judge the stored objects themselves, so both work through a handle
//! without the metadata cache: a cached copy of a tree pack lost from the
//! storage must not make it look intact.

use crate::cas::copy::{CopyOptions, CopyReport};
use crate::cas::repair::{
    RepairIndexOptions, RepairIndexReport, RepairSnapshotsOptions, RepairSnapshotsReport,
};
use cairn_recovery::{CheckOptions, CheckReport};
use tracing::Instrument;

use crate::metrics::{self as m, timed, Operation};
use crate::{Repository, Result};

impl Repository {
    /// The repository layer's handle, without the metadata cache if this
    /// one has it (a second handle with its own index, loaded from the
    /// backend).
    async fn uncached(&self) -> crate::cas::Result<UncachedHandle<'_>> {
        Ok(match self.inner.cache() {
            None => UncachedHandle::Same(&self.inner),
            Some(_) => UncachedHandle::Own(Box::new(self.inner.without_cache().await?)),
        })
    }

    /// Copies snapshots from `source` (another repository, other keys) into
    /// this one: incremental, verified on read, re-chunked only when the
    /// chunker parameters differ (see [`cas::copy`](crate::cas::copy)).
    pub async fn copy_from(&self, source: &Repository, opts: &CopyOptions) -> Result<CopyReport> {
        let run = crate::cas::copy::copy(&source.inner, &self.inner, opts);
        timed("copy", tracing::info_span!("cairn.copy"), run).await
    }

    /// Checks the repository's structure, and reads back the fraction of
    /// the data `opts` asks for. Always from the storage, never the cache.
    pub async fn check(&self, opts: &CheckOptions) -> Result<CheckReport> {
        let op = Operation::start("check");
        let result = async {
            let repo = self.uncached().await?;
            cairn_recovery::check(repo.get(), opts).await
        }
        .instrument(tracing::info_span!("cairn.check"))
        .await;
        if let Ok(report) = &result {
            metrics::gauge!(m::CHECK_ERRORS).set(report.errors.len() as f64);
        }
        op.finish(&result);
        Ok(result?)
    }

    /// Rebuilds the index from the pack headers, replacing damaged index
    /// objects (new ones are written before old ones are removed; see
    /// [`cas::repair`](crate::cas::repair)). Operation `repair_index`.
    pub async fn repair_index(&self, opts: &RepairIndexOptions) -> Result<RepairIndexReport> {
        let run = async {
            let repo = self.uncached().await?;
            crate::cas::repair::rebuild_index(repo.get(), opts).await
        };
        let span = tracing::info_span!("cairn.repair_index", dry_run = opts.dry_run);
        timed("repair_index", span, run).await
    }

    /// Rewrites snapshots that reference lost data: files truncated before
    /// their first lost chunk, unreadable directories emptied, the new
    /// snapshots tagged `repaired`. Operation `repair_snapshots`.
    pub async fn repair_snapshots(
        &self,
        opts: &RepairSnapshotsOptions,
    ) -> Result<RepairSnapshotsReport> {
        let run = async {
            let repo = self.uncached().await?;
            crate::cas::repair::repair_snapshots(repo.get(), opts).await
        };
        let span = tracing::info_span!("cairn.repair_snapshots", dry_run = opts.dry_run);
        timed("repair_snapshots", span, run).await
    }
}

/// This handle, or an uncached one of its own.
enum UncachedHandle<'a> {
    Same(&'a crate::cas::Repository),
    Own(Box<crate::cas::Repository>),
}

impl UncachedHandle<'_> {
    fn get(&self) -> &crate::cas::Repository {
        match self {
            UncachedHandle::Same(r) => r,
            UncachedHandle::Own(r) => r,
        }
    }
}
