//! `cairn-testkit`: the set-up the workspace's integration tests share, so
//! that each test says what it checks rather than how it builds a
//! repository: repositories with a fast KDF and small packs, a backup of a
//! directory, a restore, seeded data, and tree comparisons
//! ([`assert_same_tree`], [`assert_same_content`]). Dev-only: it panics on
//! failure (it is test code) and is never published.
//!
//! ```
//! use std::sync::Arc;
//! use cairn_testkit::{assert_same_tree, backup_dir, init, random_bytes, restore_to, restored};
//!
//! # futures::executor::block_on(async {
//! let src = tempfile::tempdir().unwrap();
//! std::fs::write(src.path().join("a"), random_bytes(1, 3000)).unwrap();
//! let repo = init(Arc::new(cairn_backends::MemoryBackend::new())).await;
//! let snap = backup_dir(&repo, src.path(), &Default::default()).await.snapshot;
//! let target = tempfile::tempdir().unwrap();
//! restore_to(&repo, &snap, &cairn_recovery::RestoreOptions::new(target.path())).await.unwrap();
//! assert_same_tree(src.path(), &restored(target.path(), src.path()));
//! # });
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(unix)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn::cas::{backup, BackupOptions, BackupResult, InitOptions, NoProgress, Repository};
use cairn_backends::Backend;
use cairn_crypto::KdfParams;
use cairn_recovery::{plan_restore, restore, RestoreOptions, RestoreSummary};

/// The password of every test repository.
pub const PW: &[u8] = b"correct horse battery staple";

/// Fast KDF, the smallest packs (1 MiB) so small data sets span several packs.
pub fn init_opts() -> InitOptions {
    InitOptions::default()
        .kdf(KdfParams::insecure_for_tests())
        .pack_size(1 << 20)
}

/// A new repository on `store` with [`PW`] and [`init_opts`].
pub async fn init(store: Arc<dyn Backend>) -> Repository {
    Repository::init(store, PW, init_opts()).await.unwrap()
}

/// Backs up `dir` (one source path) into `repo`.
pub async fn backup_dir(repo: &Repository, dir: &Path, opts: &BackupOptions) -> BackupResult {
    backup(repo, &[dir.to_owned()], opts, Arc::new(NoProgress))
        .await
        .unwrap()
}

/// Backs up `dir` with default options through the facade's
/// [`cairn::Repository`] (hooks, metrics and all).
pub async fn facade_backup(repo: &cairn::Repository, dir: &Path) -> BackupResult {
    repo.backup(
        std::slice::from_ref(&dir.to_owned()),
        &BackupOptions::default(),
        Arc::new(cairn::NoProgress),
    )
    .await
    .unwrap()
}

/// Every file of the snapshot tree `root`, by name (directories flattened),
/// read back blob by blob and so verified.
pub async fn snapshot_files(
    repo: &Repository,
    root: cairn_crypto::ChunkId,
) -> BTreeMap<Vec<u8>, Vec<u8>> {
    use cairn::cas::NodeKind;
    let mut out = BTreeMap::new();
    let mut stack = vec![root];
    while let Some(t) = stack.pop() {
        for node in repo.load_tree(&t).await.unwrap().nodes {
            match node.kind {
                NodeKind::Dir { subtree } => stack.push(subtree),
                NodeKind::File { chunks } => {
                    let mut bytes = Vec::new();
                    for c in chunks {
                        bytes.extend(repo.read_blob(&c).await.unwrap());
                    }
                    out.insert(node.name, bytes);
                }
                NodeKind::Symlink { .. } => {}
            }
        }
    }
    out
}

/// Where restic-style restore puts the snapshot path `src` under `target`.
pub fn restored(target: &Path, src: &Path) -> PathBuf {
    target.join(src.strip_prefix("/").unwrap())
}

/// Plans and runs a restore of `snapshot` with `opts`.
pub async fn restore_to(
    repo: &Repository,
    snapshot: &cairn::cas::Snapshot,
    opts: &RestoreOptions,
) -> cairn_recovery::Result<RestoreSummary> {
    let plan = plan_restore(repo, snapshot, opts).await?;
    restore(repo, &plan, opts, Arc::new(cairn_recovery::NoProgress)).await
}

