//! A local cache of repository metadata: index objects, snapshot records,
//! journal entries and tree packs, kept on this machine so that listing
//! snapshots, browsing a snapshot, an unchanged re-backup and `open` do not
//! download them again from remote storage. (Journal entries are served to
//! writers, which need the heads; verifying the journal reads storage.)
//!
//! Repository objects are immutable (named by their content's hash, or
//! sealed), so a cached copy is never out of date, only possibly *tampered
//! with* or *orphaned*:
//!
//! - **Tampering.** Each cache file carries a MAC under a key derived from
//!   the repository's keys (layout in `file.rs`); every read checks it, and
//!   the repository then authenticates the content as if it came from the
//!   backend. A file that fails either check is deleted and the object is
//!   fetched again (and cached again).
//! - **Orphans.** What exists is always decided by the backend's listing,
//!   never by the cache: the cache only supplies the *contents* of objects
//!   a listing (or the index) names. After a listing, cached entries it no
//!   longer names (deleted by another process's prune) are dropped.
//! - **Sharing.** Files are written to a temporary name and renamed into
//!   place, so concurrent processes see a whole file or none; a file that
//!   vanishes under a reader (another process evicting it) is a miss.
//! - **Bounds.** Above [`CacheOptions::max_bytes`] the least recently used
//!   files (by modification time, refreshed on every hit) are deleted.
//! - **Local users.** Another user of this machine must not steer the cache
//!   (make it read, overwrite or delete their choice of file, or block on a
//!   FIFO). The cache root and the repository's directory must be real
//!   directories owned by us and not writable by group or others, else
//!   [`MetaCache::open`] refuses them with
//!   [`Error::UnsafeCache`](crate::Error::UnsafeCache) naming the directory
//!   (the repository then opens without a cache and says so); directories
//!   and files are created mode 0700 and 0600. Below it, a symbolic link,
//!   FIFO, device or an entry owned by someone else is never followed,
//!   opened for longer than an `fstat` or read: it is refused like a
//!   tampered file and replaced by a fresh copy (layout of the checks in
//!   `safe.rs`).
//! - **Safe to delete.** Removing the directory at any time loses nothing.
//! - **Never key material.** Only index objects, snapshot records, journal
//!   entries and packs are allowed in (optionally under `tenants/<id>/`); key files, tenant key
//!   objects and the config never are. [`MetaCache::purge`] removes a key
//!   prefix, e.g. a shredded tenant's.
//!
//! File I/O is blocking; the repository runs it on its CPU pool (the one
//! `Repository::spawn_blocking` (cairn-cas-core) hands
//! out), never on the caller's executor.

mod file;
mod safe;
mod store;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use zeroize::Zeroizing;

/// Default bound on one repository's cache: 1 GiB.
pub const DEFAULT_CACHE_BYTES: u64 = 1 << 30;

/// Where and how large the metadata cache is. Pass it to
/// `OpenOptions::cache` (cairn-cas-core); without it a
/// repository caches nothing on disk (the library writes no files the
/// caller did not ask for).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheOptions {
    /// The cache's root directory (one subdirectory per repository id);
    /// `None` is [`default_cache_dir`].
    pub dir: Option<PathBuf>,
    /// Bytes of cache files kept per repository before the least recently
    /// used are deleted.
    pub max_bytes: u64,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            dir: None,
            max_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

impl CacheOptions {
    /// Sets the root directory.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }
    /// Sets the size bound per repository.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }
}

/// The platform's cache directory for Cairn: `$XDG_CACHE_HOME/cairn`, else
/// `~/.cache/cairn` (`~/Library/Caches/cairn` on macOS,
/// `%LOCALAPPDATA%\cairn\cache` on Windows). `None` if there is no home.
pub fn default_cache_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if cfg!(windows) {
        return var("LOCALAPPDATA").map(|p| p.join("cairn").join("cache"));
    }
    if let Some(xdg) = var("XDG_CACHE_HOME").filter(|_| !cfg!(target_os = "macos")) {
        return Some(xdg.join("cairn"));
    }
    let home = var("HOME")?;
    Some(match cfg!(target_os = "macos") {
        true => home.join("Library").join("Caches").join("cairn"),
        false => home.join(".cache").join("cairn"),
    })
}

/// What a cache did since its repository was opened.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// Objects served from the cache.
    pub hits: u64,
    /// Objects looked up and not found.
    pub misses: u64,
    /// Cache files refused (bad MAC, or content the repository did not
    /// authenticate) and deleted.
    pub rejected: u64,
    /// Objects written to the cache.
    pub writes: u64,
    /// Files deleted to keep within the size bound, or because a listing
    /// no longer names their object.
    pub evicted: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    rejected: AtomicU64,
    writes: AtomicU64,
    evicted: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// One repository's metadata cache: a directory `<root>/<repository id>`.
/// Shared by every process that opens the repository with the same root.
pub struct MetaCache {
    dir: PathBuf,
    key: Zeroizing<[u8; 32]>,
    max_bytes: u64,
    // This process's estimate of the bytes held: exact after each scan,
    // then grown by what this process writes (others' writes are found at
    // the next eviction, which rescans).
    used: AtomicU64,
    // Whether `used` has been set by a first scan. The scan (a stat of
    // every cache file) runs at the first write or `used_bytes`, not at
    // open: a read-only command on a warm cache (`snapshots`) never needs
    // it, and it was a stat per cached object on every open.
    scanned: std::sync::Once,
    // Held while a refused directory on a file's path is replaced: two
    // writes that both found the planted link must not both replace it, or
    // the second deletes the directory (and file) the first just made.
    repair: std::sync::Mutex<()>,
    counters: Counters,
}

impl std::fmt::Debug for MetaCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaCache")
            .field("dir", &self.dir)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl MetaCache {
    /// The directory of this repository's cache files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The counters since this cache was opened.
    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CacheStats {
            hits: get(&c.hits),
            misses: get(&c.misses),
            rejected: get(&c.rejected),
            writes: get(&c.writes),
            evicted: get(&c.evicted),
        }
    }

    /// Bytes of cache files held, as last scanned plus this process's writes.
    pub fn used_bytes(&self) -> u64 {
        self.ensure_scanned();
        self.used.load(Ordering::Relaxed)
    }
}
