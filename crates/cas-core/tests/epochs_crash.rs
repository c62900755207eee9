//! A crash at every operation of `key remove` (removal, then a rotation)
//! leaves a repository that opens with the remaining password, reads its
//! snapshot back, accepts the removal again, and whose next prune retires
//! every older epoch (DESIGN invariant 2, for key epochs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use cairn::cas::prune::{prune, prune_plan, PruneOptions};
use cairn::cas::{backup, BackupOptions, InitOptions, NoProgress, Repository};
use cairn_backends::testing::FailAfter;
use cairn_backends::MemoryBackend;
use cairn_crypto::KdfParams;

type Store = Arc<FailAfter<MemoryBackend>>;

/// A repository with one snapshot and a second admin key; returns the store,
/// the snapshot id and the second key's name.
async fn setup(src: &std::path::Path) -> (Store, cairn::cas::SnapshotId, String) {
    let store = Arc::new(FailAfter::new(MemoryBackend::new(), u64::MAX));
    let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
    let repo = Repository::init(store.clone(), b"admin", opts)
        .await
        .unwrap();
    let paths = [src.to_path_buf()];
    let done = backup(
        &repo,
        &paths,
        &BackupOptions::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    let second = repo
        .add_key(b"second", KdfParams::insecure_for_tests())
        .await
        .unwrap();
    (store, done.snapshot_id.unwrap(), second)
}

#[test]
fn a_crash_anywhere_in_key_remove_leaves_a_sound_repository() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("f.bin"), vec![7u8; 100_000]).unwrap();
    futures::executor::block_on(async {
        // Count the operations of one removal.
        let (store, _, second) = setup(src.path()).await;
        let repo = Repository::open(store.clone(), b"admin").await.unwrap();
        store.reset(u64::MAX);
        repo.remove_key(&second).await.unwrap();
        let total = store.ops();
        assert!(total > 5, "{total} operations");

        for n in 0..total {
            let (store, snap, second) = setup(src.path()).await;
            let repo = Repository::open(store.clone(), b"admin").await.unwrap();
            store.reset(n);
            let crashed = repo.remove_key(&second).await;
            store.heal();
            assert!(crashed.is_err(), "operation {n} of {total} should fail");

            let repo = Repository::open(store.clone(), b"admin").await.unwrap();
            repo.load_snapshot(&snap).await.unwrap();
            // Finish the job: the removal again if the key is still there,
            // else a rotation (the crash may have come before it).
            if repo.find_key(&second).await.is_ok() {
                repo.remove_key(&second).await.unwrap();
            } else {
                repo.rotate_keys(&Default::default()).await.unwrap();
            }
            assert!(Repository::open(store.clone(), b"second").await.is_err());
            let plan = prune_plan(&repo, &PruneOptions::default()).await.unwrap();
            prune(&repo, &PruneOptions::default(), plan).await.unwrap();
            let usage = repo.epoch_usage().await.unwrap();
            for e in 0..usage.current {
                assert_eq!(usage.data_bytes(e), 0, "crash at {n}: {usage:?}");
            }
            let reopened = Repository::open(store.clone(), b"admin").await.unwrap();
            let s = reopened.load_snapshot(&snap).await.unwrap();
            let tree = reopened.load_tree(&s.tree).await.unwrap();
            assert!(!tree.nodes.is_empty());
        }
    });
}