/// Seeded pseudo-random bytes.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    cairn_backends::testing::pattern(seed, len).to_vec()
}

/// One entry of a directory listing, as compared between source and restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file.
    File {
        /// Its length.
        len: u64,
        /// Permission bits (`0o7777`).
        mode: u32,
        /// Modification time (seconds, nanoseconds).
        mtime: (i64, i64),
    },
    /// A directory.
    Dir {
        /// Permission bits (`0o7777`).
        mode: u32,
        /// Modification time (seconds, nanoseconds).
        mtime: (i64, i64),
    },
    /// A symbolic link.
    Symlink {
        /// Where it points.
        target: OsString,
        /// Modification time (seconds, nanoseconds).
        mtime: (i64, i64),
    },
}

/// Every entry below `root` (and `root` itself, as ""), by relative path.
pub fn listing(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let path = root.join(&rel);
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mtime = (meta.mtime(), meta.mtime_nsec());
        let entry = if meta.file_type().is_symlink() {
            Entry::Symlink {
                target: std::fs::read_link(&path).unwrap().into_os_string(),
                mtime,
            }
        } else if meta.is_dir() {
            for e in std::fs::read_dir(&path).unwrap() {
                stack.push(rel.join(e.unwrap().file_name()));
            }
            Entry::Dir {
                mode: meta.mode() & 0o7777,
                mtime,
            }
        } else {
            Entry::File {
                len: meta.len(),
                mode: meta.mode() & 0o7777,
                mtime,
            }
        };
        out.insert(rel, entry);
    }
    out
}

/// Asserts `b` holds exactly what `a` holds: same entries, kinds, modes,
/// mtimes (seconds and nanoseconds), symlink targets and file bytes.
pub fn assert_same_tree(a: &Path, b: &Path) {
    let la = listing(a);
    let lb = listing(b);
    let names_a: Vec<_> = la.keys().collect();
    let names_b: Vec<_> = lb.keys().collect();
    assert_eq!(names_a, names_b, "entries differ between {a:?} and {b:?}");
    for (rel, ea) in &la {
        assert_eq!(Some(ea), lb.get(rel), "metadata of {rel:?} differs");
        if let Entry::File { .. } = ea {
            let da = std::fs::read(a.join(rel)).unwrap();
            let db = std::fs::read(b.join(rel)).unwrap();
            assert!(da == db, "contents of {rel:?} differ");
        }
    }
}

/// Asserts `b` holds exactly the entries of `a`: same names and kinds, same
/// file bytes, same symlink targets. Unlike [`assert_same_tree`], modes and
/// mtimes are not compared.
pub fn assert_same_content(a: &Path, b: &Path) {
    let names = |d: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    let names_a = names(a);
    assert_eq!(names_a, names(b), "entries of {a:?} and {b:?} differ");
    for name in names_a {
        let (pa, pb) = (a.join(&name), b.join(&name));
        let ma = std::fs::symlink_metadata(&pa).unwrap();
        let mb = std::fs::symlink_metadata(&pb).unwrap();
        assert_eq!(ma.file_type(), mb.file_type(), "kind of {pb:?}");
        if ma.file_type().is_symlink() {
            assert_eq!(
                std::fs::read_link(&pa).unwrap(),
                std::fs::read_link(&pb).unwrap()
            );
        } else if ma.is_dir() {
            assert_same_content(&pa, &pb);
        } else {
            let (da, db) = (std::fs::read(&pa).unwrap(), std::fs::read(&pb).unwrap());
            assert!(da == db, "contents of {pb:?} differ from {pa:?}");
        }
    }
}

/// Keys of the objects under `prefix`.
pub async fn keys_under(store: &dyn Backend, prefix: &str) -> Vec<String> {
    use futures::TryStreamExt;
    let mut keys: Vec<String> = store
        .list(prefix)
        .map_ok(|m| m.key)
        .try_collect()
        .await
        .unwrap();
    keys.sort();
    keys
}
