#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Parity on a cold tier: a 4+2 layout whose two parity children are
//! labelled `archive`. A healthy restore of a repository reads nothing
//! from them (counted); with a data child lost, the restore reads them
//! and comes back identical. An archive-class child must be thawed
//! before a degraded read: the layer says which shards and asks.

mod common;

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;

use cairn::cas::{backup, BackupOptions, InitOptions, NoProgress, Repository};
use cairn_backends::testing::{pattern, Counting};
use cairn_backends::{Backend, MemoryBackend, ObjectMeta, PutMode};
use cairn_crypto::KdfParams;
use cairn_erasure::{Child, ErasureBackend, Labels, MemoryThaw, Thaw};
use cairn_recovery::{plan_restore, restore, RestoreOptions, SnapshotQuery};
use common::config;
use futures::executor::block_on;
use futures::TryStreamExt;

type Counted = Arc<Counting<MemoryBackend>>;

fn cold_bytes(stores: &[Counted]) -> u64 {
    stores[4..].iter().map(|s| s.snapshot().bytes_got).sum()
}

async fn restore_to(repo: &Repository, out: &std::path::Path) {
    let (_, snap) = repo.find_snapshot(&SnapshotQuery::latest()).await.unwrap();
    let opts = RestoreOptions::new(out);
    let plan = plan_restore(repo, &snap, &opts).await.unwrap();
    restore(repo, &plan, &opts, Arc::new(cairn_recovery::NoProgress))
        .await
        .unwrap();
}

fn same_files(src: &std::path::Path, out: &std::path::Path, files: &[bytes::Bytes]) {
    let rel = src.strip_prefix("/").unwrap();
    for (i, f) in files.iter().enumerate() {
        let got = std::fs::read(out.join(rel).join(format!("f{i}"))).unwrap();
        assert!(got == f.as_ref(), "file {i} differs");
    }
}

#[test]
fn healthy_restores_never_read_cold_parity_and_degraded_ones_do() {
    let stores: Vec<Counted> = (0..6)
        .map(|_| Arc::new(Counting::new(MemoryBackend::new())))
        .collect();
    let kids = stores
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let tier = if i < 4 { "hot" } else { "archive" };
            Child::new(format!("c{i}"), Arc::clone(s) as Arc<dyn Backend>)
                .with_labels(Labels::new().tier(tier))
        })
        .collect();
    let store: Arc<dyn Backend> = Arc::new(ErasureBackend::new(kids, config(4, 2)).unwrap());
    let src = tempfile::tempdir().unwrap();
    let files: Vec<_> = (0..4).map(|i| pattern(i + 1, 700_000)).collect();
    for (i, f) in files.iter().enumerate() {
        std::fs::write(src.path().join(format!("f{i}")), f).unwrap();
    }
    block_on(async {
        let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
        Repository::init(Arc::clone(&store), b"pw", opts)
            .await
            .unwrap();
        let repo = Repository::open(Arc::clone(&store), b"pw").await.unwrap();
        let opts = BackupOptions::default().host("t");
        backup(&repo, &[src.path().to_owned()], &opts, Arc::new(NoProgress))
            .await
            .unwrap();
        drop(repo);
        for s in &stores {
            s.reset();
        }

        let healthy = tempfile::tempdir().unwrap();
        let repo = Repository::open(Arc::clone(&store), b"pw").await.unwrap();
        restore_to(&repo, healthy.path()).await;
        same_files(src.path(), healthy.path(), &files);
        assert_eq!(cold_bytes(&stores), 0, "a healthy restore read cold shards");
        assert!(stores[0].snapshot().bytes_got > 0);

        // Data child 0 is lost: its shards must come from cold parity.
        let lost = stores[0].inner();
        let keys: Vec<_> = lost.list("").try_collect().await.unwrap();
        assert!(!keys.is_empty());
        for meta in keys {
            lost.delete(&meta.key).await.unwrap();
        }
        drop(repo);
        let degraded = tempfile::tempdir().unwrap();
        let repo = Repository::open(Arc::clone(&store), b"pw").await.unwrap();
        restore_to(&repo, degraded.path()).await;
        same_files(src.path(), degraded.path(), &files);
        assert!(
            cold_bytes(&stores) > 0,
            "a degraded restore read no cold shard"
        );
    });
}

