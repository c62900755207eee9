//! [`Repository`]: the one entry type, with the workflow as methods.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use cairn_backends::Backend;
use cairn_cas_core::{
    BackupOptions, BackupResult, InitOptions, OpenOptions, Snapshot, SnapshotId, SnapshotQuery,
};
use cairn_recovery::{
    CheckOptions, CheckReport, RestoreOptions, RestorePlan, RestoreSummary, VerifyReport,
};

use tracing::Instrument;

use crate::hooks::{BackupOutcome, Hooks, NoHooks};
use crate::location::{Location, LocationWarning, OpenedLocation};
use crate::metrics::{self as m, Operation};
use crate::progress::{Bridge, Progress};
use crate::{Error, Result};

/// A repository opened with a password: back up, plan and run restores,
/// verify, check.
///
/// Cheap to share behind an `Arc`; reads run from many tasks at once. One
/// backup at a time per `Repository` value is enforced (a second concurrent
/// [`backup`](Self::backup) gets [`Error::BackupRunning`]); separate values,
/// processes and machines may back up into one repository at once.
pub struct Repository {
    inner: Arc<cairn_cas_core::Repository>,
    #[cfg(feature = "erasure")]
    erasure: Option<Arc<cairn_erasure::ErasureBackend>>,
    warnings: Vec<LocationWarning>,
    backing_up: AtomicBool,
    hooks: RwLock<Arc<dyn Hooks>>,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("inner", &self.inner)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// Opens `location` off the async executor (it checks directories and
/// reads layout files).
async fn opened(location: &Location, create: bool) -> Result<OpenedLocation> {
    let location = location.clone();
    blocking::unblock(move || match create {
        true => location.create(),
        false => location.open(),
    })
    .await
}

impl Repository {
    /// Creates a repository at `location` (creating its directories),
    /// protected by `password`.
    pub async fn init(location: &Location, password: &[u8], opts: InitOptions) -> Result<Self> {
        let at = opened(location, true).await?;
        let inner = cairn_cas_core::Repository::init(at.backend.clone(), password, opts).await?;
        Ok(Self::wrap(inner, at))
    }

    /// Opens the repository at `location` with `password`. Nothing is
    /// created; see [`warnings`](Self::warnings) for what to tell the user.
    pub async fn open(location: &Location, password: &[u8]) -> Result<Self> {
        Self::open_with(location, password, OpenOptions::default()).await
    }

    /// Opens the repository at `location` with `password` and `opts`: key
    /// file cost ceilings, and the local metadata cache
    /// ([`OpenOptions::cache`], off by default), which keeps index objects,
    /// snapshot records and trees on this machine so that remote
    /// repositories do not send them again.
    pub async fn open_with(
        location: &Location,
        password: &[u8],
        opts: OpenOptions,
    ) -> Result<Self> {
        let at = opened(location, false).await?;
        let inner =
            cairn_cas_core::Repository::open_with(at.backend.clone(), password, opts).await?;
        Ok(Self::wrap(inner, at))
    }

    /// Creates a repository on a backend built by the caller.
    pub async fn init_on(
        backend: Arc<dyn Backend>,
        password: &[u8],
        opts: InitOptions,
    ) -> Result<Self> {
        let inner = cairn_cas_core::Repository::init(backend, password, opts).await?;
        Ok(Self::from_inner(inner))
    }

    /// Opens a repository on a backend built by the caller.
    pub async fn open_on(backend: Arc<dyn Backend>, password: &[u8]) -> Result<Self> {
        Self::open_on_with(backend, password, OpenOptions::default()).await
    }

    /// Opens a repository on a backend built by the caller, with `opts`
    /// (see [`open_with`](Self::open_with)).
    pub async fn open_on_with(
        backend: Arc<dyn Backend>,
        password: &[u8],
        opts: OpenOptions,
    ) -> Result<Self> {
        let inner = cairn_cas_core::Repository::open_with(backend, password, opts).await?;
        Ok(Self::from_inner(inner))
    }

    /// Wraps a repository layer value (for calls the facade does not cover).
    pub fn from_inner(inner: cairn_cas_core::Repository) -> Self {
        Repository {
            inner: Arc::new(inner),
            #[cfg(feature = "erasure")]
            erasure: None,
            warnings: Vec::new(),
            backing_up: AtomicBool::new(false),
            hooks: RwLock::new(Arc::new(NoHooks)),
        }
    }

