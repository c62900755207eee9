//! The blocking file operations behind [`LocalBackend`](super::LocalBackend).

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::Shared;
use crate::memory::clamp_range;
use crate::util::random_u64;
use crate::{Error, ObjectMeta, PutMode, Result};

/// The name prefix of temporary files; [`validate_key`](crate::validate_key)
/// refuses it, so no key names a temporary file.
pub(crate) const TMP_PREFIX: &str = ".cairn-tmp";

/// How often a put redoes its directories when a concurrent put removed one.
const DIR_ATTEMPTS: usize = 3;

fn io_error(key: &str, source: io::Error) -> Error {
    Error::Io {
        key: key.to_owned(),
        source,
    }
}

/// An error reading `key`: a missing file, or a path through a file, means
/// the object does not exist.
fn read_error(key: &str, source: io::Error) -> Error {
    match source.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory => Error::NotFound {
            key: key.to_owned(),
        },
        _ => io_error(key, source),
    }
}

fn not_found(key: &str) -> Error {
    Error::NotFound {
        key: key.to_owned(),
    }
}

fn conflict(key: &str, reason: &'static str) -> Error {
    Error::KeyConflict {
        key: key.to_owned(),
        reason,
    }
}

fn is_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// Makes the entry of everything in `dir` durable. Only Unix lets a
/// directory be opened and synced; elsewhere this is a no-op.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A temporary file, removed when dropped unless [`TempFile::keep`] is set.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl TempFile {
    /// Creates a fresh temporary file in `dir`, writes `data` and fsyncs it.
    fn write(dir: &Path, data: &[u8]) -> io::Result<Self> {
        let (file, path) = loop {
            let path = dir.join(format!("{TMP_PREFIX}-{:016x}", random_u64()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => break (file, path),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        };
        // From here on, dropping `tmp` on an error removes the file.
        let tmp = Self { path, keep: false };
        let mut file = file;
        file.write_all(data)?;
        file.sync_all()?;
        Ok(tmp)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            // Best effort: a leftover temporary file holds no object and is
            // ignored by reads and listings.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Creates the directories from the root down to `dir`, fsyncing the parent
/// of each one this process has not made durable yet (including those another
/// thread or process created but may not have synced).
fn ensure_dirs(shared: &Shared, key: &str, dir: &Path) -> Result<()> {
    let durable = |d: &Path| {
        shared
            .durable_dirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(d)
    };
    if dir == shared.root || durable(dir) {
        return Ok(());
    }
    let rel = dir
        .strip_prefix(&shared.root)
        .map_err(|_| conflict(key, "path outside the root"))?;
    let mut current = shared.root.clone();
    for component in rel.components() {
        let parent = current.clone();
        current.push(component);
        if durable(&current) {
            continue;
        }
        match fs::create_dir(&current) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                if !is_dir(&current) {
                    return Err(conflict(key, "a prefix of the key is an object"));
                }
            }
            Err(e) if e.kind() == ErrorKind::NotADirectory => {
                return Err(conflict(key, "a prefix of the key is an object"));
            }
            Err(e) => return Err(io_error(key, e)),
        }
        sync_dir(&parent).map_err(|e| io_error(key, e))?;
        shared
            .durable_dirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(current.clone());
    }
    Ok(())
}

/// Clears the way for an object at `path`: an empty directory there (left by
/// deletes) is removed; a non-empty one is a conflict.
fn clear_target(shared: &Shared, key: &str, path: &Path) -> Result<()> {
    if !is_dir(path) {
        return Ok(());
    }
    shared
        .durable_dirs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(path);
    fs::remove_dir(path).map_err(|_| conflict(key, "other keys start with this key and a '/'"))
}

pub(crate) fn put(
    shared: &Shared,
    key: &str,
    path: &Path,
    data: &[u8],
    mode: PutMode,
) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| conflict(key, "key has no parent directory"))?;
    let mut attempt = 0;
    let mut tmp = loop {
        attempt += 1;
        ensure_dirs(shared, key, dir)?;
        match TempFile::write(dir, data) {
            Ok(tmp) => break tmp,
            // A put of a key equal to our parent directory's key removed the
            // (empty) directory: make it again, and find the conflict if the
            // other put has stored its object there.
            Err(e) if e.kind() == ErrorKind::NotFound && attempt < DIR_ATTEMPTS => {
                shared
                    .durable_dirs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
            }
            Err(e) => return Err(io_error(key, e)),
        }
    };
    clear_target(shared, key, path)?;
    let moved = match mode {
        PutMode::CreateOnly => fs::hard_link(&tmp.path, path),
        PutMode::Overwrite => fs::rename(&tmp.path, path).inspect(|()| tmp.keep = true),
    };
    if let Err(e) = moved {
        return Err(if is_dir(path) {
            conflict(key, "other keys start with this key and a '/'")
        } else if e.kind() == ErrorKind::AlreadyExists {
            // Callers take "it already exists" as "it is stored". The writer
            // that linked it may have crashed before fsyncing the directory
            // (or, not being Cairn, the file): make both durable before we
            // say so.
            drop(tmp);
            if let Err(e) = sync_existing(path, dir) {
                return Err(io_error(key, e));
            }
            Error::AlreadyExists {
                key: key.to_owned(),
            }
        } else {
            io_error(key, e)
        });
    }
    // Remove the temporary name before syncing, so one sync covers both.
    drop(tmp);
    sync_dir(dir).map_err(|e| io_error(key, e))
}

/// Fsyncs an object someone else stored, and the directory naming it.
fn sync_existing(path: &Path, dir: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()?;
    sync_dir(dir)
}

/// Opens the object file and returns it with its size.
fn open(key: &str, path: &Path) -> Result<(File, u64)> {
    let file = File::open(path).map_err(|e| read_error(key, e))?;
    let meta = file.metadata().map_err(|e| io_error(key, e))?;
    if !meta.is_file() {
        // A directory of other keys, not an object.
        return Err(not_found(key));
    }
    Ok((file, meta.len()))
}

pub(crate) fn get(key: &str, path: &Path) -> Result<Bytes> {
    let (mut file, size) = open(key, path)?;
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.read_to_end(&mut data).map_err(|e| io_error(key, e))?;
    Ok(data.into())
}

pub(crate) fn get_range(key: &str, path: &Path, range: Range<u64>) -> Result<Bytes> {
    let (mut file, size) = open(key, path)?;
    let range = clamp_range(key, &range, size)?;
    let len = usize::try_from(range.end - range.start)
        .map_err(|_| io_error(key, io::Error::other("range larger than memory")))?;
    let mut data = vec![0; len];
    if len > 0 {
        file.seek(SeekFrom::Start(range.start))
            .and_then(|_| file.read_exact(&mut data))
            .map_err(|e| io_error(key, e))?;
    }
    Ok(data.into())
}

pub(crate) fn stat(key: &str, path: &Path) -> Result<ObjectMeta> {
    let meta = fs::metadata(path).map_err(|e| read_error(key, e))?;
    if !meta.is_file() {
        return Err(not_found(key));
    }
    Ok(ObjectMeta::new(key, meta.len()))
}

pub(crate) fn delete(key: &str, path: &Path) -> Result<()> {
    if let Err(e) = fs::remove_file(path) {
        // Removing a directory fails with a platform-dependent error; it is
        // not an object either way.
        return Err(if is_dir(path) {
            not_found(key)
        } else {
            read_error(key, e)
        });
    }
    match path.parent() {
        Some(dir) => sync_dir(dir).map_err(|e| io_error(key, e)),
        None => Ok(()),
    }
}
