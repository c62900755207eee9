//! The same backup/restore round trip under tokio (both flavours) and under
//! `futures::executor::block_on`: the libraries assume no runtime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use cairn::cas::{BackupOptions, Repository};
use cairn_backends::{Backend, LocalBackend, MemoryBackend};
use cairn_recovery::{check, verify, CheckOptions, RestoreOptions, SnapshotQuery};

use common::*;

async fn round_trip(store: Arc<dyn Backend>) {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("a/b")).unwrap();
    std::fs::write(src.path().join("a/b/big"), random_bytes(7, 3 << 20)).unwrap();
    std::fs::write(src.path().join("a/small"), b"small").unwrap();
    std::fs::write(src.path().join("empty"), b"").unwrap();
    std::os::unix::fs::symlink("a/small", src.path().join("link")).unwrap();

    let repo = init(store.clone()).await;
    let first = backup_dir(&repo, src.path(), &BackupOptions::default()).await;
    assert_eq!(first.snapshot.summary.files_new, 3);
    // A second backup exercises the parent-tree requests across threads.
    let second = backup_dir(&repo, src.path(), &BackupOptions::default()).await;
    assert_eq!(second.snapshot.summary.files_unchanged, 3);

    let repo = Repository::open(store, PW).await.unwrap();
    let (id, snap) = repo.find_snapshot(&SnapshotQuery::latest()).await.unwrap();
    assert_eq!(Some(id), second.snapshot_id);
    let target = tempfile::tempdir().unwrap();
    restore_to(&repo, &snap, &RestoreOptions::new(target.path()))
        .await
        .unwrap();
    assert_same_tree(src.path(), &restored(target.path(), src.path()));
    assert!(verify(&repo, &snap, target.path(), &[])
        .await
        .unwrap()
        .is_ok());
    let report = check(&repo, &CheckOptions::default().read_data(1.0))
        .await
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.errors);
    assert_eq!(report.snapshots, 2);
}

fn local() -> (tempfile::TempDir, Arc<dyn Backend>) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBackend::new(dir.path()).unwrap();
    (dir, Arc::new(store))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_multi_thread() {
    round_trip(Arc::new(MemoryBackend::new())).await;
    let (_dir, store) = local();
    round_trip(store).await;
}

#[tokio::test(flavor = "current_thread")]
async fn tokio_current_thread() {
    round_trip(Arc::new(MemoryBackend::new())).await;
    let (_dir, store) = local();
    round_trip(store).await;
}

#[test]
fn futures_block_on() {
    futures::executor::block_on(round_trip(Arc::new(MemoryBackend::new())));
    let (_dir, store) = local();
    futures::executor::block_on(round_trip(store));
}
