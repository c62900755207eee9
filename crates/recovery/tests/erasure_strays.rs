//! Stray shards in a 4+2 erasure layout — shards under keys that hold too
//! few to form an object, left by deletes that failed on some children or
//! by writes that crashed — are found and removed by prune
//! (`PruneOptions::partial_objects`), once provably unowned: never while
//! the session that may be writing them is alive, never when they became
//! a whole object meanwhile, and never losing a kept snapshot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use cairn::cas::prune::{forget, prune, prune_plan, PruneOptions, PruneReport, Session};
use cairn::cas::retention::{KeepPolicy, PlanOptions};
use cairn::cas::{BackupOptions, Repository, SnapshotId};
use cairn_backends::{Backend, MemoryBackend, ObjectMeta, PutMode};
use cairn_erasure::{Child, Codec, ErasureBackend, ErasureConfig};
use cairn_recovery::{check, CheckOptions, RestoreOptions};
use futures::executor::block_on;
use futures::stream::BoxStream;

use common::*;

/// A child whose deletes fail while `failing` is set (a store that refuses
/// deletes for a while: permissions, an outage between list and delete).
#[derive(Debug)]
struct FailDeletes {
    inner: MemoryBackend,
    failing: AtomicBool,
}

#[async_trait]
impl Backend for FailDeletes {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> cairn_backends::Result<()> {
        self.inner.put(key, data, mode).await
    }
    async fn get(&self, key: &str) -> cairn_backends::Result<Bytes> {
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> cairn_backends::Result<Bytes> {
        self.inner.get_range(key, range).await
    }
    async fn stat(&self, key: &str) -> cairn_backends::Result<ObjectMeta> {
        self.inner.stat(key).await
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, cairn_backends::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn delete(&self, key: &str) -> cairn_backends::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(cairn_backends::Error::Backend {
                key: key.to_owned(),
                message: "injected: delete refused".into(),
                transient: false,
            });
        }
        self.inner.delete(key).await
    }
}

struct Layout {
    children: Vec<Arc<FailDeletes>>,
    store: Arc<ErasureBackend>,
}

fn layout() -> Layout {
    let children: Vec<Arc<FailDeletes>> = (0..6)
        .map(|_| {
            Arc::new(FailDeletes {
                inner: MemoryBackend::new(),
                failing: AtomicBool::new(false),
            })
        })
        .collect();
    let store = ErasureBackend::new(
        children
            .iter()
            .enumerate()
            .map(|(i, c)| Child::new(format!("c{i}"), c.clone() as Arc<dyn Backend>))
            .collect(),
        ErasureConfig::new(4, 2),
    )
    .unwrap();
    Layout {
        children,
        store: Arc::new(store),
    }
}

impl Layout {
    fn opts(&self) -> PruneOptions {
        PruneOptions::default()
            .max_unused_percent(0.0)
            .partial_objects(self.store.clone())
    }

    /// Every shard under `data/` and `index/` on every child belongs to an
    /// object the layout lists.
    async fn assert_no_strays(&self) {
        for prefix in ["data/", "index/"] {
            let objects = keys_under(&*self.store, prefix).await;
            for (i, child) in self.children.iter().enumerate() {
                for key in keys_under(&child.inner, prefix).await {
                    assert!(
                        objects.contains(&key),
                        "child {i} keeps a stray shard {key}"
                    );
                }
            }
            assert!(self.store.partial_keys_of(prefix).await.unwrap().is_empty());
        }
    }

    /// Stray keys under `data/` and `index/`.
    async fn strays(&self) -> Vec<cairn_erasure::PartialKey> {
        let mut out = self.store.partial_keys_of("data/").await.unwrap();
        out.extend(self.store.partial_keys_of("index/").await.unwrap());
        out
    }

    /// Writes shards `which` of `data` under `key` straight onto the
    /// children, as a write that stopped after them would leave them.
    async fn plant(&self, key: &str, data: &[u8], which: &[usize]) {
        let shards = Codec::new(4, 2)
            .unwrap()
            .encode(&Bytes::copy_from_slice(data))
            .unwrap();
        for &i in which {
            self.children[i]
                .inner
                .put(key, shards[i].clone(), PutMode::CreateOnly)
                .await
                .unwrap();
        }
    }