    fn wrap(inner: cairn_cas_core::Repository, at: OpenedLocation) -> Self {
        Repository {
            #[cfg(feature = "erasure")]
            erasure: at.erasure,
            warnings: at.warnings,
            ..Self::from_inner(inner)
        }
    }

    /// The repository layer (`cairn::cas`), for what the facade does not wrap.
    pub fn inner(&self) -> &cairn_cas_core::Repository {
        &self.inner
    }

    /// What opening the location found that the user should hear about.
    pub fn warnings(&self) -> &[LocationWarning] {
        &self.warnings
    }

    /// The erasure layer, when the location is a layout (scrub, health).
    #[cfg(feature = "erasure")]
    pub fn erasure(&self) -> Option<&Arc<cairn_erasure::ErasureBackend>> {
        self.erasure.as_ref()
    }

    /// Backs `paths` up into a new snapshot.
    pub async fn backup(
        &self,
        paths: &[PathBuf],
        opts: &BackupOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<BackupResult> {
        if self.backing_up.swap(true, Ordering::AcqRel) {
            return Err(Error::BackupRunning);
        }
        // Cleared however the future ends (completion, error, or drop).
        struct Running<'a>(&'a AtomicBool);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _running = Running(&self.backing_up);
        let hooks = self.hooks();
        hooks
            .before_backup(paths)
            .await
            .map_err(|source| Error::Hook {
                stage: "before backup",
                source,
            })?;
        let result = self.backup_inner(paths, opts, progress).await;
        let outcome = match &result {
            Ok(done) => BackupOutcome::Stored(done),
            Err(e) => BackupOutcome::Failed(e),
        };
        let after = hooks.after_backup(paths, outcome).await;
        let done = result?;
        after.map_err(|source| Error::Hook {
            stage: "after backup",
            source,
        })?;
        Ok(done)
    }

    async fn backup_inner(
        &self,
        paths: &[PathBuf],
        opts: &BackupOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<BackupResult> {
        let progress = Arc::new(Bridge(progress));
        let op = Operation::start("backup");
        let span =
            tracing::info_span!("cairn.backup", paths = ?paths, snapshot = tracing::field::Empty);
        let result = cairn_cas_core::backup(&self.inner, paths, opts, progress)
            .instrument(span.clone())
            .await;
        if let Ok(done) = &result {
            if let Some(id) = &done.snapshot_id {
                span.record("snapshot", id.as_str());
            }
            m::backup(&done.snapshot.summary, done.warnings.len());
        }
        op.finish(&result);
        self.record_erasure_metrics().await;
        Ok(result?)
    }

    /// Sets the erasure gauges (under-replicated objects, child states):
    /// after every backup, and whenever a service wants fresh values.
    pub async fn record_erasure_metrics(&self) {
        #[cfg(feature = "erasure")]
        if let Some(store) = &self.erasure {
            let degraded = store.degraded().await;
            m::erasure(store, degraded.objects);
        }
    }

    /// Every readable snapshot `query` selects (`&SnapshotQuery::latest()`:
    /// all of them), oldest first, and the errors of the records that cannot
    /// be read (one damaged record does not hide the others).
    pub async fn snapshots(
        &self,
        query: &SnapshotQuery,
    ) -> Result<(Vec<(SnapshotId, Snapshot)>, Vec<cairn_cas_core::Error>)> {
        Ok(self.inner.select_snapshots(query).await?)
    }

    /// The snapshot `query` picks: the one its id prefix names, or else the
    /// newest that matches (host, paths, tags, as of a time). Parse a
    /// command-line argument (`latest` or an id prefix) with
    /// `arg.parse::<SnapshotQuery>()`.
    pub async fn snapshot(&self, query: &SnapshotQuery) -> Result<(SnapshotId, Snapshot)> {
        Ok(self.inner.find_snapshot(query).await?)
    }

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
        let progress = Arc::new(Bridge(progress));
        let op = Operation::start("restore");
        let span = tracing::info_span!("cairn.restore", target = %opts.target.display());
        let result = cairn_recovery::restore(&self.inner, plan, opts, progress)
            .instrument(span)
            .await;
        self.restored(op, result, opts).await
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
        let progress = Arc::new(Bridge(progress));
        let op = Operation::start("restore");
        let span = tracing::info_span!("cairn.restore", target = %opts.target.display());
        let result = cairn_recovery::restore_snapshot(&self.inner, snapshot, opts, progress)
            .instrument(span)
            .await;
        self.restored(op, result, opts).await
    }