/// An archive-class child: shards are written at once but can be read
/// only after a restore request completed (through its [`MemoryThaw`]).
#[derive(Debug)]
struct Archive {
    inner: MemoryBackend,
    thaw: Arc<MemoryThaw>,
}

impl Archive {
    fn frozen(&self, key: &str) -> cairn_backends::Result<()> {
        match self.thaw.is_ready(key) {
            true => Ok(()),
            false => Err(cairn_backends::Error::NotPermitted {
                key: key.to_owned(),
                operation: "get",
                reason: "archived: restore it first",
            }),
        }
    }
}

#[async_trait::async_trait]
impl Backend for Archive {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> cairn_backends::Result<()> {
        self.inner.put(key, data, mode).await
    }
    async fn get(&self, key: &str) -> cairn_backends::Result<Bytes> {
        self.frozen(key)?;
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, r: Range<u64>) -> cairn_backends::Result<Bytes> {
        self.frozen(key)?;
        self.inner.get_range(key, r).await
    }
    async fn stat(&self, key: &str) -> cairn_backends::Result<ObjectMeta> {
        self.inner.stat(key).await
    }
    fn list<'a>(&'a self, p: &'a str) -> BoxStream<'a, cairn_backends::Result<ObjectMeta>> {
        self.inner.list(p)
    }
    async fn delete(&self, key: &str) -> cairn_backends::Result<()> {
        self.inner.delete(key).await
    }
}

#[test]
fn a_degraded_read_names_the_archived_shards_it_needs_and_waits_for_their_restore() {
    let hot: Vec<MemoryBackend> = (0..4).map(|_| MemoryBackend::new()).collect();
    let thaws: Vec<Arc<MemoryThaw>> = (0..2).map(|_| Arc::new(MemoryThaw::new())).collect();
    let mut kids: Vec<Child> = hot
        .iter()
        .enumerate()
        .map(|(i, s)| Child::new(format!("hot{i}"), Arc::new(s.clone()) as Arc<dyn Backend>))
        .collect();
    for (i, t) in thaws.iter().enumerate() {
        let archive = Archive {
            inner: MemoryBackend::new(),
            thaw: Arc::clone(t),
        };
        kids.push(
            Child::new(format!("archive{i}"), Arc::new(archive) as Arc<dyn Backend>)
                .with_labels(Labels::new().tier("DEEP_ARCHIVE"))
                .with_thaw(Arc::clone(t) as Arc<dyn Thaw>),
        );
    }
    let store = ErasureBackend::new(kids, config(4, 2)).unwrap();
    let data = pattern(9, 300_000);
    block_on(async {
        store
            .put_object("packs/a", data.clone(), PutMode::CreateOnly)
            .await
            .unwrap();
        // Healthy: nothing cold is needed or requested, and the read works.
        let need = store.thaw_for_degraded_read("packs/a").await.unwrap();
        assert_eq!((need.hot_shards, need.needed.len()), (4, 0));
        assert_eq!(store.get_object("packs/a").await.unwrap(), data);
        assert_eq!(thaws[0].requests() + thaws[1].requests(), 0);

        // A hot data shard lost: the read needs one archive shard, frozen.
        // Which of the two (slot 4 or 5) follows the read order, which
        // ranks children by measured health and latency, so either may be
        // chosen; exactly that one must be requested.
        hot[1].delete("packs/a").await.unwrap();
        assert!(store.get_object("packs/a").await.is_err());
        let need = store.thaw_for_degraded_read("packs/a").await.unwrap();
        assert_eq!((need.hot_shards, need.needed.len()), (3, 1), "{need:?}");
        let slot = need.needed[0];
        assert!(slot == 4 || slot == 5, "{need:?}");
        assert_eq!(need.pending, [slot]);
        // Asking again issues no second request while it is pending.
        let again = store.thaw_for_degraded_read("packs/a").await.unwrap();
        assert_eq!(again.pending, [slot]);
        let (asked, other) = (&thaws[slot - 4], &thaws[5 - slot]);
        assert_eq!((asked.requests(), other.requests()), (1, 0));

        asked.complete();
        let need = store.thaw_for_degraded_read("packs/a").await.unwrap();
        assert!(need.pending.is_empty(), "{need:?}");
        assert_eq!(store.get_object("packs/a").await.unwrap(), data);
    });
}

