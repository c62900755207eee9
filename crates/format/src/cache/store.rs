//! Reading, writing and evicting cache files (blocking file I/O).

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use zeroize::Zeroizing;

use super::file::{self, HEADER_LEN};
use super::safe::{self, Unsafe};
use super::{bump, CacheOptions, Counters, MetaCache};
use crate::error::{Error, Result};
use crate::filter::CACHEDIR_TAG_SIGNATURE;

/// Temporary files start with this; object files never start with `.`.
const TMP_PREFIX: &str = ".tmp-";
/// A temporary file older than this was left by a process that died.
const TMP_STALE: Duration = Duration::from_secs(3600);
/// A hit refreshes a file's modification time (its place in the eviction
/// order) only if it is older than this.
const TOUCH_AFTER: Duration = Duration::from_secs(600);
/// Eviction deletes down to this fraction of the bound, so that it does not
/// run again at the very next write.
const EVICT_TO_PERCENT: u64 = 90;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl MetaCache {
    /// Opens (creating it if needed) the cache of repository `repo_id`
    /// under `opts`' root, authenticating files with `key`.
    ///
    /// # Errors
    /// [`Error::UnsafeCache`] if the root or the repository's directory is
    /// a symbolic link, not a directory, owned by another user or writable
    /// by group or others (nothing is followed or used);
    /// [`Error::InvalidOption`] for no root or a repository id that is not
    /// hex; [`Error::Io`] naming the path.
    pub fn open(opts: &CacheOptions, repo_id: &str, key: Zeroizing<[u8; 32]>) -> Result<Self> {
        let root = match &opts.dir {
            Some(d) => d.clone(),
            None => super::default_cache_dir().ok_or_else(|| Error::InvalidOption {
                what: "no home or cache directory".to_owned(),
            })?,
        };
        if repo_id.is_empty() || !repo_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidOption {
                what: format!("repository id {repo_id:?} is not hex"),
            });
        }
        safe::ensure_root(&root)?;
        // Backup tools that honour CACHEDIR.TAG (Cairn, restic, tar) skip it.
        let tag = root.join("CACHEDIR.TAG");
        if fs::symlink_metadata(&tag).is_err() {
            let text = b"\n# Cairn's metadata cache: safe to delete.\n";
            write_atomic(&root, &tag, CACHEDIR_TAG_SIGNATURE, text)
                .map_err(|e| Error::io(&tag, e))?;
        }
        let dir = root.join(repo_id);
        safe::ensure_root(&dir)?;
        let cache = MetaCache {
            dir,
            key,
            max_bytes: opts.max_bytes,
            used: AtomicU64::new(0),
            scanned: Once::new(),
            repair: std::sync::Mutex::new(()),
            counters: Counters::default(),
        };
        Ok(cache)
    }

    /// Sets `used` from a scan of the cache directory, once per process
    /// (see the field's comment). Writes and evictions before it only ever
    /// follow it: both call this first.
    pub(super) fn ensure_scanned(&self) {
        self.scanned.call_once(|| {
            let files = self.scan();
            self.used
                .store(files.iter().map(|f| f.len).sum(), Ordering::Relaxed);
        });
    }

    /// The content of object `name` if cached and intact. A file that does
    /// not verify is deleted (and counted as rejected).
    ///
    /// A link, FIFO or other non-regular file, or a file or directory on
    /// its path not ours alone, is never followed or read: the entry is
    /// refused like a tampered file (a file is deleted and the object
    /// fetched again; a directory is replaced at the next write).
    pub fn get(&self, name: &str, max: u64) -> Option<Bytes> {
        let rel = file::object_path(name)?;
        let path = self.dir.join(&rel);
        let read = safe::check_dirs(&self.dir, &rel, false).and_then(|found| match found {
            true => read_capped(&path, max.saturating_add(HEADER_LEN as u64)),
            false => Err(io::ErrorKind::NotFound.into()),
        });
        let (f, bytes, modified) = match read {
            Ok(Some(read)) => read,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                bump(&self.counters.misses, 1);
                return None;
            }
            Err(e) if Unsafe::of(&e).is_some_and(|p| p != path) => {
                // A directory on the way: `put` replaces it.
                bump(&self.counters.rejected, 1);
                return None;
            }
            Ok(None) | Err(_) => {
                self.reject(name);
                return None;
            }
        };
        if !file::verify(&self.key, name, &bytes) {
            self.reject(name);
            return None;
        }
        bump(&self.counters.hits, 1);
        // Least recently used eviction goes by modification time; a coarse
        // clock is enough, and saves a system call on most hits.
        let now = SystemTime::now();
        if now.duration_since(modified).unwrap_or_default() > TOUCH_AFTER {
            let _ = f.set_modified(now);
        }
        Some(Bytes::from(bytes).slice(HEADER_LEN..))
    }

    /// Deletes object `name`'s file: it failed verification.
    pub fn reject(&self, name: &str) {
        bump(&self.counters.rejected, 1);
        if let Some(rel) = file::object_path(name) {
            // Only through directories that are ours alone: a link on the
            // way would make this delete a file elsewhere.
            if safe::check_dirs(&self.dir, &rel, false).is_ok_and(|found| found) {
                let _ = fs::remove_file(self.dir.join(rel));
            }
        }
    }

    /// Stores `content` as object `name` (if the allowlist admits it and it
    /// fits the bound); errors are ignored: a cache that cannot be written
    /// only costs speed.
    pub fn put(&self, name: &str, content: &[u8]) {
        let Some(rel) = file::object_path(name) else {
            return;
        };
        let len = (content.len() + HEADER_LEN) as u64;
        if len > self.max_bytes / 4 {
            return;
        }
        self.ensure_scanned();
        if let Err(e) = safe::check_dirs(&self.dir, &rel, true) {
            // A link or a directory not ours alone on the way (inside our
            // own directory, so only we or root put it there): replaced.
            if Unsafe::of(&e).is_none() || !self.repair_dirs(&rel) {
                return;
            }
        }
        let path = self.dir.join(rel);
        let Some(parent) = path.parent() else { return };
        let head = file::header(&self.key, name, content);
        let written = write_atomic(parent, &path, &head, content);
        if written.is_ok() {
            bump(&self.counters.writes, 1);
            let used = self.used.fetch_add(len, Ordering::Relaxed) + len;
            if used > self.max_bytes {
                self.evict();
            }
        }
    }

    /// Replaces refused directories (links, directories not ours alone) on
    /// `rel`'s path with fresh ones; whether the path is usable after.
    /// Checked again under the lock: another write may have repaired it
    /// since this one looked.
    fn repair_dirs(&self, rel: &Path) -> bool {
        let _held = self.repair.lock().unwrap_or_else(|e| e.into_inner());
        // One pass per refused level, bounded by the path's depth.
        for _ in 0..=rel.components().count() {
            let e = match safe::check_dirs(&self.dir, rel, true) {
                Ok(_) => return true,
                Err(e) => e,
            };
            let Some(bad) = Unsafe::of(&e) else {
                return false;
            };
            let gone = match fs::symlink_metadata(bad) {
                Ok(m) if m.is_dir() => fs::remove_dir_all(bad),
                _ => fs::remove_file(bad),
            };
            if gone.is_err() {
                return false;
            }
        }
        false
    }

    /// Deletes every cached object under key prefix `prefix` (`""`: all of
    /// this repository's), e.g. `tenants/<id>/` when a tenant is shredded.
    /// A prefix that is not whole, plain path components is refused.
    pub fn purge(&self, prefix: &str) -> io::Result<()> {
        let rel = file::prefix_path(prefix).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cache prefix {prefix:?} is not plain path components"),
            )
        })?;
        let path = self.dir.join(&rel);
        if !rel.as_os_str().is_empty() {
            safe::check_dirs(&self.dir, &rel, false)?;
        }
        let r = match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&path),
            Ok(_) => fs::remove_file(&path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        };
        let files = self.scan();
        self.used
            .store(files.iter().map(|f| f.len).sum(), Ordering::Relaxed);
        r
    }

    /// Drops the cached objects in key directory `dir` (e.g. `snapshots`,
    /// `tenants/a/index`, `data`, and its subdirectories) whose full name
    /// `keep` refuses: objects a fresh listing no longer names.
    pub fn retain(&self, dir: &str, keep: &dyn Fn(&str) -> bool) {
        let Some(rel) = file::prefix_path(dir) else {
            return;
        };
        // `rel` itself must be a directory of ours alone, not a link.
        if !safe::check_dirs(&self.dir, &rel.join("x"), false).is_ok_and(|found| found) {
            return;
        }
        let Ok(entries) = fs::read_dir(self.dir.join(rel)) else {
            return;
        };
        for e in entries.flatten() {
            let file_name = e.file_name();
            let Some(leaf) = file_name.to_str() else {
                continue;
            };
            if leaf.starts_with('.') {
                continue;
            }
            let name = format!("{}/{leaf}", dir.trim_end_matches('/'));
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                // Pack fan-out directories (`data/0a`).
                self.retain(&name, keep);
                continue;
            }
            if !keep(&name) {
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                if fs::remove_file(e.path()).is_ok() {
                    bump(&self.counters.evicted, 1);
                    let _ = self
                        .used
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                            Some(u.saturating_sub(len))
                        });
                }
            }
        }
    }

    /// Deletes the least recently used files until the cache holds at most
    /// [`EVICT_TO_PERCENT`] of its bound; also removes temporary files left
    /// by dead processes. Rescans, so other processes' writes count.
    fn evict(&self) {
        let mut files = self.scan();
        files.sort_by_key(|f| f.modified);
        let mut total: u64 = files.iter().map(|f| f.len).sum();
        let target = self.max_bytes / 100 * EVICT_TO_PERCENT;
        for f in files {
            if total <= target {
                break;
            }
            if fs::remove_file(&f.path).is_ok() {
                bump(&self.counters.evicted, 1);
            }
            total = total.saturating_sub(f.len);
        }
        self.used.store(total, Ordering::Relaxed);
    }

    /// Every object file under the cache directory (stale temporary files
    /// are deleted on the way).
    fn scan(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut dirs = vec![self.dir.clone()];
        while let Some(d) = dirs.pop() {
            let Ok(entries) = fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let Ok(meta) = e.metadata() else { continue };
                if meta.is_dir() {
                    dirs.push(e.path());
                    continue;
                }
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                if e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                    let age = SystemTime::now()
                        .duration_since(modified)
                        .unwrap_or_default();
                    if age > TMP_STALE {
                        let _ = fs::remove_file(e.path());
                    }
                    continue;
                }
                out.push(Entry {
                    path: e.path(),
                    len: meta.len(),
                    modified,
                });
            }
        }
        out
    }
}

