//! Executing a restore plan: fetch packs in parallel, verify every blob,
//! write files through no-follow handles, then metadata.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_cas_core::{NodeKind, Repository};
use futures::StreamExt;

use crate::meta;
use crate::plan::{runs, Action, BlobRead, PackRead, RestoreOptions, RestorePlan};
use crate::target::{self, Target};
use crate::writer::Writer;
use crate::{Error, Result};

/// Receives progress from a restore.
pub trait RestoreProgress: Send + Sync {
    /// `n` more bytes of file contents were written (from worker threads).
    fn bytes(&self, _n: u64) {}
    /// A file is complete (contents and metadata; also a file found already
    /// in place, and a hard link): once per restored file, with its target
    /// path, from worker threads. Counting these gives files done, and the
    /// last path is the one the restore is at.
    fn file_done(&self, _path: &Path) {}
    /// One more pack has been read and written (from the task running the
    /// restore, between packs).
    fn pack_done(&self) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;
impl RestoreProgress for NoProgress {}

/// Something a restore could not do for one entry, without stopping the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreWarning {
    /// The entry.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for RestoreWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// What a restore did.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct RestoreSummary {
    /// Files written (created, replaced or updated).
    pub files: u64,
    /// Files whose contents were already in place (metadata set).
    pub files_unchanged: u64,
    /// Directories created or brought to the snapshot's metadata.
    pub dirs: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Files restored as hard links to another restored file.
    pub hardlinks: u64,
    /// Entries left alone by the overwrite mode.
    pub kept: u64,
    /// Entries deleted (with `delete`).
    pub deleted: u64,
    /// Bytes of file contents written.
    pub bytes_written: u64,
    /// Bytes read from the backend.
    pub bytes_fetched: u64,
    /// Packs read.
    pub packs_read: u64,
    /// Entries whose metadata (or replacement) failed; the rest went on.
    pub warnings: Vec<RestoreWarning>,
    /// Wall time.
    pub duration: Duration,
    /// Windows of files planned and restored one after another (1 unless
    /// [`RestoreOptions::window`] is set and [`crate::restore_snapshot`] ran).
    pub windows: u64,
    /// The most files held in one plan at once.
    pub largest_window: u64,
}

/// Runs `plan`. Every blob is authenticated, decompressed and checked against
/// its id before a byte of it is written; a file is only ever written with
/// verified data. Nothing is created, written or changed outside
/// `opts.target`, and no link found in the target is followed. Packs that fail
/// are reported in [`Error::Incomplete`] after every other pack has been
/// restored; re-running with [`Overwrite::IfChanged`](crate::Overwrite) then
/// fetches only what is missing.
///
/// The restore keeps its own copy of the plan's entries (not of its packs);
/// [`restore_owned`] takes the plan instead and so holds it only once.
pub async fn restore(
    repo: &Repository,
    plan: &RestorePlan,
    opts: &RestoreOptions,
    progress: Arc<dyn RestoreProgress>,
) -> Result<RestoreSummary> {
    let remaining = crate::writer::due(plan);
    let entries = RestorePlan {
        dirs: plan.dirs.clone(),
        files: plan.files.clone(),
        symlinks: plan.symlinks.clone(),
        packs: Vec::new(),
        missing: plan.missing.clone(),
        delete: plan.delete.clone(),
        max_read: plan.max_read,
    };
    let summary = run(
        repo,
        entries,
        remaining,
        plan.packs.iter().cloned(),
        opts,
        progress,
        true,
    )
    .await?;
    journaled(repo, opts, summary).await
}