/// Four hot memory children and two archive children (frozen until their
/// [`MemoryThaw`] says ready), the archives with their thaw as [`Thaw`]
/// when `with_thaw`.
fn archive_layout(
    thaws: &[Arc<MemoryThaw>],
    with_thaw: bool,
    config: cairn_erasure::ErasureConfig,
) -> (Vec<MemoryBackend>, ErasureBackend) {
    let hot: Vec<MemoryBackend> = (0..4).map(|_| MemoryBackend::new()).collect();
    let mut kids: Vec<Child> = hot
        .iter()
        .enumerate()
        .map(|(i, s)| Child::new(format!("hot{i}"), Arc::new(s.clone()) as Arc<dyn Backend>))
        .collect();
    for (i, t) in thaws.iter().enumerate() {
        let archive = Archive {
            inner: MemoryBackend::new(),
            thaw: Arc::clone(t),
        };
        let child = Child::new(
            format!("archive{}", i + 4),
            Arc::new(archive) as Arc<dyn Backend>,
        )
        .with_labels(Labels::new().tier("GLACIER"));
        kids.push(match with_thaw {
            true => child.with_thaw(Arc::clone(t) as Arc<dyn Thaw>),
            false => child,
        });
    }
    (hot, ErasureBackend::new(kids, config).unwrap())
}

fn waiting(wait: std::time::Duration) -> cairn_erasure::ErasureConfig {
    config(4, 2)
        .thaw_wait(Some(wait))
        .thaw_poll(std::time::Duration::from_millis(1))
}

fn requests(thaws: &[Arc<MemoryThaw>]) -> u64 {
    thaws.iter().map(|t| t.requests()).sum()
}

#[test]
fn a_degraded_read_configured_to_wait_issues_the_restore_awaits_it_and_decodes() {
    // Each restore completes on the third ask after its request: the read
    // must keep polling through the trait, not give up or spin forever.
    let thaws: Vec<Arc<MemoryThaw>> = (0..2)
        .map(|_| Arc::new(MemoryThaw::ready_after(3)))
        .collect();
    let wait = std::time::Duration::from_secs(600);
    let (hot, store) = archive_layout(&thaws, true, waiting(wait));
    let (a, b) = (pattern(3, 300_000), pattern(4, 2_000_000));
    block_on(async {
        store
            .put_object("packs/a", a.clone(), PutMode::CreateOnly)
            .await
            .unwrap();
        store
            .put_object("packs/b", b.clone(), PutMode::CreateOnly)
            .await
            .unwrap();
        // Healthy: no restore is asked for.
        assert_eq!(store.get_object("packs/a").await.unwrap(), a);
        assert_eq!(requests(&thaws), 0);

        hot[1].delete("packs/a").await.unwrap();
        assert_eq!(store.get_object("packs/a").await.unwrap(), a);
        assert_eq!(requests(&thaws), 1, "one archive shard needed, one restore");
        let ready = (0..2).filter(|&i| thaws[i].is_ready("packs/a")).count();
        assert_eq!(ready, 1);

        // A range read through the trait that needs a cold shard too.
        hot[2].delete("packs/b").await.unwrap();
        let got = Backend::get_range(&store, "packs/b", 1_000_000..1_300_000)
            .await
            .unwrap();
        assert!(got == b.slice(1_000_000..1_300_000), "range differs");
        assert_eq!(requests(&thaws), 2);
    });
}

