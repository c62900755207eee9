//! Executing a restore plan: fetch packs in parallel, verify every blob,
//! write files, then metadata.

use std::fs::{File, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_cas_core::{cpu, open_blob, Node, NodeKind, Repository};
use futures::StreamExt;

use crate::plan::{BlobRead, PackRead, PlannedEntry, RestoreOptions, RestorePlan};
use crate::{Error, Result};

/// Blobs closer than this in a pack are fetched with one ranged read.
const COALESCE_GAP: u64 = 256 << 10;

/// Receives progress from a restore (from worker threads).
pub trait RestoreProgress: Send + Sync {
    /// `n` more bytes of file contents were written.
    fn bytes(&self, _n: u64) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;
impl RestoreProgress for NoProgress {}

/// What a restore did.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct RestoreSummary {
    /// Files written.
    pub files: u64,
    /// Directories created.
    pub dirs: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Bytes of file contents written.
    pub bytes_written: u64,
    /// Bytes read from the backend.
    pub bytes_fetched: u64,
    /// Packs read.
    pub packs_read: u64,
    /// Wall time.
    pub duration: Duration,
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// Runs `plan`. Every blob is authenticated, decompressed and checked against
/// its id before a byte of it is written; a file is only ever written with
/// verified data. Packs that fail are reported in [`Error::Incomplete`] after
/// every other pack has been restored.
pub async fn restore(
    repo: &Repository,
    plan: &RestorePlan,
    opts: &RestoreOptions,
    progress: Arc<dyn RestoreProgress>,
) -> Result<RestoreSummary> {
    let started = Instant::now();
    std::fs::create_dir_all(&opts.target).map_err(io_at(&opts.target))?;
    let owners = match opts.owners {
        Some(o) => o,
        // The target was made (or is owned) by us: uid 0 means we are root.
        None => {
            std::fs::metadata(&opts.target)
                .map_err(io_at(&opts.target))?
                .uid()
                == 0
        }
    };
    let mut summary = RestoreSummary::default();
    let (dirs, files) = (plan.dirs.clone(), plan.files.clone());
    let created = cpu::spawn(move || create_entries(&dirs, &files))
        .await
        .map_err(Error::from)?;
    created?;
    summary.dirs = plan.dirs.len() as u64;

    let files = Arc::new(plan.files.clone());
    let mut failed: Vec<Error> = plan
        .missing
        .iter()
        .map(|(_, id)| cairn_cas_core::Error::MissingBlob { id: *id }.into())
        .collect();
    let mut damaged: std::collections::HashSet<usize> =
        plan.missing.iter().map(|(n, _)| *n).collect();
    let mut stream = futures::stream::iter(plan.packs.iter().cloned())
        .map(|pack| {
            let (files, progress) = (files.clone(), progress.clone());
            async move {
                let targets: Vec<usize> = pack
                    .blobs
                    .iter()
                    .flat_map(|b| b.targets.iter().map(|t| t.0))
                    .collect();
                (targets, restore_pack(repo, pack, files, progress).await)
            }
        })
        .buffer_unordered(opts.concurrency.max(1));
    while let Some((targets, r)) = stream.next().await {
        match r {
            Ok((fetched, written)) => {
                summary.packs_read += 1;
                summary.bytes_fetched += fetched;
                summary.bytes_written += written;
            }
            Err(e) => {
                damaged.extend(targets);
                failed.push(e);
            }
        }
    }
    drop(stream);
    // Metadata goes on everything that is whole, also when some packs
    // failed; files left incomplete keep the time of the restore, so they
    // never pass for an intact copy of the snapshot.
    let whole: Vec<PlannedEntry> = plan
        .files
        .iter()
        .enumerate()
        .filter(|(n, _)| !damaged.contains(n))
        .map(|(_, f)| f.clone())
        .collect();
    let (links, dirs) = (plan.symlinks.clone(), plan.dirs.clone());
    let restored_files = whole.len() as u64;
    cpu::spawn(move || finish_metadata(&links, &whole, &dirs, owners)).await??;
    if !failed.is_empty() {
        let mut files: Vec<_> = damaged
            .iter()
            .map(|&n| plan.files[n].path.clone())
            .collect();
        files.sort();
        return Err(Error::Incomplete {
            failed: failed.len(),
            first: Box::new(failed.remove(0)),
            files,
        });
    }
    summary.files = restored_files;
    summary.symlinks = plan.symlinks.len() as u64;
    summary.duration = started.elapsed();
    Ok(summary)
}

fn create_entries(dirs: &[PlannedEntry], files: &[PlannedEntry]) -> Result<()> {
    for d in dirs {
        std::fs::create_dir_all(&d.path).map_err(io_at(&d.path))?;
    }
    for f in files {
        if let Some(parent) = f.path.parent() {
            std::fs::create_dir_all(parent).map_err(io_at(parent))?;
        }
        // Sized up front (sparse): blobs then land at their offsets in any order.
        let file = File::create(&f.path).map_err(io_at(&f.path))?;
        file.set_len(f.node.size).map_err(io_at(&f.path))?;
    }
    Ok(())
}

/// Splits a pack's blobs into runs fetched with one ranged read each.
fn runs(blobs: &[BlobRead]) -> Vec<&[BlobRead]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=blobs.len() {
        let split = i == blobs.len() || {
            let prev = &blobs[i - 1].entry;
            u64::from(blobs[i].entry.offset)
                > u64::from(prev.offset) + u64::from(prev.length) + COALESCE_GAP
        };
        if split {
            out.push(&blobs[start..i]);
            start = i;
        }
    }
    out
}

async fn restore_pack(
    repo: &Repository,
    pack: PackRead,
    files: Arc<Vec<PlannedEntry>>,
    progress: Arc<dyn RestoreProgress>,
) -> Result<(u64, u64)> {
    let key = pack.pack.key();
    let mut fetched = 0u64;
    let mut written = 0u64;
    for run in runs(&pack.blobs) {
        let (first, last) = (&run[0].entry, &run[run.len() - 1].entry);
        let start = u64::from(first.offset);
        let end = u64::from(last.offset) + u64::from(last.length);
        let bytes = repo
            .backend()
            .get_range(&key, start..end)
            .await
            .map_err(cairn_cas_core::Error::from)?;
        if bytes.len() as u64 != end - start {
            return Err(cairn_cas_core::Error::Corrupt {
                object: key.clone(),
                reason: format!("short read: {} of {} bytes", bytes.len(), end - start),
            }
            .into());
        }
        fetched += bytes.len() as u64;
        let run = run.to_vec();
        let (keys, files, progress, key) = (
            repo.keys().clone(),
            files.clone(),
            progress.clone(),
            key.clone(),
        );
        written +=
            cpu::spawn(move || write_run(&keys, &key, start, &bytes, &run, &files, &*progress))
                .await??;
    }
    Ok((fetched, written))
}

fn write_run(
    keys: &cairn_crypto::KeySet,
    object: &str,
    start: u64,
    bytes: &Bytes,
    run: &[BlobRead],
    files: &[PlannedEntry],
    progress: &dyn RestoreProgress,
) -> Result<u64> {
    let mut written = 0;
    for blob in run {
        let from = (u64::from(blob.entry.offset) - start) as usize;
        let sealed = &bytes[from..from + blob.entry.length as usize];
        // Verified (AEAD tag and chunk id) before anything is written.
        let plain = open_blob(keys, object, &blob.entry, sealed)?;
        for &(n, offset) in &blob.targets {
            let path = &files[n].path;
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io_at(path))?;
            f.write_all_at(&plain, offset).map_err(io_at(path))?;
            written += plain.len() as u64;
            progress.bytes(plain.len() as u64);
        }
    }
    Ok(written)
}