/// [`restore`], consuming the plan: the memory of a restore is then the
/// plan's (see [`RestorePlan`] for its size per file and per blob) and no
/// more — each pack's part is freed once that pack is written, and the
/// files' chunk lists as soon as the restore starts.
pub async fn restore_owned(
    repo: &Repository,
    mut plan: RestorePlan,
    opts: &RestoreOptions,
    progress: Arc<dyn RestoreProgress>,
) -> Result<RestoreSummary> {
    let remaining = crate::writer::due(&plan);
    let packs = std::mem::take(&mut plan.packs);
    let summary = run(
        repo,
        plan,
        remaining,
        packs.into_iter(),
        opts,
        progress,
        true,
    )
    .await?;
    journaled(repo, opts, summary).await
}

/// Records a finished restore in the audit journal when
/// [`RestoreOptions::journal`] asks for it.
pub(crate) async fn journaled(
    repo: &Repository,
    opts: &RestoreOptions,
    summary: RestoreSummary,
) -> Result<RestoreSummary> {
    if let Some(snapshot) = &opts.journal {
        cairn_cas_core::journal::record_restore(
            repo,
            snapshot,
            summary.files,
            summary.bytes_written,
        )
        .await?;
    }
    Ok(summary)
}

/// Runs one window of a restore (see [`crate::restore_snapshot`]): all but
/// the directories' metadata, which waits for the last window.
pub(crate) async fn run_window(
    repo: &Repository,
    mut plan: RestorePlan,
    opts: &RestoreOptions,
    progress: Arc<dyn RestoreProgress>,
) -> Result<RestoreSummary> {
    let remaining = crate::writer::due(&plan);
    let packs = std::mem::take(&mut plan.packs);
    run(
        repo,
        plan,
        remaining,
        packs.into_iter(),
        opts,
        progress,
        false,
    )
    .await
}

/// Sets the metadata of `dirs` (sorted by path), deepest first.
pub(crate) async fn dirs_metadata(
    repo: &Repository,
    dirs: Vec<crate::PlannedEntry>,
    opts: &RestoreOptions,
) -> Result<Vec<RestoreWarning>> {
    let (t, owners) = open_target(opts)?;
    let plan = RestorePlan {
        dirs,
        ..RestorePlan::default()
    };
    let writer = Arc::new(Writer::new(
        t,
        plan,
        Vec::new(),
        opts,
        owners,
        repo.chunk_hasher(),
    ));
    let w = writer.clone();
    repo.spawn_blocking(move || dir_metadata(&w, &w.plan().dirs))
        .await?;
    Ok(writer.take_warnings())
}

/// The target's handle (made if need be), and whether owners are restored.
fn open_target(opts: &RestoreOptions) -> Result<(Target, bool)> {
    let root = opts.target.clone();
    let owners = match opts.owners {
        Some(o) => o,
        None => {
            use std::os::unix::fs::MetadataExt;
            std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
            // The target was made (or is owned) by us: uid 0 means we are root.
            std::fs::metadata(&root)
                .map_err(|e| Error::io(&root, e))?
                .uid()
                == 0
        }
    };
    let t = Target::open(&root, true)
        .map_err(|e| Error::io(&root, e))?
        .ok_or_else(|| Error::io(&root, std::io::ErrorKind::NotFound.into()))?;
    Ok((t, owners))
}

