//! One bad object must not stop the repository, and nothing damaged is
//! acknowledged as stored: planted or damaged objects under content-addressed
//! names, damaged index objects, planted key files, oversized objects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use cairn::cas::repair::{
    rebuild_index, repair_snapshots, RepairIndexOptions, RepairSnapshotsOptions,
};
use cairn::cas::{
    backup, BackupOptions, Error, InitOptions, NoProgress, NodeKind, OpenWarning, Repository,
    SnapshotId,
};
use cairn_backends::{Backend, MemoryBackend, ObjectMeta, PutMode};
use cairn_crypto::{ChunkId, KdfParams};
use futures::stream::BoxStream;
use futures::TryStreamExt;

const PW: &[u8] = b"pw";

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

async fn init(store: Arc<dyn Backend>) -> Repository {
    let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
    Repository::init(store, PW, opts).await.unwrap()
}

/// A backend that, for create-only puts under `prefix`, stores something
/// itself and answers `AlreadyExists`: the right bytes (a write that landed
/// before a lost reply) or damaged ones (a planted or rotten object).
#[derive(Debug)]
struct Planting {
    inner: MemoryBackend,
    prefix: &'static str,
    damage: bool,
}

#[async_trait]
impl Backend for Planting {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> cairn_backends::Result<()> {
        if mode == PutMode::CreateOnly && key.starts_with(self.prefix) {
            let mut v = data.to_vec();
            if self.damage {
                let at = v.len() / 2;
                v[at] ^= 1;
            }
            self.inner
                .put(key, Bytes::from(v), PutMode::Overwrite)
                .await?;
            return Err(cairn_backends::Error::AlreadyExists {
                key: key.to_owned(),
            });
        }
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
        self.inner.delete(key).await
    }
}

fn source() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), b"some words to keep").unwrap();
    std::fs::write(dir.path().join("b.bin"), vec![7u8; 100_000]).unwrap();
    dir
}

#[test]
fn already_exists_over_a_damaged_object_is_an_error_naming_it() {
    block_on(async {
        for prefix in ["data/", "index/", "snapshots/"] {
            let store = Arc::new(Planting {
                inner: MemoryBackend::new(),
                prefix,
                damage: true,
            });
            let repo = init(store).await;
            let src = source();
            let err = backup(
                &repo,
                &[src.path().to_owned()],
                &BackupOptions::default(),
                Arc::new(NoProgress),
            )
            .await
            .unwrap_err();
            assert!(
                matches!(&err, Error::StoredObjectMismatch { object, .. } if object.starts_with(prefix)),
                "{prefix}: {err:?}"
            );
        }
    })
}

#[test]
fn already_exists_over_the_same_bytes_is_success() {
    block_on(async {
        for prefix in ["data/", "index/", "snapshots/"] {
            let store = Arc::new(Planting {
                inner: MemoryBackend::new(),
                prefix,
                damage: false,
            });
            let repo = init(store).await;
            let src = source();
            backup(
                &repo,
                &[src.path().to_owned()],
                &BackupOptions::default(),
                Arc::new(NoProgress),
            )
            .await
            .unwrap();
        }
    })
}

