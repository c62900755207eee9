//! The restore target, reached only through directory handles.
//!
//! Every path below the target is opened one component at a time, relative to
//! the handle of its parent, with `O_NOFOLLOW` (and `O_DIRECTORY` for
//! directories). A symlink planted in the target — before the restore or in the
//! middle of it — is therefore never followed: at worst the open fails, or the
//! link itself is replaced. Files are created with `O_CREAT | O_EXCL`, which
//! never follows a link either, and their metadata is set on the open handle
//! (`fchown`, `fchmod`, `futimens`), never by path.
//!
//! The target directory itself (the path the user gave) is opened normally: it
//! is the caller's choice, like a `cd`.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

/// Flags for opening a directory we will create entries in.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Directory handles kept open: enough for the directories a restore is
/// writing into at once (packs follow backup order, so mostly one or two),
/// small against the usual limit of 1024 descriptors.
const DIR_CACHE: usize = 64;

/// Permissions while an entry is being restored: nobody else can read a file
/// or enter a directory before it has its final mode.
pub(crate) const FILE_MODE_WHILE_RESTORING: u32 = 0o600;
const DIR_MODE_WHILE_RESTORING: u32 = 0o700;

/// What is found at a name in the target (not following links).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// Nothing.
    Missing,
    /// A directory.
    Dir { mtime: (i64, i64) },
    /// A regular file.
    File {
        dev: u64,
        ino: u64,
        nlink: u64,
        size: u64,
        mtime: (i64, i64),
    },
    /// A symlink.
    Symlink { mtime: (i64, i64) },
    /// A FIFO, socket or device.
    Other { mtime: (i64, i64) },
}

impl Found {
    pub(crate) fn mtime(&self) -> Option<(i64, i64)> {
        match *self {
            Found::Missing => None,
            Found::Dir { mtime }
            | Found::File { mtime, .. }
            | Found::Symlink { mtime }
            | Found::Other { mtime } => Some(mtime),
        }
    }
}

// `Stat`'s field types differ between architectures; the conversions are
// identities on some of them.
#[allow(clippy::useless_conversion)]
fn found(st: &rfs::Stat) -> Found {
    let mtime = (
        i64::from(st.st_mtime),
        i64::try_from(st.st_mtime_nsec).unwrap_or(0),
    );
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => Found::Dir { mtime },
        FileType::RegularFile => Found::File {
            dev: u64::from(st.st_dev),
            ino: u64::from(st.st_ino),
            nlink: u64::from(st.st_nlink),
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime,
        },
        FileType::Symlink => Found::Symlink { mtime },
        _ => Found::Other { mtime },
    }
}

/// The target and a small cache of directory handles below it.
#[derive(Debug)]
pub(crate) struct Target {
    root: Arc<OwnedFd>,
    /// The target directory's device: deletions never leave it.
    dev: u64,
    cache: Mutex<DirCache>,
}

#[derive(Debug, Default)]
struct DirCache {
    map: HashMap<PathBuf, (Arc<OwnedFd>, u64)>,
    tick: u64,
}

impl DirCache {
    fn get(&mut self, rel: &Path) -> Option<Arc<OwnedFd>> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(rel).map(|(fd, t)| {
            *t = tick;
            fd.clone()
        })
    }
    fn put(&mut self, rel: PathBuf, fd: Arc<OwnedFd>) {
        if self.map.len() >= DIR_CACHE && !self.map.contains_key(&rel) {
            // Least recently used out; a scan of 64 entries is cheaper than the
            // openat it saves.
            if let Some(old) = self
                .map
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone())
            {
                self.map.remove(&old);
            }
        }
        self.tick += 1;
        self.map.insert(rel, (fd, self.tick));
    }
}

/// The components of a relative path, refusing anything but plain names.
fn names(rel: &Path) -> io::Result<Vec<&OsStr>> {
    rel.components()
        .map(|c| match c {
            Component::Normal(n) => Ok(n),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a plain relative path", rel.display()),
            )),
        })
        .collect()
}