    /// Metrics and the after-restore hook of a finished restore.
    async fn restored(
        &self,
        op: Operation,
        result: cairn_recovery::Result<RestoreSummary>,
        opts: &RestoreOptions,
    ) -> Result<RestoreSummary> {
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

    /// Sets the application's [`Hooks`] for later backups and restores
    /// (freeze/thaw around a backup, validation after a restore).
    pub fn set_hooks(&self, hooks: Arc<dyn Hooks>) {
        *self.hooks.write().unwrap_or_else(|e| e.into_inner()) = hooks;
    }

    fn hooks(&self) -> Arc<dyn Hooks> {
        Arc::clone(&self.hooks.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Compares what is under `target` with `snapshot` (contents and metadata).
    pub async fn verify(&self, snapshot: &Snapshot, target: &Path) -> Result<VerifyReport> {
        Ok(cairn_recovery::verify(&self.inner, snapshot, target, &[]).await?)
    }

    /// Copies snapshots from `source` (another repository, other keys) into
    /// this one: incremental, verified on read, re-chunked only when the
    /// chunker parameters differ (see [`cas::copy`](crate::cas::copy)).
    pub async fn copy_from(
        &self,
        source: &Repository,
        opts: &cairn_cas_core::copy::CopyOptions,
    ) -> Result<cairn_cas_core::copy::CopyReport> {
        let op = Operation::start("copy");
        let result = cairn_cas_core::copy::copy(&source.inner, &self.inner, opts)
            .instrument(tracing::info_span!("cairn.copy"))
            .await;
        op.finish(&result);
        Ok(result?)
    }

    /// Checks the repository's structure, and reads back the fraction of
    /// the data `opts` asks for. Always from the storage: a handle opened
    /// with the metadata cache checks through a second handle without it
    /// (its own index, loaded from the backend).
    pub async fn check(&self, opts: &CheckOptions) -> Result<CheckReport> {
        let op = Operation::start("check");
        let result = async {
            match self.inner.cache() {
                None => cairn_recovery::check(&self.inner, opts).await,
                Some(_) => {
                    let uncached = self.inner.without_cache().await?;
                    cairn_recovery::check(&uncached, opts).await
                }
            }
        }
        .instrument(tracing::info_span!("cairn.check"))
        .await;
        if let Ok(report) = &result {
            metrics::gauge!(m::CHECK_ERRORS).set(report.errors.len() as f64);
        }
        op.finish(&result);
        Ok(result?)
    }

    /// Starts a new key epoch (admins): new data is sealed under a fresh
    /// root granted to every remaining key file; [`prune`](cairn_cas_core::prune)
    /// re-encrypts older epochs. See [`cairn_cas_core::Repository::rotate_keys`].
    pub async fn rotate_keys(
        &self,
        opts: &cairn_cas_core::RotateOptions,
    ) -> Result<cairn_cas_core::RotateReport> {
        Ok(self.inner.rotate_keys(opts).await?)
    }

    /// Removes a key file (id or unambiguous prefix) and, by default,
    /// starts a key epoch its holder never sees. See
    /// [`cairn_cas_core::Repository::remove_key_with`].
    pub async fn remove_key(
        &self,
        query: &str,
        opts: &cairn_cas_core::RemoveOptions,
    ) -> Result<cairn_cas_core::RemoveReport> {
        Ok(self.inner.remove_key_with(query, opts).await?)
    }

    /// Bytes stored under each key epoch (packs, index objects, snapshot
    /// records): after a rotation and a prune, none under older epochs but
    /// the snapshot records.
    pub async fn epoch_usage(&self) -> Result<cairn_cas_core::EpochReport> {
        Ok(self.inner.epoch_usage().await?)
    }
}