async fn backup_dir(
    repo: &Repository,
    files: &[(&str, Vec<u8>)],
) -> (tempfile::TempDir, SnapshotId) {
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in files {
        std::fs::write(dir.path().join(name), data).unwrap();
    }
    let done = backup(
        repo,
        &[dir.path().to_owned()],
        &BackupOptions::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    (dir, done.snapshot_id.unwrap())
}

async fn index_names(store: &dyn Backend) -> Vec<String> {
    store
        .list("index/")
        .map_ok(|m| m.key)
        .try_collect()
        .await
        .unwrap()
}

async fn flip(store: &MemoryBackend, key: &str) {
    let mut v = store.get(key).await.unwrap().to_vec();
    let at = v.len() / 2;
    v[at] ^= 1;
    store
        .put(key, Bytes::from(v), PutMode::Overwrite)
        .await
        .unwrap();
}

/// Every chunk of every file of a snapshot.
async fn file_chunks(repo: &Repository, id: &SnapshotId) -> Vec<ChunkId> {
    let snap = repo.load_snapshot(id).await.unwrap();
    let mut out = Vec::new();
    let mut stack = vec![snap.tree.chunk_id()];
    while let Some(t) = stack.pop() {
        for n in repo.load_tree(&t).await.unwrap().nodes {
            match n.kind {
                NodeKind::Dir { subtree } => stack.push(subtree),
                NodeKind::File { chunks } => out.extend(chunks),
                NodeKind::Symlink { .. } => {}
            }
        }
    }
    out
}

#[test]
fn damaged_index_object_is_skipped_with_a_warning_and_rebuilt_from_packs() {
    block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let repo = init(store.clone()).await;
        let (_d1, s1) = backup_dir(&repo, &[("one", b"first".to_vec())]).await;
        let first = index_names(&*store).await;
        let (_d2, s2) = backup_dir(&repo, &[("two", b"second".to_vec())]).await;
        let chunks1 = file_chunks(&repo, &s1).await;
        assert_eq!(first.len(), 1);
        flip(&store, &first[0]).await;

        let repo = Repository::open(store.clone(), PW).await.unwrap();
        assert_eq!(repo.damaged_index_objects(), first);
        assert!(matches!(
            &repo.open_warnings()[..],
            [OpenWarning::Index { object, .. }] if *object == first[0]
        ));
        // The intact object's blobs are there; the damaged one's are missing.
        for c in file_chunks(&repo, &s2).await {
            repo.read_blob(&c).await.unwrap();
        }
        let err = repo.read_blob(&chunks1[0]).await.unwrap_err();
        assert!(matches!(err, Error::MissingBlob { id } if id == chunks1[0]));

        let report = rebuild_index(&repo, &RepairIndexOptions::default())
            .await
            .unwrap();
        assert_eq!(report.damaged_index.len(), 1);
        assert_eq!(report.removed, first);
        assert!(!report.written.is_empty());
        assert!(repo.open_warnings().is_empty());
        repo.read_blob(&chunks1[0]).await.unwrap();
        // A second run finds nothing to do.
        let again = rebuild_index(&repo, &RepairIndexOptions::default())
            .await
            .unwrap();
        assert!(again.was_clean(), "{again:?}");
        let reopened = Repository::open(store, PW).await.unwrap();
        assert!(reopened.open_warnings().is_empty());
    })
}

#[test]
fn repair_snapshots_truncates_files_at_the_first_lost_chunk_and_can_forget() {
    block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let repo = init(store.clone()).await;
        let (_d, id) = backup_dir(
            &repo,
            &[("keep", b"intact".to_vec()), ("lose", b"doomed".to_vec())],
        )
        .await;
        // Delete the pack of `lose`'s chunk.
        let snap = repo.load_snapshot(&id).await.unwrap();
        let lose_chunk = {
            let mut stack = vec![snap.tree.chunk_id()];
            let mut found = None;
            while let Some(t) = stack.pop() {
                for n in repo.load_tree(&t).await.unwrap().nodes {
                    match n.kind {
                        NodeKind::Dir { subtree } => stack.push(subtree),
                        NodeKind::File { chunks } if n.name == b"lose" => found = Some(chunks[0]),
                        _ => {}
                    }
                }
            }
            found.unwrap()
        };
        let pack = repo.index().get(&lose_chunk).unwrap().pack;
        let keep_chunk = file_chunks(&repo, &id)
            .await
            .into_iter()
            .find(|c| *c != lose_chunk)
            .unwrap();
        // Both small files share one data pack: lose both, then check the
        // report names both; recreate the scenario where only one is lost by
        // checking what the report says against the index.
        store.delete(&pack.key()).await.unwrap();
        let keep_lost = repo.index().get(&keep_chunk).unwrap().pack == pack;

        let report = repair_snapshots(&repo, &RepairSnapshotsOptions::default().forget(true))
            .await
            .unwrap();
        assert_eq!(report.repaired.len(), 1);
        let r = &report.repaired[0];
        assert_eq!(r.original, id);
        assert!(r.forgotten);
        let lost: Vec<_> = r
            .lost
            .iter()
            .map(|l| l.path.file_name().unwrap().to_owned())
            .collect();
        assert!(lost.iter().any(|n| n == "lose"), "{lost:?}");
        assert_eq!(lost.iter().any(|n| n == "keep"), keep_lost, "{lost:?}");
        assert!(r.lost.iter().all(|l| l.kept_size == 0 && !l.directory));

        // The original is gone, the repaired one is tagged and readable.
        let ids = repo.snapshot_ids().await.unwrap();
        let new = r.repaired.unwrap();
        assert_eq!(ids, vec![new]);
        let fixed = repo.load_snapshot(&new).await.unwrap();
        assert!(fixed.tags.iter().any(|t| t == "repaired"));
        assert_eq!(fixed.original.as_deref(), Some(id.as_str()));
        for c in file_chunks(&repo, &new).await {
            repo.read_blob(&c).await.unwrap();
        }
        // Nothing left to repair.
        let again = repair_snapshots(&repo, &RepairSnapshotsOptions::default())
            .await
            .unwrap();
        assert!(again.repaired.is_empty());
    })
}