    async fn holders(&self, key: &str) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, child) in self.children.iter().enumerate() {
            if child.inner.stat(key).await.is_ok() {
                out.push(i);
            }
        }
        out
    }
}

async fn prune_once(repo: &Repository, opts: &PruneOptions) -> PruneReport {
    let plan = prune_plan(repo, opts).await.unwrap();
    prune(repo, opts, plan).await.unwrap()
}

fn write_tree(dir: &Path, version: u64) {
    std::fs::create_dir_all(dir).unwrap();
    // One file changes completely per version; one stays.
    std::fs::write(dir.join("same"), random_bytes(1, 1_500_000)).unwrap();
    std::fs::write(dir.join("changing"), random_bytes(100 + version, 2_500_000)).unwrap();
}

/// Restores the snapshot and checks it equals `src`; `check --read-data`
/// must be clean.
async fn assert_intact(repo: &Repository, id: &SnapshotId, src: &Path) {
    let report = check(repo, &CheckOptions::default().read_data(1.0))
        .await
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.errors);
    let snap = repo.load_snapshot(id).await.unwrap();
    let target = tempfile::tempdir().unwrap();
    restore_to(repo, &snap, &RestoreOptions::new(target.path()))
        .await
        .unwrap();
    assert_same_tree(src, &restored(target.path(), src));
}

#[test]
fn shards_left_by_deletes_that_failed_on_two_children_are_removed_by_the_next_prune() {
    block_on(async {
        let l = layout();
        let repo = init(l.store.clone()).await;
        let src = tempfile::tempdir().unwrap();
        let dir = src.path().join("tree");
        write_tree(&dir, 1);
        backup_dir(&repo, &dir, &BackupOptions::default()).await;
        write_tree(&dir, 2);
        let last = backup_dir(&repo, &dir, &BackupOptions::default()).await;
        let keep = KeepPolicy::default().last(1);
        forget(
            &repo,
            &keep,
            &PlanOptions::default(),
            &Default::default(),
            false,
        )
        .await
        .unwrap();
        // Children 4 and 5 refuse deletes: the erasure delete still
        // succeeds (four of six shards gone, the object is unreadable), and
        // leaves two shards of every deleted pack and index object there.
        l.children[4].failing.store(true, Ordering::SeqCst);
        l.children[5].failing.store(true, Ordering::SeqCst);
        let r = prune_once(&repo, &l.opts()).await;
        assert!(r.packs_deleted >= 2, "{r:?}");
        assert!(r.index_deleted >= 1, "{r:?}");
        let strays = l.strays().await;
        assert!(
            strays.iter().any(|p| p.key.starts_with("data/"))
                && strays.iter().any(|p| p.key.starts_with("index/")),
            "{strays:?}"
        );
        assert!(strays.iter().all(|p| p.holders == vec![4, 5]), "{strays:?}");
        // While children 4 and 5 still refuse, the strays are condemned and
        // their removal fails: the prune says so, nothing is lost, and the
        // next run finds them again.
        let plan = prune_plan(&repo, &l.opts()).await.unwrap();
        assert_eq!(plan.strays.len(), strays.len(), "{plan:?}");
        let r = prune(&repo, &l.opts(), plan).await.unwrap();
        assert_eq!(r.strays_deleted, 0, "{r:?}");
        assert_eq!(r.stray_errors.len(), strays.len(), "{r:?}");
        l.children[4].failing.store(false, Ordering::SeqCst);
        l.children[5].failing.store(false, Ordering::SeqCst);
        let mut deleted = 0;
        for _ in 0..2 {
            deleted += prune_once(&repo, &l.opts()).await.strays_deleted;
        }
        // (The refused run's own index consolidation left more.)
        assert!(deleted >= strays.len(), "{deleted}");
        l.assert_no_strays().await;
        assert_eq!(
            keys_under(&*l.store, "condemned/").await,
            Vec::<String>::new()
        );
        let repo = Repository::open(l.store.clone(), PW).await.unwrap();
        assert_intact(&repo, &last.snapshot_id.unwrap(), &dir).await;
    });
}

