//! The local metadata cache: tampered files are refused and refetched, a
//! stale cache (objects another process pruned) does not mislead, handles
//! and processes share it, its size bound holds, and it never holds keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_testkit::backup_dir;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn::cas::prune::{forget, prune, prune_plan, PruneOptions, SnapshotFilter};
use cairn::cas::retention::{KeepPolicy, PlanOptions};
use cairn::cas::{
    BackupOptions, CacheOptions, InitOptions, NodeKind, OpenOptions, Repository, Snapshot,
};
use cairn_backends::testing::Counting;
use cairn_backends::{Backend, MemoryBackend};
use cairn_crypto::{ChunkId, KdfParams};
use futures::executor::block_on;
use futures::TryStreamExt;

type Store = Arc<Counting<MemoryBackend>>;

/// A repository with `n` snapshots of a small tree (each a little different).
async fn repo_with(n: usize) -> (Store, tempfile::TempDir) {
    let store: Store = Arc::new(Counting::new(MemoryBackend::new()));
    let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
    let repo = Repository::init(store.clone(), b"pw", opts).await.unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir(src.path().join("sub")).unwrap();
    for i in 0..n {
        std::fs::write(src.path().join("sub/f"), format!("version {i}")).unwrap();
        std::fs::write(src.path().join("g"), vec![i as u8; 10_000]).unwrap();
        backup_dir(&repo, src.path(), &BackupOptions::default()).await;
    }
    (store, src)
}

fn cached(dir: &Path) -> OpenOptions {
    OpenOptions::default().cache(CacheOptions::default().dir(dir))
}

async fn open(store: &Store, cache: Option<&Path>) -> Repository {
    let opts = cache.map_or_else(OpenOptions::default, cached);
    Repository::open_with(store.clone(), b"pw", opts)
        .await
        .unwrap()
}

/// Every file name under the tree's directories, read through the repository.
async fn ls(repo: &Repository, snap: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<(String, ChunkId)> = vec![(String::new(), *snap.tree)];
    while let Some((at, t)) = stack.pop() {
        for node in repo.load_tree(&t).await.unwrap().nodes {
            let path = format!("{at}/{}", String::from_utf8_lossy(&node.name));
            if let NodeKind::Dir { subtree } = node.kind {
                stack.push((path.clone(), subtree));
            }
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Every regular file under `dir`, relative.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().to_owned());
            }
        }
    }
    out.sort();
    out
}

fn snapshot_files(repo: &Repository) -> Vec<PathBuf> {
    let dir = repo.cache().unwrap().dir().join("snapshots");
    match dir.exists() {
        true => files(&dir),
        false => Vec::new(),
    }
}

#[test]
fn a_warm_cache_serves_metadata_without_the_backend() {
    block_on(async {
        let (store, _src) = repo_with(3).await;
        let cache = tempfile::tempdir().unwrap();
        let plain = open(&store, None).await;
        let want = plain.snapshots().await.unwrap();
        let want_ls = ls(&plain, &want[2].1).await;

        let cold = open(&store, Some(cache.path())).await;
        assert_eq!(cold.snapshots().await.unwrap().len(), 3);
        assert_eq!(ls(&cold, &want[2].1).await, want_ls);
        let writes = cold.cache().unwrap().stats().writes;
        // 3 snapshot records, at least one index object and one tree pack.
        let least = 3 + 1 + 1;
        assert!(writes >= least, "{writes} objects cached");

        let reads = |c: cairn_backends::testing::OpCounts| c.gets + c.get_ranges;
        let before = store.snapshot();
        let again = open(&store, None).await;
        let got = again.snapshots().await.unwrap();
        ls(&again, &got[2].1).await;
        let uncached = reads(store.snapshot()) - reads(before);

        let before = store.snapshot();
        let warm = open(&store, Some(cache.path())).await;
        let got = warm.snapshots().await.unwrap();
        assert_eq!(ls(&warm, &got[2].1).await, want_ls);
        let ids =
            |v: &[(cairn::cas::SnapshotId, Snapshot)]| v.iter().map(|s| s.0).collect::<Vec<_>>();
        assert_eq!(ids(&got), ids(&want));
        // Only what never comes from the cache: the config, the key file
        // and its revocation record; not 3 records, the index, the trees.
        let warm_reads = reads(store.snapshot()) - reads(before);
        assert!(warm_reads <= 3, "{warm_reads} reads with a warm cache");
        assert!(uncached >= warm_reads + 5, "{uncached} vs {warm_reads}");
        let s = warm.cache().unwrap().stats();
        assert_eq!((s.misses, s.rejected), (0, 0), "{s:?}");
    })
}

#[test]
fn a_tampered_cache_file_is_refused_refetched_and_repaired() {
    block_on(async {
        let (store, _src) = repo_with(2).await;
        let cache = tempfile::tempdir().unwrap();
        let first = open(&store, Some(cache.path())).await;
        let want = first.snapshots().await.unwrap();
        let want_ls = ls(&first, &want[1].1).await;
        let root = first.cache().unwrap().dir().to_owned();
        let all = files(&root);
        let snap_file = root.join("snapshots").join(want[0].0.as_str());
        let pack_file = all.iter().find(|p| p.starts_with("data")).unwrap();
        let index_file = all.iter().find(|p| p.starts_with("index")).unwrap();
        let pristine = std::fs::read(&snap_file).unwrap();

        // One flipped byte in each kind; a record copied over another's name.
        for f in [root.join(pack_file), root.join(index_file)] {
            let mut b = std::fs::read(&f).unwrap();
            let at = b.len() - 3;
            b[at] ^= 1;
            std::fs::write(&f, b).unwrap();
        }
        let other = std::fs::read(root.join("snapshots").join(want[1].0.as_str())).unwrap();
        std::fs::write(&snap_file, other).unwrap();

        let second = open(&store, Some(cache.path())).await;
        let got = second.snapshots().await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, want[0].0);
        assert_eq!(ls(&second, &got[1].1).await, want_ls);
        assert_eq!(second.cache().unwrap().stats().rejected, 3);
        // Refetched and cached again: the file is whole once more.
        assert_eq!(std::fs::read(&snap_file).unwrap(), pristine);

        let third = open(&store, Some(cache.path())).await;
        third.snapshots().await.unwrap();
        ls(&third, &want[1].1).await;
        let s = third.cache().unwrap().stats();
        assert_eq!((s.rejected, s.misses), (0, 0), "{s:?}");
    })
}