struct Entry {
    path: PathBuf,
    len: u64,
    modified: SystemTime,
}

/// Reads `path` whole: the open file, its bytes and modification time;
/// `Ok(None)` if it is larger than `max` (refused before reading it).
fn read_capped(path: &Path, max: u64) -> io::Result<Option<(fs::File, Vec<u8>, SystemTime)>> {
    let mut f = safe::open_file(path)?;
    let meta = f.metadata()?;
    if meta.len() > max {
        return Ok(None);
    }
    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let mut buf = Vec::with_capacity(meta.len() as usize);
    (&mut f).take(max.saturating_add(1)).read_to_end(&mut buf)?;
    Ok((buf.len() as u64 <= max).then_some((f, buf, modified)))
}

/// Writes `head` then `body` to a temporary file in `dir` and renames it to
/// `path`: readers in other processes see the old file, or the whole new
/// one. No fsync: a torn file after a crash fails its MAC and is refetched.
fn write_atomic(dir: &Path, path: &Path, head: &[u8], body: &[u8]) -> io::Result<()> {
    // Process id, a counter and random bits: unique across processes even
    // when containers sharing the directory reuse process ids.
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let r = getrandom::u64().unwrap_or(0);
    let tmp = dir.join(format!("{TMP_PREFIX}{}-{n}-{r:016x}", std::process::id()));
    let written = safe::create_file(&tmp).and_then(|mut f| {
        f.write_all(head)?;
        f.write_all(body)
    });
    match written.and_then(|()| fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}
