//! Opening cache directories and files so that another local user cannot
//! steer them (see the module docs, *Local users*).
//!
//! The argument: the cache root and the repository's directory must be
//! real directories (not symbolic links) owned by this process's effective
//! user and not writable by group or others, checked at open. Every
//! directory below them is checked the same way (without following links)
//! on each read and write, and every file is opened with `O_NOFOLLOW |
//! O_NONBLOCK` and refused unless `fstat` shows a regular file owned by us
//! and not writable by group or others. Then no other user except root can
//! add, replace or rename anything on the path to a cache file, so the
//! checks cannot be raced, and a planted link or FIFO is never followed
//! and never blocks.

use std::fs::{self, File};
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Mode of directories the cache creates.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;
/// Mode of files the cache creates.
#[cfg(unix)]
pub(super) const FILE_MODE: u32 = 0o600;

/// Why `meta` (of an entry read without following links) may not be used
/// as a cache directory, if it may not.
#[cfg(unix)]
fn dir_problem(meta: &fs::Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let ours = rustix::process::geteuid().as_raw();
    if meta.file_type().is_symlink() {
        Some("is a symbolic link (not followed)".to_owned())
    } else if !meta.is_dir() {
        Some("is not a directory".to_owned())
    } else if meta.uid() != ours {
        Some(format!(
            "is owned by uid {}, not by us (uid {ours})",
            meta.uid()
        ))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!(
            "is writable by group or others (mode {:o}; `chmod go-w` it to use it)",
            meta.mode() & 0o7777
        ))
    } else {
        None
    }
}

#[cfg(not(unix))]
fn dir_problem(meta: &fs::Metadata) -> Option<String> {
    if meta.file_type().is_symlink() {
        Some("is a symbolic link (not followed)".to_owned())
    } else if !meta.is_dir() {
        Some("is not a directory".to_owned())
    } else {
        None
    }
}

/// Creates `path` (and missing parents, mode 0700) and checks that `path`
/// itself is a directory we may use.
///
/// # Errors
/// [`Error::UnsafeCache`] naming the directory, or [`Error::Io`].
pub(super) fn ensure_root(path: &Path) -> Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, DIR_MODE);
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            b.create(path).map_err(|e| Error::io(path, e))?;
        }
        Err(e) => return Err(Error::io(path, e)),
        Ok(_) => {}
    }
    let meta = fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    match dir_problem(&meta) {
        Some(reason) => Err(Error::UnsafeCache {
            path: path.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks every directory from `base` (exclusive) down to `rel`'s parent:
/// `Ok(false)` if one is missing (`create`: it is made, mode 0700), an
/// error naming the first one we may not use.
pub(super) fn check_dirs(base: &Path, rel: &Path, create: bool) -> io::Result<bool> {
    let mut at = base.to_owned();
    let Some(parent) = rel.parent() else {
        return Ok(true);
    };
    for c in parent.components() {
        let Component::Normal(c) = c else {
            return Err(io::Error::other("not a plain relative path"));
        };
        at.push(c);
        let meta = match fs::symlink_metadata(&at) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                #[cfg_attr(not(unix), allow(unused_mut))]
                let mut b = fs::DirBuilder::new();
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut b, DIR_MODE);
                match b.create(&at) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                    _ => fs::symlink_metadata(&at)?,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            r => r?,
        };
        if let Some(why) = dir_problem(&meta) {
            return Err(Unsafe::new(at, why).into());
        }
    }
    Ok(true)
}

/// A directory or file below the repository's cache directory that is
/// refused; `path` is where.
#[derive(Debug)]
pub(super) struct Unsafe {
    pub(super) path: PathBuf,
    why: String,
}

impl Unsafe {
    fn new(path: PathBuf, why: String) -> Self {
        Unsafe { path, why }
    }

    /// The refused entry, if `e` is such a refusal.
    pub(super) fn of(e: &io::Error) -> Option<&Path> {
        let u = e.get_ref()?.downcast_ref::<Unsafe>()?;
        Some(&u.path)
    }
}

impl std::fmt::Display for Unsafe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.path.display(), self.why)
    }
}

impl std::error::Error for Unsafe {}

impl From<Unsafe> for io::Error {
    fn from(u: Unsafe) -> Self {
        io::Error::new(io::ErrorKind::PermissionDenied, u)
    }
}

/// Opens the cache file `path` for reading without following a link or
/// blocking on a FIFO; refuses (as [`Unsafe`]) anything but a regular file
/// owned by us and not writable by group or others.
pub(super) fn open_file(path: &Path) -> io::Result<File> {
    let mut o = fs::OpenOptions::new();
    o.read(true).write(false);
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt;
        let flags = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        o.custom_flags(flags.bits() as i32);
    }
    let f = match o.open(path) {
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Err(
                Unsafe::new(path.to_owned(), "is a symbolic link (not followed)".into()).into(),
            )
        }
        r => r?,
    };
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(Unsafe::new(path.to_owned(), "is not a regular file".into()).into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let ours = rustix::process::geteuid().as_raw();
        if meta.uid() != ours || meta.mode() & 0o022 != 0 {
            let why = format!(
                "is owned by uid {} with mode {:o}: not ours alone",
                meta.uid(),
                meta.mode() & 0o7777
            );
            return Err(Unsafe::new(path.to_owned(), why).into());
        }
    }
    Ok(f)
}

/// Creates the new file `path` (mode 0600; nothing may be there, not even a
/// link) for writing.
pub(super) fn create_file(path: &Path) -> io::Result<File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(FILE_MODE);
        o.custom_flags((OFlags::NOFOLLOW | OFlags::CLOEXEC).bits() as i32);
    }
    o.open(path)
}