#[test]
fn repair_snapshots_with_read_data_finds_a_damaged_blob_in_a_stored_pack() {
    block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let repo = init(store.clone()).await;
        let (_d, id) = backup_dir(&repo, &[("f", vec![5u8; 10_000])]).await;
        let chunk = file_chunks(&repo, &id).await[0];
        let loc = repo.index().get(&chunk).unwrap();
        // Damage the blob's bytes inside its pack; the pack is still listed.
        let mut v = store.get(&loc.pack.key()).await.unwrap().to_vec();
        v[loc.entry.offset as usize + 3] ^= 1;
        store
            .put(&loc.pack.key(), Bytes::from(v), PutMode::Overwrite)
            .await
            .unwrap();

        let quick = repair_snapshots(&repo, &RepairSnapshotsOptions::default().dry_run(true))
            .await
            .unwrap();
        assert!(quick.repaired.is_empty(), "{quick:?}");
        let full = repair_snapshots(&repo, &RepairSnapshotsOptions::default().read_data(true))
            .await
            .unwrap();
        let lost = &full.repaired[0].lost;
        assert_eq!(lost.len(), 1, "{lost:?}");
        assert_eq!(lost[0].path.file_name().unwrap(), "f");
        assert_eq!((lost[0].original_size, lost[0].kept_size), (10_000, 0));
    })
}

/// Hides `data/` objects from listings: what a `data/` listing taken just
/// before a concurrent backup stored them looks like.
#[derive(Debug)]
struct HideNewPacks {
    inner: MemoryBackend,
    hidden: Vec<String>,
}

#[async_trait]
impl Backend for HideNewPacks {
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
        Box::pin(
            self.inner
                .list(prefix)
                .try_filter(|m| futures::future::ready(!self.hidden.contains(&m.key))),
        )
    }
    async fn delete(&self, key: &str) -> cairn_backends::Result<()> {
        self.inner.delete(key).await
    }
}

#[test]
fn rebuild_index_keeps_the_index_of_a_pack_stored_after_its_scan() {
    block_on(async {
        let inner = MemoryBackend::new();
        let repo = init(Arc::new(inner.clone())).await;
        let (_d, id) = backup_dir(&repo, &[("f", b"concurrent".to_vec())]).await;
        let packs: Vec<String> = inner
            .list("data/")
            .map_ok(|m| m.key)
            .try_collect()
            .await
            .unwrap();
        let index = index_names(&inner).await;
        let store = Arc::new(HideNewPacks {
            inner: inner.clone(),
            hidden: packs,
        });
        let repo = Repository::open(store, PW).await.unwrap();
        let report = rebuild_index(&repo, &RepairIndexOptions::default())
            .await
            .unwrap();
        assert!(report.removed.is_empty(), "{report:?}");
        assert!(report.stale_index.is_empty(), "{report:?}");
        assert_eq!(index_names(&inner).await, index);
        for c in file_chunks(&repo, &id).await {
            repo.read_blob(&c).await.unwrap();
        }
    })
}

/// Issue 20 item 11: after `repair snapshots` without `forget`, the damaged
/// original and its repaired copy have the same time; `latest` is the copy.
/// Which of two same-time ids sorts last is chance, so several repositories
/// are tried (the old pick, the last id, is right for all 8 once in 256).
#[test]
fn latest_after_a_repair_without_forget_is_the_repaired_snapshot() {
    for n in 0..8u8 {
        latest_is_the_repaired_copy(n);
    }
}

fn latest_is_the_repaired_copy(n: u8) {
    block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let repo = init(store.clone()).await;
        let (_d, id) = backup_dir(&repo, &[("lose", vec![n; 100])]).await;
        let chunk = file_chunks(&repo, &id).await[0];
        let pack = repo.index().get(&chunk).unwrap().pack;
        store.delete(&pack.key()).await.unwrap();
        let report = repair_snapshots(&repo, &RepairSnapshotsOptions::default())
            .await
            .unwrap();
        let repaired = report.repaired[0].repaired.unwrap();
        assert_eq!(repo.snapshot_ids().await.unwrap().len(), 2);
        let (latest, _) = repo
            .find_snapshot(&cairn_cas_core::SnapshotQuery::latest())
            .await
            .unwrap();
        assert_eq!(latest, repaired, "latest is the repaired copy, not {id}");
    })
}