impl Target {
    /// Opens the target directory, creating it (and its parents) if `create`.
    /// `Ok(None)`: it does not exist and `create` is false.
    pub(crate) fn open(path: &Path, create: bool) -> io::Result<Option<Self>> {
        if create {
            std::fs::create_dir_all(path)?;
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        match rfs::openat(rfs::CWD, path, flags, Mode::empty()) {
            Ok(fd) => Ok(Some(Target {
                dev: device(&rfs::fstat(&fd)?),
                root: Arc::new(fd),
                cache: Mutex::default(),
            })),
            Err(rustix::io::Errno::NOENT) if !create => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, DirCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The handle of the directory `rel` below the target ("" is the target),
    /// opened one component at a time without following links.
    pub(crate) fn dir(&self, rel: &Path) -> io::Result<Arc<OwnedFd>> {
        let comps = names(rel)?;
        if comps.is_empty() {
            return Ok(self.root.clone());
        }
        if let Some(fd) = self.cache().get(rel) {
            return Ok(fd);
        }
        // Start from the nearest ancestor still cached.
        let (mut fd, mut start) = (self.root.clone(), 0);
        for i in (1..comps.len()).rev() {
            let prefix: PathBuf = comps[..i].iter().collect();
            if let Some(found) = self.cache().get(&prefix) {
                (fd, start) = (found, i);
                break;
            }
        }
        for name in &comps[start..] {
            fd = Arc::new(rfs::openat(&*fd, *name, DIR_FLAGS, Mode::empty())?);
        }
        self.cache().put(rel.to_owned(), fd.clone());
        Ok(fd)
    }

    /// Makes `rel` a directory, replacing whatever non-directory is there when
    /// `replace` (and failing when not). A new directory is `0700` until its
    /// metadata is set. Returns whether it was created.
    pub(crate) fn ensure_dir(&self, rel: &Path, replace: bool) -> io::Result<bool> {
        let (parent, name) = self.parent_of(rel)?;
        let created = match rfs::mkdirat(&*parent, name, Mode::from(DIR_MODE_WHILE_RESTORING)) {
            Ok(()) => true,
            Err(rustix::io::Errno::EXIST) => {
                match rfs::openat(&*parent, name, DIR_FLAGS, Mode::empty()) {
                    Ok(fd) => {
                        self.cache().put(rel.to_owned(), Arc::new(fd));
                        return Ok(false);
                    }
                    Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) if replace => {
                        remove_entry(parent.as_fd(), name)?;
                        rfs::mkdirat(&*parent, name, Mode::from(DIR_MODE_WHILE_RESTORING))?;
                        true
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        let fd = rfs::openat(&*parent, name, DIR_FLAGS, Mode::empty())?;
        self.cache().put(rel.to_owned(), Arc::new(fd));
        Ok(created)
    }

    /// Removes the entry `rel` (a directory with everything below it),
    /// unless it, or anything below it, is on another file system than the
    /// target directory: a mount point inside the target is never entered
    /// or emptied ([`OtherDevice`], naming it; what is on the target's own
    /// file system around it is still removed).
    pub(crate) fn remove(&self, rel: &Path) -> io::Result<()> {
        let (dir, name) = self.parent_of(rel)?;
        if device(&rfs::fstat(&*dir)?) != self.dev {
            return Err(OtherDevice::at(rel.to_owned()));
        }
        remove_entry(dir.as_fd(), name)
    }

    /// The handle of `rel`'s parent and `rel`'s last component.
    pub(crate) fn parent_of<'a>(&self, rel: &'a Path) -> io::Result<(Arc<OwnedFd>, &'a OsStr)> {
        let name = rel.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} has no name", rel.display()),
            )
        })?;
        Ok((self.dir(rel.parent().unwrap_or(Path::new("")))?, name))
    }
}

/// What is at `name` in `dir`, not following a link.
pub(crate) fn lookup(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Found> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(found(&st)),
        Err(rustix::io::Errno::NOENT) => Ok(Found::Missing),
        Err(e) => Err(e.into()),
    }
}

/// The names in directory `dir` (without `.` and `..`).
pub(crate) fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let mut out = Vec::new();
    let mut d = rfs::Dir::read_from(dir)?;
    while let Some(e) = d.read() {
        let name = e?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            out.push(OsString::from_vec(name));
        }
    }
    Ok(out)
}

/// Removes `name` from `dir`: a file or link is unlinked, a directory removed
/// with everything below it — all through handles, so a link inside is removed,
/// never followed. Nothing on another device than `dir` is entered or removed
/// (a mount point inside the target): that part fails with [`OtherDevice`]
/// naming it, after everything else removable was removed.
pub(crate) fn remove_entry(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let dev = device(&rfs::fstat(dir)?);
    remove_on(dir, name, dev)
}

fn remove_on(dir: BorrowedFd<'_>, name: &OsStr, dev: u64) -> io::Result<()> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if device(&st) != dev => return Err(OtherDevice::at(name.into())),
        Ok(_) => {}
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    match rfs::openat(dir, name, DIR_FLAGS, Mode::empty()) {
        Ok(sub) => {
            // The directory opened is what counts (not the one `statat`
            // saw): it may have been swapped for a mount point since.
            if device(&rfs::fstat(&sub)?) != dev {
                return Err(OtherDevice::at(name.into()));
            }
            let mut first = None;
            for child in list(sub.as_fd())? {
                if let Err(e) = remove_on(sub.as_fd(), &child, dev) {
                    first.get_or_insert_with(|| OtherDevice::within(name, e));
                }
            }
            if let Some(e) = first {
                return Err(e);
            }
            rfs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
        }
        Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
            rfs::unlinkat(dir, name, AtFlags::empty())?;
        }
        Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

// `st_dev`'s type differs between architectures.
#[allow(clippy::useless_conversion)]
fn device(st: &rfs::Stat) -> u64 {
    u64::from(st.st_dev)
}

/// An entry left in place because it is on another file system than the
/// directory it is in (a mount point inside the target); `path` is
/// relative to the entry a deletion started from.
#[derive(Debug)]
pub(crate) struct OtherDevice {
    path: PathBuf,
}

impl OtherDevice {
    fn at(path: PathBuf) -> io::Error {
        io::Error::other(OtherDevice { path })
    }

    /// `e`, with `parent` prefixed to the path if it is an [`OtherDevice`].
    fn within(parent: &OsStr, e: io::Error) -> io::Error {
        match e.get_ref().and_then(|i| i.downcast_ref::<OtherDevice>()) {
            Some(o) => OtherDevice::at(Path::new(parent).join(&o.path)),
            None => e,
        }
    }
}

impl std::fmt::Display for OtherDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is on another file system (a mount point inside the target): \
             left in place, nothing in it deleted",
            self.path.display()
        )
    }
}