#[test]
fn the_shards_of_a_crashed_write_are_removed_and_whole_objects_are_not() {
    block_on(async {
        let l = layout();
        let repo = init(l.store.clone()).await;
        let src = tempfile::tempdir().unwrap();
        let dir = src.path().join("tree");
        write_tree(&dir, 1);
        let kept = backup_dir(&repo, &dir, &BackupOptions::default()).await;
        // A writer that crashed after three of six shards (k = 4), and one
        // that wrote four (a whole object: readable, listed, never a stray).
        let crashed = format!("data/ab/{}", "ab".repeat(32));
        l.plant(&crashed, &random_bytes(7, 300_000), &[0, 2, 5])
            .await;
        let whole = format!("data/cd/{}", "cd".repeat(32));
        l.plant(&whole, &random_bytes(8, 300_000), &[1, 2, 3, 4])
            .await;
        let strays = l.store.partial_keys_of("data/").await.unwrap();
        assert_eq!(strays.len(), 1, "{strays:?}");
        assert_eq!(
            (strays[0].key.as_str(), &strays[0].holders[..]),
            (crashed.as_str(), &[0, 2, 5][..])
        );
        // No session is running: condemned, observed and removed in one run.
        let r = prune_once(&repo, &l.opts()).await;
        assert_eq!((r.strays_deleted, r.stray_pieces_deleted), (1, 3), "{r:?}");
        assert!(l.holders(&crashed).await.is_empty());
        // The whole (unreferenced) object is garbage of the ordinary kind:
        // condemned as a pack, deleted through the layout like any other.
        assert!(l.holders(&whole).await.is_empty(), "{r:?}");
        l.assert_no_strays().await;
        assert_intact(&repo, &kept.snapshot_id.unwrap(), &dir).await;
    });
}

#[test]
fn a_stray_of_a_live_session_is_kept_until_the_session_ends() {
    block_on(async {
        let l = layout();
        let repo = init(l.store.clone()).await;
        let src = tempfile::tempdir().unwrap();
        let dir = src.path().join("tree");
        write_tree(&dir, 1);
        let kept = backup_dir(&repo, &dir, &BackupOptions::default()).await;
        // A backup is running and in the middle of storing a pack: two
        // shards are there so far.
        let writer = Repository::open(l.store.clone(), PW).await.unwrap();
        let session = Session::begin(&writer).await.unwrap();
        let key = format!("data/ef/{}", "ef".repeat(32));
        let data = random_bytes(9, 300_000);
        l.plant(&key, &data, &[0, 1]).await;
        for run in 0..3 {
            let r = prune_once(&repo, &l.opts()).await;
            assert_eq!(r.strays_deleted, 0, "run {run}: {r:?}");
            assert!(r.sessions_killed.is_empty());
            assert_eq!(l.holders(&key).await, vec![0, 1], "run {run}");
        }
        // It finishes its write (a whole object now) and ends: the stray
        // record is finished, and the object is not removed as a stray.
        l.plant(&key, &data, &[2, 3]).await;
        session.end(&writer).await.unwrap();
        let r = prune_once(&repo, &l.opts()).await;
        assert_eq!((r.strays_deleted, r.strays_kept), (0, 1), "{r:?}");
        // And a write that never finished is removed once its session ended.
        let key2 = format!("data/0f/{}", "0f".repeat(32));
        let session = Session::begin(&writer).await.unwrap();
        l.plant(&key2, &random_bytes(10, 300_000), &[3]).await;
        let r = prune_once(&repo, &l.opts()).await;
        assert_eq!((r.strays_deleted, r.still_pending), (0, 1), "{r:?}");
        assert_eq!(l.holders(&key2).await, vec![3]);
        session.end(&writer).await.unwrap();
        let r = prune_once(&repo, &l.opts()).await;
        assert_eq!(r.strays_deleted, 1, "{r:?}");
        assert!(l.holders(&key2).await.is_empty());
        l.assert_no_strays().await;
        assert_intact(&repo, &kept.snapshot_id.unwrap(), &dir).await;
    });
}
