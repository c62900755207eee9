//! [`Repository`]: the one entry type, with the workflow as methods. The
//! methods live by topic: `backup.rs`, `restore.rs`, `lifecycle.rs`
//! (forget, prune), `maintenance.rs` (check, repair, copy), `inspect.rs`
//! (diff, find, trees, stats), `browse.rs` (one file as a seekable
//! stream), `keys.rs`, `audit.rs`, `erasure_ops.rs`,
//! `tenant.rs`.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};

use crate::cas::{InitOptions, OpenWarning, RepoConfig, Snapshot, SnapshotId, SnapshotQuery};
use cairn_backends::Backend;

use crate::hooks::{Hooks, NoHooks};
use crate::location::{Location, LocationWarning, OpenedLocation};
use crate::options::OpenOptions;
use crate::Result;

/// A repository opened with a password: back up, plan and run restores,
/// verify, check, forget and prune, repair, inspect, manage keys.
///
/// Cheap to share behind an `Arc`; reads run from many tasks at once. One
/// backup at a time per `Repository` value is enforced (a second concurrent
/// [`backup`](Self::backup) gets [`Error::BackupRunning`](crate::Error::BackupRunning));
/// separate values, processes and machines may back up into one repository at once.
pub struct Repository {
    pub(crate) inner: Arc<crate::cas::Repository>,
    /// The whole repository's storage, as opened (rate-limited,
    /// append-only): a tenant's view lists it too, for `stats`.
    pub(crate) storage: Arc<dyn Backend>,
    #[cfg(feature = "erasure")]
    pub(crate) erasure: Option<Arc<cairn_erasure::ErasureBackend>>,
    warnings: Vec<LocationWarning>,
    pub(crate) backing_up: AtomicBool,
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
        Self::init_in(at, password, opts).await
    }

    /// Creates a repository in a location the caller opened with
    /// [`Location::create`] (to show its [`warnings`](OpenedLocation::warnings)
    /// before the slow key derivation, or whatever happens next).
    pub async fn init_in(at: OpenedLocation, password: &[u8], opts: InitOptions) -> Result<Self> {
        let inner = crate::cas::Repository::init(at.backend.clone(), password, opts).await?;
        Ok(Self::wrap(inner, at))
    }

    /// Opens the repository at `location` with `password`. Nothing is
    /// created; see [`warnings`](Self::warnings) for what to tell the user.
    pub async fn open(location: &Location, password: &[u8]) -> Result<Self> {
        Self::open_with(location, password, OpenOptions::default()).await
    }

    /// Opens the repository at `location` with `password` and `opts`: key
    /// file cost ceilings, the local metadata cache
    /// ([`OpenOptions::cache`], off by default, which keeps index objects,
    /// snapshot records and trees on this machine so that remote
    /// repositories do not send them again), rate limits and append-only.
    pub async fn open_with(
        location: &Location,
        password: &[u8],
        opts: OpenOptions,
    ) -> Result<Self> {
        let at = opened(location, false).await?;
        Self::open_in(at, password, opts).await
    }

    /// Opens the repository in a location the caller opened with
    /// [`Location::open`] (to show its [`warnings`](OpenedLocation::warnings)
    /// first, whatever opening the repository then says), with `opts`.
    pub async fn open_in(
        mut at: OpenedLocation,
        password: &[u8],
        opts: OpenOptions,
    ) -> Result<Self> {
        at.backend = opts.wrap(at.backend);
        let inner =
            crate::cas::Repository::open_with(at.backend.clone(), password, opts.repository)
                .await?;
        Ok(Self::wrap(inner, at))
    }

    /// Creates a repository on a backend built by the caller.
    pub async fn init_on(
        backend: Arc<dyn Backend>,
        password: &[u8],
        opts: InitOptions,
    ) -> Result<Self> {
        let inner = crate::cas::Repository::init(backend, password, opts).await?;
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
        let backend = opts.wrap(backend);
        let inner = crate::cas::Repository::open_with(backend, password, opts.repository).await?;
        Ok(Self::from_inner(inner))
    }

    /// Wraps a repository layer value (for calls the facade does not cover).
    pub fn from_inner(inner: crate::cas::Repository) -> Self {
        Repository {
            storage: Arc::clone(inner.backend()),
            inner: Arc::new(inner),
            #[cfg(feature = "erasure")]
            erasure: None,
            warnings: Vec::new(),
            backing_up: AtomicBool::new(false),
            hooks: RwLock::new(Arc::new(NoHooks)),
        }
    }

    fn wrap(inner: crate::cas::Repository, at: OpenedLocation) -> Self {
        Repository {
            storage: at.backend,
            #[cfg(feature = "erasure")]
            erasure: at.erasure,
            warnings: at.warnings,
            ..Self::from_inner(inner)
        }
    }

    /// A view on `inner` (a tenant of this repository): the same storage
    /// and erasure layer, hooks and warnings of its own.
    pub(crate) fn view(&self, inner: crate::cas::Repository) -> Self {
        Repository {
            storage: Arc::clone(&self.storage),
            #[cfg(feature = "erasure")]
            erasure: self.erasure.clone(),
            ..Self::from_inner(inner)
        }
    }

    /// The repository layer (`cairn::cas`), for what the facade does not wrap.
    pub fn inner(&self) -> &crate::cas::Repository {
        &self.inner
    }

    /// What opening the location found that the user should hear about.
    pub fn warnings(&self) -> &[LocationWarning] {
        &self.warnings
    }

    /// What opening the repository skipped (key files, index objects, key
    /// epochs) and why: show these to the user.
    pub fn open_warnings(&self) -> Vec<OpenWarning> {
        self.inner.open_warnings()
    }

    /// The repository's configuration (id, chunker, compression, pack size).
    pub fn config(&self) -> &RepoConfig {
        self.inner.config()
    }

    /// The tenant this value works in, when it is a tenant's view.
    pub fn tenant(&self) -> Option<&crate::cas::tenant::TenantView> {
        self.inner.tenant()
    }

    /// The erasure layer, when the location is a layout (scrub, health).
    #[cfg(feature = "erasure")]
    pub fn erasure(&self) -> Option<&Arc<cairn_erasure::ErasureBackend>> {
        self.erasure.as_ref()
    }

    /// Every readable snapshot `query` selects (`&SnapshotQuery::latest()`:
    /// all of them), oldest first, and the errors of the records that cannot
    /// be read (one damaged record does not hide the others).
    pub async fn snapshots(
        &self,
        query: &SnapshotQuery,
    ) -> Result<(Vec<(SnapshotId, Snapshot)>, Vec<crate::cas::Error>)> {
        Ok(self.inner.select_snapshots(query).await?)
    }

    /// The snapshot `query` picks: the one its id prefix names, or else the
    /// newest that matches (host, paths, tags, as of a time). Parse a
    /// command-line argument (`latest` or an id prefix) with
    /// `arg.parse::<SnapshotQuery>()`.
    pub async fn snapshot(&self, query: &SnapshotQuery) -> Result<(SnapshotId, Snapshot)> {
        Ok(self.inner.find_snapshot(query).await?)
    }

    /// Sets the application's [`Hooks`] for later backups and restores
    /// (freeze/thaw around a backup, validation after a restore).
    pub fn set_hooks(&self, hooks: Arc<dyn Hooks>) {
        *self.hooks.write().unwrap_or_else(|e| e.into_inner()) = hooks;
    }

    pub(crate) fn hooks(&self) -> Arc<dyn Hooks> {
        Arc::clone(&self.hooks.read().unwrap_or_else(|e| e.into_inner()))
    }
}