impl std::error::Error for OtherDevice {}

/// Creates `name` in `dir` as a new, empty file readable by us alone. Fails
/// with `AlreadyExists` if anything (a link included) is there.
pub(crate) fn create_new(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rfs::openat(dir, name, flags, Mode::from(FILE_MODE_WHILE_RESTORING))?;
    Ok(File::from(fd))
}

/// A name for a temporary entry next to `name`: dot-prefixed and marked, so
/// an interrupted restore's leftovers are recognisable (and `--delete` removes
/// them). Uniqueness comes from `O_EXCL` and a retry, not from secrecy.
pub(crate) fn temp_name(name: &OsStr, attempt: u64) -> OsString {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let base = &name.as_bytes()[..name.len().min(180)];
    let mut out = b".".to_vec();
    out.extend_from_slice(base);
    out.extend_from_slice(format!(".cairn-{}-{n}-{attempt}", std::process::id()).as_bytes());
    OsString::from_vec(out)
}

/// Creates a fresh temporary file next to `name` in `dir`.
pub(crate) fn create_temp(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<(File, OsString)> {
    let mut attempt = 0;
    loop {
        let tmp = temp_name(name, attempt);
        match create_new(dir, &tmp) {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Moves `tmp` over `name` in the same directory (atomically: readers see the
/// old entry or the new one). A directory in the way is removed first.
pub(crate) fn rename_over(dir: BorrowedFd<'_>, tmp: &OsStr, name: &OsStr) -> io::Result<()> {
    match rfs::renameat(dir, tmp, dir, name) {
        Err(rustix::io::Errno::ISDIR | rustix::io::Errno::NOTEMPTY | rustix::io::Errno::EXIST) => {
            remove_entry(dir, name)?;
            Ok(rfs::renameat(dir, tmp, dir, name)?)
        }
        r => Ok(r?),
    }
}

/// Opens the existing regular file `name` for rewriting in place. Refused
/// (`None`) when it is not a regular file with one link: writing through a
/// hard link would change a file elsewhere, possibly outside the target.
/// `O_NONBLOCK` keeps a FIFO swapped in from blocking the open.
pub(crate) fn open_in_place(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    write: bool,
) -> io::Result<Option<File>> {
    let access = if write {
        OFlags::WRONLY
    } else {
        OFlags::RDONLY
    };
    let flags = access | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rfs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::LOOP | rustix::io::Errno::NXIO | rustix::io::Errno::ISDIR) => {
            return Ok(None)
        }
        Err(e) => return Err(e.into()),
    };
    let st = rfs::fstat(&fd)?;
    match found(&st) {
        Found::File { nlink: 1, .. } => {
            // Back to blocking writes.
            rfs::fcntl_setfl(&fd, rfs::fcntl_getfl(&fd)? - OFlags::NONBLOCK)?;
            Ok(Some(File::from(fd)))
        }
        _ => Ok(None),
    }
}

/// The device and inode of an open file.
#[allow(clippy::useless_conversion)]
pub(crate) fn identity(fd: BorrowedFd<'_>) -> io::Result<(u64, u64)> {
    let st = rfs::fstat(fd)?;
    Ok((u64::from(st.st_dev), u64::from(st.st_ino)))
}

/// Makes `name` in `dir` a hard link to `from` in `from_dir`, replacing what
/// is there. `linkat` without `AT_SYMLINK_FOLLOW`: if `from` has been swapped
/// for a symlink, the new name links to that symlink, never to its target.
pub(crate) fn hard_link(
    from_dir: &OwnedFd,
    from: &OsStr,
    dir: &OwnedFd,
    name: &OsStr,
) -> io::Result<()> {
    match rfs::linkat(from_dir, from, dir, name, AtFlags::empty()) {
        Err(rustix::io::Errno::EXIST) => {}
        r => return Ok(r?),
    }
    let mut attempt = 0;
    let tmp = loop {
        let tmp = temp_name(name, attempt);
        match rfs::linkat(from_dir, from, dir, &tmp, AtFlags::empty()) {
            Ok(()) => break tmp,
            Err(rustix::io::Errno::EXIST) if attempt < 16 => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    };
    let r = rename_over(dir.as_fd(), &tmp, name);
    // A rename between two links of one file does nothing: drop the spare.
    match rfs::unlinkat(dir, &tmp, AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => r,
        Err(e) => r.and(Err(e.into())),
    }
}
