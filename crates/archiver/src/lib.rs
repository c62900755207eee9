//! The backup side of a Cairn repository: [`backup`] walks directories (or
//! [`backup_stream`] reads one stream), chunks, dedups, seals and commits a
//! snapshot; [`diff_snapshots`] and [`find`] compare and search snapshots.
//!
//! ```
//! use std::sync::Arc;
//! use cairn_archiver::{backup, BackupOptions, NoProgress};
//! use cairn_backends::MemoryBackend;
//! use cairn_cas_core::{InitOptions, Repository};
//! use cairn_crypto::KdfParams;
//!
//! # futures::executor::block_on(async {
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("hello.txt"), b"hello, cairn")?;
//! let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
//! let repo = Repository::init(Arc::new(MemoryBackend::new()), b"secret", opts).await?;
//! let done = backup(&repo, &[dir.path().to_owned()], &BackupOptions::default(), Arc::new(NoProgress)).await?;
//! assert_eq!(done.snapshot.summary.files_new, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! This crate owns the walker (hostile sources: swapped links, FIFOs, torn
//! files), the parallel chunk/compress/seal pipeline and the commit of a
//! backup under a session lease (`cairn_cas_core::prune::Session`); the
//! repository, its formats and the deletion protocol are below it, in
//! `cairn-cas-core` and `cairn-format`. Unix only (see `Cargo.toml`).
//!
//! # Pipeline
//!
//! ```text
//!  caller's executor                 | walker thread            | worker threads (N)
//!  ----------------------------------+--------------------------+--------------------------
//!  drive(): uploads packs (bounded), | walk, stat, compare with | compress, seal, append to
//!  loads parent trees on request,    | parent, read + chunk +   | the data or tree pack;
//!  writes index objects, snapshot    | hash + dedup, build trees| full packs -> driver
//! ```
//!
//! All file-system and CPU work runs on threads this module starts; all
//! backend I/O runs on the caller's executor, reached through `futures`
//! channels, so the archiver works under tokio, smol or `block_on` alike.
//! Every queue is bounded (jobs: 2 per worker; packs: one per worker plus
//! the uploads in flight), so memory does not grow with the data set.
//!
//! # Order of writes (crash safety)
//!
//! Packs first; an index object after every [`BackupOptions::index_every`]
//! packs and at the end; the snapshot record last. A crash at any point
//! leaves only unreferenced packs or index entries, and the next backup
//! reuses every blob whose index object was written.

// This crate walks the source through directory descriptors (`openat`,
// `O_NOFOLLOW`, `statx`): Unix only, said here in one line rather than by a
// page of unresolved imports.
#[cfg(not(unix))]
compile_error!("cairn-archiver supports Unix targets only (it walks sources through directory descriptors); the repository crates below it build on other targets: see ARCHITECTURE.md, Platforms");

mod driver;
mod srcfs;
mod vroot;
mod walk_checks;
mod walker;
mod warning;
mod workers;

mod diff;
pub use diff::{diff_snapshots, diff_trees, find, Change, Diff, DiffEntry, Match};

// The rooms below, under the module names these files were written with.
use cairn_cas_core::{
    journal, prune, repo, snapshot_key, CancelToken, Error, Filter, CACHEDIR_TAG_SIGNATURE,
};
use cairn_format::{blob, filter, index, pack, snapshot, tree};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures::io::AsyncRead;

use crate::snapshot::Snapshot;
use cairn_cas_core::{Repository, Result, SnapshotId, SnapshotQuery};

pub use warning::{Warning, WarningKind};

/// Settings for one backup.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// Host name recorded (default: this machine's).
    pub host: Option<String>,
    /// Tags recorded.
    pub tags: Vec<String>,
    /// Parent snapshot to compare against; by default the latest snapshot
    /// of the same host and paths.
    pub parent: Option<SnapshotQuery>,
    /// Read every file even if the parent says it is unchanged.
    pub force: bool,
    /// Compression threads (0: one per core).
    pub workers: usize,
    /// Pack uploads in flight at once.
    pub uploads: usize,
    /// Write an index object after this many packs (so an interrupted
    /// backup's uploads are reused by the next one).
    pub index_every: usize,
    /// What to leave out.
    pub filter: crate::Filter,
    /// Walk, read, chunk and compress as a backup would, but write nothing:
    /// no pack, no index, no snapshot. The summary says what a real backup
    /// would add (files new/changed/unchanged, blobs, bytes, packs).
    pub dry_run: bool,
    /// Cancels the backup: it stops before the next file or chunk, indexes
    /// the packs already uploaded (the next backup reuses them), writes no
    /// snapshot and fails with [`crate::Error::Cancelled`].
    pub cancel: crate::CancelToken,
}