fn set_times(path: &Path, node: &Node, symlink: bool) -> Result<()> {
    let t = filetime::FileTime::from_unix_time(node.mtime.sec, node.mtime.nsec);
    if symlink {
        filetime::set_symlink_file_times(path, t, t)
    } else {
        filetime::set_file_times(path, t, t)
    }
    .map_err(io_at(path))
}

fn finish_metadata(
    links: &[PlannedEntry],
    files: &[PlannedEntry],
    dirs: &[PlannedEntry],
    owners: bool,
) -> Result<()> {
    for l in links {
        let NodeKind::Symlink { target } = &l.node.kind else {
            continue;
        };
        if let Some(parent) = l.path.parent() {
            std::fs::create_dir_all(parent).map_err(io_at(parent))?;
        }
        match std::fs::symlink_metadata(&l.path) {
            Ok(_) => std::fs::remove_file(&l.path).map_err(io_at(&l.path))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&l.path, e)),
        }
        std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), &l.path)
            .map_err(io_at(&l.path))?;
        if owners {
            std::os::unix::fs::lchown(&l.path, Some(l.node.uid), Some(l.node.gid))
                .map_err(io_at(&l.path))?;
        }
        set_times(&l.path, &l.node, true)?;
    }
    for f in files {
        apply_metadata(f, owners)?;
    }
    // Deepest first: setting a directory's times before writing into it
    // would be undone by the writes.
    for d in dirs.iter().rev() {
        apply_metadata(d, owners)?;
    }
    Ok(())
}

/// Ownership (first: chown clears set-id bits), permissions, then times.
fn apply_metadata(e: &PlannedEntry, owners: bool) -> Result<()> {
    if owners {
        std::os::unix::fs::chown(&e.path, Some(e.node.uid), Some(e.node.gid))
            .map_err(io_at(&e.path))?;
    }
    std::fs::set_permissions(
        &e.path,
        std::fs::Permissions::from_mode(e.node.mode & 0o7777),
    )
    .map_err(io_at(&e.path))?;
    set_times(&e.path, &e.node, false)
}