#[test]
fn a_degraded_read_gives_up_after_the_thaw_wait_naming_the_pending_shard() {
    let thaws: Vec<Arc<MemoryThaw>> = (0..2).map(|_| Arc::new(MemoryThaw::new())).collect();
    let (hot, store) = archive_layout(&thaws, true, waiting(std::time::Duration::from_millis(30)));
    let data = pattern(5, 300_000);
    block_on(async {
        store
            .put_object("packs/a", data.clone(), PutMode::CreateOnly)
            .await
            .unwrap();
        hot[0].delete("packs/a").await.unwrap();
        match store.get_object("packs/a").await {
            Err(cairn_erasure::Error::ThawPending { key, pending, .. }) => {
                assert_eq!(key, "packs/a");
                assert_eq!(pending.len(), 1, "{pending:?}");
                assert!(pending[0].contains("archive"), "{pending:?}");
            }
            other => panic!("expected ThawPending, got {other:?}"),
        }
        // Polled many times, requested once.
        assert_eq!(requests(&thaws), 1);
        // The archive finishes later: the next read finds it done.
        for t in &thaws {
            t.complete();
        }
        assert_eq!(store.get_object("packs/a").await.unwrap(), data);
        assert_eq!(requests(&thaws), 1);
    });
}

#[test]
fn without_a_wait_or_a_thaw_a_degraded_read_names_the_archived_children() {
    for (with_thaw, wait) in [
        (true, None),
        (false, Some(std::time::Duration::from_secs(600))),
    ] {
        let thaws: Vec<Arc<MemoryThaw>> = (0..2).map(|_| Arc::new(MemoryThaw::new())).collect();
        let cfg = config(4, 2).thaw_wait(wait);
        let (hot, store) = archive_layout(&thaws, with_thaw, cfg);
        block_on(async {
            let data = pattern(6, 100_000);
            store
                .put_object("packs/a", data, PutMode::CreateOnly)
                .await
                .unwrap();
            hot[3].delete("packs/a").await.unwrap();
            match store.get_object("packs/a").await {
                Err(cairn_erasure::Error::ColdShardsUnreadable {
                    key,
                    have,
                    need,
                    cold,
                }) => {
                    assert_eq!((key.as_str(), have, need), ("packs/a", 3, 4));
                    assert_eq!(cold.len(), 2, "{cold:?}");
                    for name in ["child 4 (archive4)", "child 5 (archive5)"] {
                        assert!(cold.iter().any(|c| c == name), "{cold:?}");
                    }
                }
                other => {
                    panic!("{with_thaw} {wait:?}: expected ColdShardsUnreadable, got {other:?}")
                }
            }
            assert_eq!(requests(&thaws), 0, "no restore issued without a wait");
        });
    }
}

#[test]
fn thaw_settings_are_validated() {
    let zero_poll = config(4, 2).thaw_poll(std::time::Duration::ZERO);
    let stores: Vec<Arc<dyn Backend>> = (0..6)
        .map(|_| Arc::new(MemoryBackend::new()) as Arc<dyn Backend>)
        .collect();
    let kids = |s: &[Arc<dyn Backend>]| -> Vec<Child> {
        s.iter()
            .enumerate()
            .map(|(i, b)| Child::new(format!("c{i}"), Arc::clone(b)))
            .collect()
    };
    let err = ErasureBackend::new(kids(&stores), zero_poll).unwrap_err();
    assert!(err.to_string().contains("thaw_poll"), "{err}");
    let long = config(4, 2).thaw_wait(Some(cairn_erasure::MAX_WAIT * 2));
    let err = ErasureBackend::new(kids(&stores), long).unwrap_err();
    assert!(err.to_string().contains("thaw_wait"), "{err}");
}
