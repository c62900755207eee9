#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Parity on a cold tier: a 4+2 layout whose two parity children are
//! labelled `archive`. A healthy restore of a repository reads nothing
//! from them (counted); with a data child lost, the restore reads them
//! and comes back identical.

mod common;

use std::sync::Arc;

use cairn_backends::testing::{pattern, Counting};
use cairn_backends::{Backend, MemoryBackend};
use cairn_cas_core::{backup, BackupOptions, InitOptions, NoProgress, Repository};
use cairn_crypto::KdfParams;
use cairn_erasure::{Child, ErasureBackend, Labels};
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