async fn run(
    repo: &Repository,
    entries: RestorePlan,
    remaining: Vec<std::sync::atomic::AtomicU32>,
    packs: impl Iterator<Item = PackRead>,
    opts: &RestoreOptions,
    progress: Arc<dyn RestoreProgress>,
    dir_meta: bool,
) -> Result<RestoreSummary> {
    let started = Instant::now();
    if opts.cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let (t, owners) = open_target(opts)?;
    let files_planned = entries.files.len() as u64;
    let writer = Arc::new(Writer::new(
        t,
        entries,
        remaining,
        opts,
        owners,
        repo.chunk_hasher(),
    ));
    let mut summary = RestoreSummary {
        windows: 1,
        largest_window: files_planned,
        ..RestoreSummary::default()
    };
    let (w, p) = (writer.clone(), progress.clone());
    let (deleted, dirs) = repo
        .spawn_blocking(move || prepare(&w, w.plan(), &*p))
        .await??;
    summary.deleted = deleted;
    summary.dirs = dirs;

    // Files with a blob in no index were left out of the plan's reads: they
    // are reported, never written (not even as empty files).
    let mut failed: Vec<Error> = writer
        .plan()
        .missing
        .iter()
        .map(|(_, id)| cairn_cas_core::Error::MissingBlob { id: *id }.into())
        .collect();
    // Cancellation is checked between packs: no pack starts after it, the
    // ones in flight finish (their files stay in place for a resume).
    let cancel = opts.cancel.clone();
    let max_read = writer.plan().max_read;
    let mut stream = futures::stream::iter(packs)
        .take_while(move |_| std::future::ready(!cancel.is_cancelled()))
        .map(|pack| restore_pack(repo, pack, max_read, writer.clone(), progress.clone()))
        .buffer_unordered(opts.concurrency.max(1));
    while let Some(r) = stream.next().await {
        match r {
            Ok((fetched, written)) => {
                summary.packs_read += 1;
                summary.bytes_fetched += fetched;
                summary.bytes_written += written;
            }
            Err(e) => failed.push(e),
        }
        progress.pack_done();
    }
    drop(stream);
    writer.abandon();
    if opts.cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let (w, p) = (writer.clone(), progress.clone());
    summary.hardlinks = repo
        .spawn_blocking(move || hard_links(&w, w.plan(), &*p))
        .await?;
    let w = writer.clone();
    summary.symlinks = repo
        .spawn_blocking(move || finish(&w, w.plan(), dir_meta))
        .await?;
    summary.files = writer.written.load(std::sync::atomic::Ordering::Relaxed);
    summary.files_unchanged = writer.unchanged.load(std::sync::atomic::Ordering::Relaxed);
    summary.kept = writer
        .plan()
        .entries()
        .filter(|e| e.action == Action::Keep)
        .count() as u64;
    summary.warnings = writer.take_warnings();
    summary.duration = started.elapsed();
    if !failed.is_empty() {
        let files = writer.unfinished();
        return Err(Error::Incomplete {
            failed: failed.len(),
            first: Box::new(failed.remove(0)),
            files,
        });
    }
    Ok(summary)
}

/// Deletions, directories, and the files that need no blobs.
fn prepare(w: &Writer, plan: &RestorePlan, progress: &dyn RestoreProgress) -> Result<(u64, u64)> {
    let mut deleted = 0;
    for path in &plan.delete {
        let r = w.target.remove(w.rel(path));
        match r {
            Ok(()) => deleted += 1,
            Err(e) => w.warn(path, e),
        }
    }
    let mut dirs = 0;
    let root = rustix::process::geteuid().is_root();
    for d in plan.dirs.iter().filter(|d| d.action != Action::Keep) {
        let created = w
            .target
            .ensure_dir(w.rel(&d.path), true)
            .map_err(|e| Error::io(&d.path, e))?;
        if !created && root {
            adopted(w, d);
        }
        dirs += 1;
    }
    w.without_blobs(progress)?;
    Ok((deleted, dirs))
}

/// Running as root, an existing directory owned by another user (who can
/// rename and unlink entries in it while we write) is used, but said so:
/// unless restoring owners makes it the snapshot's, which is that user's.
fn adopted(w: &Writer, d: &crate::PlannedEntry) {
    let Ok(fd) = w.target.dir(w.rel(&d.path)) else {
        return;
    };
    let Ok(st) = rustix::fs::fstat(&*fd) else {
        return;
    };
    let expected = w.owners() && st.st_uid == d.node.uid;
    if st.st_uid != 0 && !expected {
        w.warn(
            &d.path,
            format!(
                "existing directory owned by uid {} (not root{}): restored into it; \
                 that user can move or remove what is restored there",
                st.st_uid,
                if w.owners() {
                    format!(" nor the snapshot's uid {}", d.node.uid)
                } else {
                    String::new()
                }
            ),
        );
    }
}