#[test]
fn objects_another_process_pruned_are_not_listed_nor_kept() {
    block_on(async {
        let (store, _src) = repo_with(3).await;
        let cache = tempfile::tempdir().unwrap();
        let cached_repo = open(&store, Some(cache.path())).await;
        let before = cached_repo.snapshots().await.unwrap();
        assert_eq!(snapshot_files(&cached_repo).len(), 3);

        // Another process (its own handle, no cache) forgets two and prunes.
        let admin = open(&store, None).await;
        let keep_one = KeepPolicy::default().last(1);
        let filter = SnapshotFilter::default();
        forget(&admin, &keep_one, &PlanOptions::default(), &filter, false)
            .await
            .unwrap();
        let opts = PruneOptions::default().stale_after(std::time::Duration::ZERO);
        for _ in 0..2 {
            let plan = prune_plan(&admin, &opts).await.unwrap();
            prune(&admin, &opts, plan).await.unwrap();
        }

        // The cached handle lists only what is there, and reads it.
        let after = cached_repo.snapshots().await.unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].0, before[2].0);
        cached_repo.reload_index().await.unwrap();
        assert!(cached_repo.open_warnings().is_empty());
        let plain = ls(&admin, &after[0].1).await;
        assert_eq!(ls(&cached_repo, &after[0].1).await, plain);
        // Records whose objects are gone left the cache.
        let stored: Vec<_> = store.list("snapshots/").try_collect().await.unwrap();
        assert_eq!(snapshot_files(&cached_repo).len(), stored.len());
        let indexes: Vec<_> = store.list("index/").try_collect().await.unwrap();
        let root = cached_repo.cache().unwrap().dir();
        assert_eq!(files(&root.join("index")).len(), indexes.len());

        // A fresh process on the same cache agrees.
        let fresh = open(&store, Some(cache.path())).await;
        assert_eq!(fresh.snapshots().await.unwrap().len(), 1);
        assert_eq!(ls(&fresh, &after[0].1).await, plain);
    })
}

#[test]
fn handles_sharing_a_cache_at_once_agree() {
    let (store, _src) = block_on(repo_with(4));
    let cache = tempfile::tempdir().unwrap();
    let want = block_on(async { open(&store, None).await.snapshots().await.unwrap() });
    // Threads, each its own handle and executor, reading and writing the
    // same cache files concurrently.
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    block_on(async {
                        for _ in 0..3 {
                            let repo = open(&store, Some(cache.path())).await;
                            let got = repo.snapshots().await.unwrap();
                            assert_eq!(got.len(), want.len());
                            for (_, snap) in &got {
                                ls(&repo, snap).await;
                            }
                            assert_eq!(repo.cache().unwrap().stats().rejected, 0);
                        }
                    })
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    });
    // No temporary file left behind.
    let root = cache.path();
    assert!(files(root)
        .iter()
        .all(|p| !p.to_string_lossy().contains(".tmp-")));
}

#[test]
fn the_size_bound_holds_and_keys_are_never_cached() {
    block_on(async {
        let (store, _src) = repo_with(12).await;
        let cache = tempfile::tempdir().unwrap();
        let bound = 8 << 10;
        let opts = OpenOptions::default()
            .cache(CacheOptions::default().dir(cache.path()).max_bytes(bound));
        let repo = Repository::open_with(store.clone(), b"pw", opts)
            .await
            .unwrap();
        for (_, snap) in repo.snapshots().await.unwrap() {
            ls(&repo, &snap).await;
        }
        let c = repo.cache().unwrap();
        assert!(c.stats().evicted > 0, "{:?}", c.stats());
        let held: u64 = files(c.dir())
            .iter()
            .map(|p| std::fs::metadata(c.dir().join(p)).unwrap().len())
            .sum();
        assert!(held <= bound, "{held} bytes held, bound {bound}");
        for p in files(cache.path()) {
            let p = p.to_string_lossy();
            assert!(!p.contains("keys") && !p.ends_with("config"), "{p}");
        }
    })
}

#[test]
fn without_the_option_nothing_is_written_and_purge_removes_a_prefix() {
    block_on(async {
        let (store, _src) = repo_with(1).await;
        let plain = open(&store, None).await;
        plain.snapshots().await.unwrap();
        assert!(plain.cache().is_none());

        let cache = tempfile::tempdir().unwrap();
        let repo = open(&store, Some(cache.path())).await;
        repo.snapshots().await.unwrap();
        let c = repo.cache().unwrap();
        assert!(c.dir().join("snapshots").exists());
        c.purge("snapshots/").unwrap();
        assert!(!c.dir().join("snapshots").exists());
        assert!(c.dir().join("index").exists());
        assert!(c.purge("../x").is_err());
        c.purge("").unwrap();
        assert!(!c.dir().exists() || files(c.dir()).is_empty());
        // A purged cache is refilled on the next use.
        assert_eq!(repo.snapshots().await.unwrap().len(), 1);
    })
}
