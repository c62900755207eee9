//! Another local user cannot steer the metadata cache (issue #20 item 10):
//! a symbolic link planted for a cache file or directory is never
//! followed, a FIFO never blocks a read, and a cache directory owned by
//! another user (or writable by others) is refused by name. Refused files
//! are replaced by fresh copies; a refused cache directory leaves the
//! repository working without a cache, with a warning naming it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_testkit::backup_dir;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cairn::cas::{BackupOptions, CacheOptions, InitOptions, OpenOptions, OpenWarning, Repository};
use cairn_backends::MemoryBackend;
use cairn_crypto::KdfParams;
use futures::executor::block_on;

type Store = Arc<MemoryBackend>;

/// A repository with two snapshots.
fn repo() -> (Store, tempfile::TempDir) {
    block_on(async {
        let store: Store = Arc::new(MemoryBackend::new());
        let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
        let repo = Repository::init(store.clone(), b"pw", opts).await.unwrap();
        let src = tempfile::tempdir().unwrap();
        for i in 0..2 {
            std::fs::write(src.path().join("f"), format!("version {i}")).unwrap();
            backup_dir(&repo, src.path(), &BackupOptions::default()).await;
        }
        (store, src)
    })
}

fn open(store: &Store, cache: &Path) -> Repository {
    let opts = OpenOptions::default().cache(CacheOptions::default().dir(cache));
    block_on(Repository::open_with(store.clone(), b"pw", opts)).unwrap()
}

/// Opens with the cache at `cache` and lists the snapshots (reading every
/// record through the cache); the repository's cache directory.
fn warm(store: &Store, cache: &Path) -> (Repository, PathBuf) {
    let repo = open(store, cache);
    assert_eq!(block_on(repo.snapshots()).unwrap().len(), 2);
    let dir = repo.cache().expect("a cache").dir().to_owned();
    (repo, dir)
}

/// Fills the cache at `cache`; the repository's cache directory and the
/// hits of an open and a listing on the full cache (index objects and the
/// two snapshot records).
fn fill(store: &Store, cache: &Path) -> (PathBuf, u64) {
    warm(store, cache);
    let (repo, dir) = warm(store, cache);
    let s = repo.cache().unwrap().stats();
    assert_eq!((s.misses, s.rejected), (0, 0), "{s:?}");
    assert!(s.hits >= 3, "{s:?}");
    (dir, s.hits)
}

fn snapshot_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn is_regular_file(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file())
}

#[test]
fn a_symlinked_cache_file_or_directory_is_not_followed() {
    let (store, _src) = repo();
    let cache = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let (dir, all) = fill(&store, cache.path());

    // A cache file replaced by a link to an intact copy kept elsewhere: if
    // it were followed, it would be a hit.
    let file = snapshot_files(&dir).remove(0);
    let kept = elsewhere.path().join("kept");
    std::fs::rename(&file, &kept).unwrap();
    std::os::unix::fs::symlink(&kept, &file).unwrap();
    let (repo, _) = warm(&store, cache.path());
    let s = repo.cache().unwrap().stats();
    assert_eq!((s.hits, s.rejected), (all - 1, 1), "{s:?}");
    assert!(
        is_regular_file(&file),
        "the link was replaced by a fresh copy"
    );
    assert!(is_regular_file(&kept), "the link's target was left alone");

    // The whole `snapshots` directory replaced by a link to a copy.
    let snaps = dir.join("snapshots");
    let copy = elsewhere.path().join("snapshots");
    std::fs::rename(&snaps, &copy).unwrap();
    std::os::unix::fs::symlink(&copy, &snaps).unwrap();
    let (repo, _) = warm(&store, cache.path());
    let s = repo.cache().unwrap().stats();
    // Both records refused (each may be looked up twice: in the batch,
    // then on its own before the backend is asked).
    assert_eq!(s.hits, all - 2, "nothing read through the link: {s:?}");
    assert!(s.rejected >= 2, "{s:?}");
    let m = std::fs::symlink_metadata(&snaps).unwrap();
    assert!(m.is_dir(), "the link was replaced by a directory of ours");
    assert_eq!(snapshot_files(&dir).len(), 2);
    assert_eq!(std::fs::read_dir(&copy).unwrap().count(), 2, "untouched");

    // And the cache works again from there.
    let (repo, _) = warm(&store, cache.path());
    let s = repo.cache().unwrap().stats();
    assert_eq!((s.hits, s.rejected), (all, 0), "{s:?}");
}