/// Files that had several links, linked to the first of them restored.
fn hard_links(w: &Writer, plan: &RestorePlan, progress: &dyn RestoreProgress) -> u64 {
    let mut links = 0;
    for f in plan.files.iter().filter(|f| f.action != Action::Keep) {
        let leader = match (&f.link_earlier, f.link_to.and_then(|l| plan.files.get(l))) {
            (Some(earlier), _) => earlier,
            (None, Some(leader)) => &leader.path,
            (None, None) => continue,
        };
        let r = w.target.parent_of(w.rel(leader)).and_then(|(ldir, lname)| {
            let (dir, name) = w.target.parent_of(w.rel(&f.path))?;
            target::hard_link(&ldir, lname, &dir, name)
        });
        match r {
            Ok(()) => {
                links += 1;
                progress.file_done(&f.path);
            }
            Err(e) => w.warn(&f.path, e),
        }
    }
    links
}

/// Symlinks, then directory metadata, deepest first: setting a directory's
/// times before writing into it would be undone by the writes, and its final
/// mode may forbid them (restoring in windows: after the last window).
fn finish(w: &Writer, plan: &RestorePlan, dir_meta: bool) -> u64 {
    let mut links = 0;
    for l in plan.symlinks.iter().filter(|l| l.action != Action::Keep) {
        let NodeKind::Symlink { target: to } = &l.node.kind else {
            continue;
        };
        let link = std::ffi::OsStr::from_bytes(to);
        let r = w.target.parent_of(w.rel(&l.path)).and_then(|(dir, name)| {
            use std::os::fd::AsFd;
            meta::create_symlink(dir.as_fd(), name, link, &l.node, w.owners(), true)
        });
        match r {
            Ok(errors) => {
                links += 1;
                for e in errors {
                    w.warn(&l.path, e);
                }
            }
            Err(e) => w.warn(&l.path, e),
        }
    }
    if dir_meta {
        dir_metadata(w, &plan.dirs);
    }
    links
}

/// Directory metadata, deepest first (`dirs` are sorted by path).
fn dir_metadata(w: &Writer, dirs: &[crate::PlannedEntry]) {
    for d in dirs.iter().rev().filter(|d| d.action != Action::Keep) {
        match w.target.dir(w.rel(&d.path)) {
            Ok(fd) => {
                use std::os::fd::AsFd;
                for e in meta::set_metadata(fd.as_fd(), &d.node, w.owners()) {
                    w.warn(&d.path, e);
                }
            }
            Err(e) => w.warn(&d.path, e),
        }
    }
}

async fn restore_pack(
    repo: &Repository,
    pack: PackRead,
    max_read: u64,
    writer: Arc<Writer>,
    progress: Arc<dyn RestoreProgress>,
) -> Result<(u64, u64)> {
    let mut fetched = 0u64;
    let mut written = 0u64;
    for run in runs(&pack.blobs, max_read) {
        // Each blob is verified (AEAD tag and chunk id) before `write_blob`
        // sees it, and a run that fails stops the pack: what it wrote is
        // not counted.
        let run_written: u64 = run
            .iter()
            .map(|b| u64::from(b.entry.raw_length) * b.targets.len() as u64)
            .sum();
        let (writer, progress) = (writer.clone(), progress.clone());
        fetched += repo
            .read_blobs(pack.pack, run.to_vec(), move |blob: &BlobRead, plain| {
                write_blob(blob, plain, &writer, &*progress)
            })
            .await?;
        written += run_written;
    }
    Ok((fetched, written))
}

fn write_blob(
    blob: &BlobRead,
    plain: &[u8],
    writer: &Writer,
    progress: &dyn RestoreProgress,
) -> Result<()> {
    for &(n, offset) in &blob.targets {
        writer.write(n, offset, plain, progress)?;
    }
    Ok(())
}