impl Default for BackupOptions {
    fn default() -> Self {
        BackupOptions {
            host: None,
            tags: Vec::new(),
            parent: None,
            force: false,
            workers: 0,
            uploads: 2,
            index_every: 8,
            filter: crate::Filter::default(),
            dry_run: false,
            cancel: crate::CancelToken::default(),
        }
    }
}

impl BackupOptions {
    /// Sets the host name.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }
    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }
    /// Sets the parent snapshot.
    pub fn parent(mut self, query: impl Into<SnapshotQuery>) -> Self {
        self.parent = Some(query.into());
        self
    }
    /// Sets what to leave out.
    pub fn filter(mut self, filter: crate::Filter) -> Self {
        self.filter = filter;
        self
    }
    /// Reads every file regardless of the parent.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
    /// Sets the token that cancels this backup.
    pub fn cancel(mut self, token: crate::CancelToken) -> Self {
        self.cancel = token;
        self
    }
    /// Sets dry-run mode (see [`BackupOptions::dry_run`]).
    pub fn dry_run(mut self, on: bool) -> Self {
        self.dry_run = on;
        self
    }
    /// Sets the number of compression threads.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }
    fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }
}

/// Receives progress from a backup (from the walker thread).
pub trait BackupProgress: Send + Sync {
    /// A file is about to be read (`size` from `lstat`).
    fn file(&self, _path: &Path, _size: u64) {}
    /// `n` more bytes of file contents were read (or found unchanged).
    fn bytes(&self, _n: u64) {}
    /// An entry was skipped, or stored with a caveat (see [`WarningKind`]).
    fn warning(&self, _warning: &Warning) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;
impl BackupProgress for NoProgress {}

/// The outcome of a backup.
#[derive(Debug, Clone)]
pub struct BackupResult {
    /// The new snapshot's id (`None` after a dry run: nothing was saved).
    pub snapshot_id: Option<SnapshotId>,
    /// The snapshot record written.
    pub snapshot: Snapshot,
    /// Entries that could not be read and were skipped.
    pub warnings: Vec<Warning>,
    /// The journal entry recording this backup (its id), or why it could
    /// not be written — the snapshot is stored either way (see the
    /// `journal` module docs). `None` after a dry run.
    pub journal: Option<std::result::Result<String, std::sync::Arc<crate::Error>>>,
}

/// What the walker backs up.
pub(crate) enum Source {
    Paths(Vec<PathBuf>),
    Stream {
        name: Vec<u8>,
        reader: Box<dyn std::io::Read + Send>,
    },
}

/// Backs up `paths` (files or directories) into `repo`.
pub async fn backup(
    repo: &Repository,
    paths: &[PathBuf],
    opts: &BackupOptions,
    progress: Arc<dyn BackupProgress>,
) -> Result<BackupResult> {
    let mut abs = Vec::with_capacity(paths.len());
    for p in paths {
        abs.push(std::path::absolute(p).map_err(|e| crate::Error::io(p, e))?);
    }
    abs.sort();
    abs.dedup();
    let names: Vec<String> = abs
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    run(repo, Source::Paths(abs), names, opts, progress, None).await
}

/// Backs up the bytes of `reader` as one file called `name` at the root of a
/// snapshot (the CLI's `backup --stdin`).
pub async fn backup_stream<R>(
    repo: &Repository,
    reader: R,
    name: &str,
    opts: &BackupOptions,
    progress: Arc<dyn BackupProgress>,
) -> Result<BackupResult>
where
    R: AsyncRead + Unpin + Send,
{
    // The same rules as `Tree::decode`: a name it would refuse must not be
    // stored, or the snapshot could never be read back.
    if name.is_empty()
        || name.contains('/')
        || name.contains('\0')
        || name == "."
        || name == ".."
        || name.len() > usize::from(u16::MAX)
    {
        let shown: String = name.chars().take(64).collect();
        return Err(crate::Error::InvalidOption {
            what: format!(
                "stream file name {shown:?} ({} bytes): names must be 1 ..= 65535 bytes \
                 without '/' or NUL, and not . or ..",
                name.len()
            ),
        });
    }
    let (pipe_reader, pump) = driver::pipe(reader);
    let source = Source::Stream {
        name: name.as_bytes().to_vec(),
        reader: Box::new(pipe_reader),
    };
    run(
        repo,
        source,
        vec![format!("/{name}")],
        opts,
        progress,
        Some(pump),
    )
    .await
}

async fn run(
    repo: &Repository,
    source: Source,
    paths: Vec<String>,
    opts: &BackupOptions,
    progress: Arc<dyn BackupProgress>,
    pump: Option<driver::Pump<'_>>,
) -> Result<BackupResult> {
    // The deletion protocol (see the `prune` module): announce this writer,
    // then load the index without condemned packs.
    let start = crate::prune::writer_start(repo, opts.dry_run).await?;
    let result = run_in_session(repo, source, paths, opts, progress, pump, &start).await;
    let session = start.session;
    // The snapshot is stored once `result` is Ok: a lease left behind (its
    // removal failed) only delays pruning until a prune finds it stale.
    let _ = session.end(repo).await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn run_in_session(
    repo: &Repository,
    source: Source,
    paths: Vec<String>,
    opts: &BackupOptions,
    progress: Arc<dyn BackupProgress>,
    pump: Option<driver::Pump<'_>>,
    start: &crate::prune::WriterStart,
) -> Result<BackupResult> {
    let session = &start.session;
    let started = Instant::now();
    let time = jiff::Timestamp::now();
    let host = opts
        .host
        .clone()
        .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned());
    let parent = match &opts.parent {
        Some(q) => Some(repo.find_snapshot(q).await?),
        // Unreadable records are skipped here: they cannot be a parent, and
        // must not stop new backups.
        None => repo
            .readable_snapshots()
            .await?
            .0
            .into_iter()
            .rev()
            .find(|(_, s)| s.hostname == host && s.paths == paths),
    };
    let parent_tree = match (&parent, opts.force) {
        (Some((_, s)), false) => Some(s.tree.chunk_id()),
        _ => None,
    };
    let out = driver::drive(repo, source, parent_tree, opts, progress, pump, start).await;
    repo.index_mut().compact();
    let out = out?;
    // A cancel that came after the walk (while the last packs were
    // uploading) still means no snapshot: the caller was told it stops.
    opts.cancel.check()?;
    let mut snapshot = Snapshot::new(time, host, paths, out.root);
    snapshot.tags = opts.tags.clone();
    snapshot.parent = parent.map(|(id, _)| id);
    snapshot.summary = out.summary;
    snapshot.summary.duration_secs = started.elapsed().as_secs_f64();
    // Commit: nothing referenced may sit in a pack condemned since the
    // start; then the record; then make sure no pruner gave up waiting for
    // this session (if one did, the snapshot is withdrawn, not acknowledged).
    if opts.dry_run {
        // Nothing was stored: no record, nothing to validate.
        return Ok(BackupResult {
            snapshot_id: None,
            snapshot,
            warnings: out.warnings,
            journal: None,
        });
    }
    let validated = async {
        session.refresh(repo).await?;
        crate::prune::revalidate(repo, session, out.root, &start.condemned).await
    }
    .await;
    if let Err(e) = validated {
        // A writer declared dead may find its data already deleted: say
        // why, rather than which blob went missing.
        if session.killed(repo).await.unwrap_or(false) {
            return Err(crate::Error::SessionExpired {
                session: session.id().to_owned(),
            });
        }
        return Err(e);
    }
    // The record names the journal heads seen now (rollback detection);
    // if they cannot be read the record goes without, and the entry is
    // still attempted below.
    let seen = crate::journal::Seen::now(repo).await;
    if let Ok(s) = &seen {
        snapshot.journal = s.parents.clone();
    }
    let snapshot_id = repo.save_snapshot(&snapshot).await?;
    if session.killed(repo).await? {
        let _ = repo
            .backend()
            .delete(&crate::snapshot_key(&snapshot_id))
            .await;
        return Err(crate::Error::SessionExpired {
            session: session.id().to_owned(),
        });
    }
    // Stored and acknowledged: a journal failure is reported, not fatal
    // (see the `journal` module docs).
    let s = &snapshot.summary;
    let added = crate::journal::counts([
        ("snapshots", 1),
        ("packs", s.packs_added),
        ("blobs", s.blobs_added),
    ]);
    let journal = crate::journal::record_backup(repo, seen, &snapshot_id, added)
        .await
        .map_err(std::sync::Arc::new);
    Ok(BackupResult {
        snapshot_id: Some(snapshot_id),
        snapshot,
        warnings: out.warnings,
        journal: Some(journal),
    })
}