#[test]
fn a_fifo_planted_for_a_cache_file_does_not_block() {
    let (store, _src) = repo();
    let cache = tempfile::tempdir().unwrap();
    let (dir, all) = fill(&store, cache.path());
    let file = snapshot_files(&dir).remove(0);
    std::fs::remove_file(&file).unwrap();
    let mode = rustix::fs::Mode::from(0o600);
    rustix::fs::mknodat(rustix::fs::CWD, &file, rustix::fs::FileType::Fifo, mode, 0).unwrap();

    // An open of a FIFO without a writer blocks forever; run the read on a
    // thread so that a regression fails instead of hanging the suite.
    let (tx, rx) = std::sync::mpsc::channel();
    let (s2, c2) = (store.clone(), cache.path().to_owned());
    std::thread::spawn(move || {
        let (repo, _) = warm(&s2, &c2);
        let _ = tx.send(repo.cache().unwrap().stats());
    });
    let s = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("reading the cache blocked on a FIFO");
    assert_eq!((s.hits, s.rejected), (all - 1, 1), "{s:?}");
    assert!(
        is_regular_file(&file),
        "the FIFO was replaced by a fresh copy"
    );
}

/// Changes `p`'s owner to nobody (65534); `false` if we may not (not root).
fn chown_nobody(p: &Path) -> bool {
    match std::os::unix::fs::lchown(p, Some(65534), Some(65534)) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("skipped: cannot chown {} ({e}); run as root", p.display());
            false
        }
    }
}

fn us() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn cache_warning(repo: &Repository) -> String {
    let w = repo.open_warnings();
    let Some(OpenWarning::Cache { reason, .. }) = w.first() else {
        panic!("no cache warning: {w:?}");
    };
    reason.clone()
}

#[test]
fn a_cache_directory_owned_by_another_user_is_refused() {
    let (store, _src) = repo();
    let cache = tempfile::tempdir().unwrap();
    let (dir, _) = fill(&store, cache.path());

    // A file owned by someone else is refused and replaced.
    let file = snapshot_files(&dir).remove(0);
    if !chown_nobody(&file) {
        return;
    }
    let (repo, _) = warm(&store, cache.path());
    assert_eq!(repo.cache().unwrap().stats().rejected, 1);
    let m = std::fs::symlink_metadata(&file).unwrap();
    assert_eq!(m.uid(), us());

    // The repository's directory owned by someone else: not used at all.
    assert!(chown_nobody(&dir));
    let repo = open(&store, cache.path());
    assert!(
        repo.cache().is_none(),
        "a cache owned by another user is used"
    );
    let why = cache_warning(&repo);
    assert!(why.contains(&dir.display().to_string()), "{why}");
    assert!(why.contains("owned by uid 65534"), "{why}");
    assert_eq!(block_on(repo.snapshots()).unwrap().len(), 2);
    std::os::unix::fs::lchown(&dir, Some(us()), Some(us())).unwrap();

    // The cache root itself: owned by another user, writable by others.
    let root = tempfile::tempdir().unwrap();
    assert!(chown_nobody(root.path()));
    let repo = open(&store, root.path());
    assert!(repo.cache().is_none());
    assert!(cache_warning(&repo).contains("owned by uid 65534"));
    std::os::unix::fs::lchown(root.path(), Some(us()), Some(us())).unwrap();
    let perms = std::fs::Permissions::from_mode(0o777);
    std::fs::set_permissions(root.path(), perms).unwrap();
    let repo = open(&store, root.path());
    assert!(repo.cache().is_none());
    assert!(cache_warning(&repo).contains("writable by group or others"));
}

#[test]
fn a_symlinked_cache_directory_is_refused() {
    let (store, _src) = repo();
    let cache = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let (dir, _) = fill(&store, cache.path());
    let moved = elsewhere.path().join("moved");
    std::fs::rename(&dir, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &dir).unwrap();
    let repo = open(&store, cache.path());
    assert!(repo.cache().is_none(), "a linked cache directory is used");
    let why = cache_warning(&repo);
    assert!(why.contains("symbolic link"), "{why}");
    assert_eq!(block_on(repo.snapshots()).unwrap().len(), 2);
}
