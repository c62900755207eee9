//! Writing the planned files: each one opened once (created, or started as
//! a temporary file next to the entry it replaces or updates), every blob
//! written through that handle, its metadata set on it, then closed — and
//! renamed over the old entry when there is one.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::meta;
use crate::plan::{Action, PlannedEntry, RestoreOptions, RestorePlan};
use crate::restore::{RestoreProgress, RestoreWarning};
use crate::target::{self, Target};
use crate::{Error, Result};

/// A file being written.
#[derive(Debug)]
struct Open {
    file: File,
    dir: Arc<OwnedFd>,
    /// The temporary name to rename over the final one, when replacing.
    tmp: Option<OsString>,
}

type Slot = Arc<OnceLock<std::result::Result<Open, (io::ErrorKind, String)>>>;

/// A file closed to stay under the open-file limit, to be reopened (checked
/// to be the same file) when its next blob arrives.
#[derive(Debug)]
struct Parked {
    /// Its directory, relative to the target.
    dir: PathBuf,
    /// The name it has there now (the temporary one when replacing).
    at: OsString,
    tmp: Option<OsString>,
    id: (u64, u64),
}

/// Blob writes due, by file: what [`Writer::new`] needs from the packs.
pub(crate) fn due(plan: &RestorePlan) -> Vec<AtomicU32> {
    let remaining: Vec<AtomicU32> = plan.files.iter().map(|_| AtomicU32::new(0)).collect();
    for b in plan.packs.iter().flat_map(|p| &p.blobs) {
        for &(n, _) in &b.targets {
            if let Some(r) = remaining.get(n) {
                r.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    remaining
}

/// The files of a plan and their state while blobs arrive.
pub(crate) struct Writer {
    pub(crate) target: Target,
    root: PathBuf,
    /// The plan's entries, without its packs and chunk lists.
    plan: RestorePlan,
    /// Blob writes still due, by file.
    remaining: Vec<AtomicU32>,
    open: Mutex<HashMap<usize, Slot>>,
    parked: Mutex<HashMap<usize, Parked>>,
    max_open: usize,
    /// Leave all-zero blobs of new files as holes.
    sparse: bool,
    owners: bool,
    /// Checks the chunks an update copies from the old file.
    hasher: cairn_cas_core::ChunkHasher,
    warnings: Mutex<Vec<RestoreWarning>>,
    /// Files completed: (with contents written, metadata only).
    pub(crate) written: AtomicU64,
    pub(crate) unchanged: AtomicU64,
}

impl Writer {
    /// Takes the plan's entries (its packs are streamed by the caller and
    /// must have been counted into `remaining` first: see [`due`]).
    /// File contents' chunk lists are dropped here: the blobs to write are
    /// in the packs, and a 300 000-file plan keeps no second copy of them.
    pub(crate) fn new(
        target: Target,
        mut plan: RestorePlan,
        remaining: Vec<AtomicU32>,
        opts: &RestoreOptions,
        owners: bool,
        hasher: cairn_cas_core::ChunkHasher,
    ) -> Self {
        plan.packs = Vec::new();
        for f in &mut plan.files {
            if let cairn_cas_core::NodeKind::File { chunks } = &mut f.node.kind {
                *chunks = Vec::new();
            }
        }
        Writer {
            target,
            root: opts.target.clone(),
            sparse: opts.sparse,
            plan,
            remaining,
            open: Mutex::default(),
            parked: Mutex::default(),
            max_open: opts.max_open_files.max(1),
            owners,
            hasher,
            warnings: Mutex::default(),
            written: AtomicU64::new(0),
            unchanged: AtomicU64::new(0),
        }
    }

    /// `path` relative to the target.
    pub(crate) fn rel<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }

    pub(crate) fn warn(&self, path: &Path, e: impl std::fmt::Display) {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(RestoreWarning {
                path: path.to_owned(),
                message: e.to_string(),
            });
    }

    pub(crate) fn take_warnings(&self) -> Vec<RestoreWarning> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Finishes the files that get no blobs: empty ones, and those whose
    /// contents are already in place.
    pub(crate) fn without_blobs(&self, progress: &dyn RestoreProgress) -> Result<()> {
        for (n, f) in self.plan.files.iter().enumerate() {
            if self.remaining[n].load(Ordering::Relaxed) > 0 || f.is_link() || self.is_missing(n) {
                continue;
            }
            match f.action {
                Action::Keep => {}
                Action::Metadata => self.metadata_only(f, progress)?,
                _ => {
                    let slot = self.slot(n);
                    self.finish(n, &slot, progress);
                    self.forget(n);
                }
            }
        }
        Ok(())
    }

    fn metadata_only(&self, f: &PlannedEntry, progress: &dyn RestoreProgress) -> Result<()> {
        let (dir, name) = self
            .target
            .parent_of(self.rel(&f.path))
            .map_err(|e| Error::io(&f.path, e))?;
        match target::open_in_place(dir.as_fd(), name, false) {
            Ok(Some(file)) if target::identity(file.as_fd()).ok() == f.existing => {
                for e in meta::set_metadata(file.as_fd(), &f.node, self.owners) {
                    self.warn(&f.path, e);
                }
                self.unchanged.fetch_add(1, Ordering::Relaxed);
                progress.file_done(&f.path);
            }
            Ok(_) => self.warn(&f.path, "changed since the restore was planned; left alone"),
            Err(e) => self.warn(&f.path, e),
        }
        Ok(())
    }

    fn slot(&self, n: usize) -> Slot {
        let slot = {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            let slot = open.entry(n).or_default().clone();
            if open.len() > self.max_open {
                self.park(&mut open, n);
            }
            slot
        };
        slot.get_or_init(|| {
            let parked = self
                .parked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&n);
            match parked {
                Some(p) => self.reopen(p),
                None => self.open_file(n),
            }
            .map_err(|e| (e.kind(), e.to_string()))
        });
        slot
    }

    /// Closes files nobody is writing to until half the limit is open.
    /// Called with the open-files lock held, so no one can pick a slot up
    /// while it is being parked.
    fn park(&self, open: &mut HashMap<usize, Slot>, keep: usize) {
        let idle: Vec<usize> = open
            .iter()
            .filter(|(k, s)| **k != keep && Arc::strong_count(s) == 1)
            .map(|(k, _)| *k)
            .take(open.len().saturating_sub(self.max_open / 2))
            .collect();
        let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        for k in idle {
            let Some(slot) = open.remove(&k) else {
                continue;
            };
            let Some(Ok(o)) = slot.get() else {
                continue;
            };
            let rel = self.rel(&self.plan.files[k].path);
            let (Ok(id), Some(name)) = (target::identity(o.file.as_fd()), rel.file_name()) else {
                // Cannot be found again: keep it open.
                open.insert(k, slot.clone());
                continue;
            };
            parked.insert(
                k,
                Parked {
                    dir: rel.parent().unwrap_or(Path::new("")).to_owned(),
                    at: o.tmp.clone().unwrap_or_else(|| name.to_owned()),
                    tmp: o.tmp.clone(),
                    id,
                },
            );
        }
    }

    /// Opens a parked file again, through the directory handles, refusing
    /// anything but the very file that was parked.
    fn reopen(&self, p: Parked) -> io::Result<Open> {
        let dir = self.target.dir(&p.dir)?;
        let file = target::open_in_place(dir.as_fd(), &p.at, true)?
            .filter(|f| target::identity(f.as_fd()).ok() == Some(p.id))
            .ok_or_else(|| io::Error::other("replaced while the restore was running"))?;
        Ok(Open {
            file,
            dir,
            tmp: p.tmp,
        })
    }

    fn forget(&self, n: usize) {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&n);
    }

    /// Creates (or opens in place) file `n`, sized to its final length.
    fn open_file(&self, n: usize) -> io::Result<Open> {
        let f = &self.plan.files[n];
        let (dir, name) = self.target.parent_of(self.rel(&f.path))?;
        let (file, tmp) = match f.action {
            Action::Update { .. } => {
                let (file, tmp) =
                    crate::update::start(dir.as_fd(), name, f.existing, &f.kept, &self.hasher)?;
                (file, Some(tmp))
            }
            Action::Create => match target::create_new(dir.as_fd(), name) {
                Ok(file) => (file, None),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let (file, tmp) = target::create_temp(dir.as_fd(), name)?;
                    (file, Some(tmp))
                }
                Err(e) => return Err(e),
            },
            _ => {
                let (file, tmp) = target::create_temp(dir.as_fd(), name)?;
                (file, Some(tmp))
            }
        };
        // Sized up front (sparse): blobs land at their offsets in any order.
        file.set_len(f.node.size)?;
        Ok(Open { file, dir, tmp })
    }

    /// Writes one verified blob at `offset` of file `n`; the file's last blob
    /// also finishes it.
    pub(crate) fn write(
        &self,
        n: usize,
        offset: u64,
        data: &[u8],
        progress: &dyn RestoreProgress,
    ) -> Result<()> {
        let path = &self.plan.files[n].path;
        let slot = self.slot(n);
        let new_file = !matches!(self.plan.files[n].action, Action::Update { .. });
        match slot.get() {
            // A new file was sized up front, so its unwritten ranges read as
            // zeros and take no space.
            Some(Ok(_)) if self.sparse && new_file && data.iter().all(|&b| b == 0) => {}
            Some(Ok(open)) => open
                .file
                .write_all_at(data, offset)
                .map_err(|e| Error::io(path, e))?,
            Some(Err((kind, msg))) => {
                return Err(Error::io(path, io::Error::new(*kind, msg.clone())))
            }
            None => return Err(Error::io(path, io::Error::other("file not opened"))),
        }
        progress.bytes(data.len() as u64);
        if self.remaining[n].fetch_sub(1, Ordering::AcqRel) == 1 {
            self.finish(n, &slot, progress);
            self.forget(n);
        }
        Ok(())
    }

    /// Metadata on the handle, then the rename into place.
    fn finish(&self, n: usize, slot: &Slot, progress: &dyn RestoreProgress) {
        let f = &self.plan.files[n];
        let open = match slot.get() {
            Some(Ok(open)) => open,
            Some(Err((_, msg))) => return self.warn(&f.path, msg),
            None => return,
        };
        for e in meta::set_metadata(open.file.as_fd(), &f.node, self.owners) {
            self.warn(&f.path, e);
        }
        if let (Some(tmp), Some(name)) = (&open.tmp, f.path.file_name()) {
            if let Err(e) = target::rename_over(open.dir.as_fd(), tmp, name) {
                self.warn(&f.path, e);
                let _ = rustix::fs::unlinkat(&*open.dir, tmp, rustix::fs::AtFlags::empty());
                return;
            }
        }
        self.written.fetch_add(1, Ordering::Relaxed);
        progress.file_done(&f.path);
    }

    /// After a failed restore: temporary files of unfinished replacements are
    /// removed (the old entry stays); files created in place stay for a resume.
    pub(crate) fn abandon(&self) {
        let open = std::mem::take(&mut *self.open.lock().unwrap_or_else(|e| e.into_inner()));
        for slot in open.values() {
            if let Some(Ok(Open {
                dir,
                tmp: Some(tmp),
                ..
            })) = slot.get()
            {
                let _ = rustix::fs::unlinkat(&**dir, tmp, rustix::fs::AtFlags::empty());
            }
        }
        let parked = std::mem::take(&mut *self.parked.lock().unwrap_or_else(|e| e.into_inner()));
        for p in parked.into_values() {
            if let (Some(tmp), Ok(dir)) = (&p.tmp, self.target.dir(&p.dir)) {
                let _ = rustix::fs::unlinkat(&*dir, tmp, rustix::fs::AtFlags::empty());
            }
        }
    }

    /// Whether file `n` has a blob in no index (it is never written).
    fn is_missing(&self, n: usize) -> bool {
        // In file order (the planner pushes them so): no scan per file.
        self.plan
            .missing
            .binary_search_by_key(&n, |&(m, _)| m)
            .is_ok()
    }

    /// The files not restored whole (restore paths, sorted): those with a
    /// blob in no index, and those whose packs failed.
    pub(crate) fn unfinished(&self) -> Vec<std::path::PathBuf> {
        let mut out: Vec<_> = self
            .plan
            .files
            .iter()
            .enumerate()
            .filter(|&(n, _)| self.remaining[n].load(Ordering::Relaxed) > 0 || self.is_missing(n))
            .map(|(_, f)| f.path.clone())
            .collect();
        out.sort();
        out
    }

    /// The plan's entries (its packs left out).
    pub(crate) fn plan(&self) -> &RestorePlan {
        &self.plan
    }

    /// Whether ownership is restored.
    pub(crate) fn owners(&self) -> bool {
        self.owners
    }
}
