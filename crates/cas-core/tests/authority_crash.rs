//! A crash at every operation of `key remove` of an admin (epoch rotation,
//! new admin authority, journal, revocation, deletion) leaves a repository
//! that opens for the remaining admins, whose signatures every client
//! accepts, and that accepts the removal again (issue 20, item 2; DESIGN
//! invariant 2).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use cairn::cas::{backup, BackupOptions, InitOptions, NoProgress, Repository, SnapshotId};
use cairn_backends::testing::FailAfter;
use cairn_backends::MemoryBackend;
use cairn_crypto::KdfParams;

type Store = Arc<FailAfter<MemoryBackend>>;

/// A repository with two snapshots and three admin keys (`admin`, `second`,
/// `third`); returns the store, the snapshots and `second`'s name.
async fn setup(src: &std::path::Path) -> (Store, Vec<SnapshotId>, String) {
    let store = Arc::new(FailAfter::new(MemoryBackend::new(), u64::MAX));
    let kdf = KdfParams::insecure_for_tests();
    let opts = InitOptions::default().kdf(kdf);
    let repo = Repository::init(store.clone(), b"admin", opts)
        .await
        .unwrap();
    let mut snaps = Vec::new();
    for i in 0..2u8 {
        std::fs::write(src.join("f.bin"), vec![i; 50_000]).unwrap();
        let paths = [src.to_path_buf()];
        let opts = BackupOptions::default();
        let done = backup(&repo, &paths, &opts, Arc::new(NoProgress)).await;
        snaps.push(done.unwrap().snapshot_id.unwrap());
    }
    let second = repo.add_key(b"second", kdf).await.unwrap();
    repo.add_key(b"third", kdf).await.unwrap();
    (store, snaps, second)
}

#[test]
fn a_crash_anywhere_in_an_admins_removal_leaves_admins_that_still_sign() {
    let src = tempfile::tempdir().unwrap();
    futures::executor::block_on(async {
        let (store, _, second) = setup(src.path()).await;
        let repo = Repository::open(store.clone(), b"admin").await.unwrap();
        store.reset(u64::MAX);
        let report = repo
            .remove_key_with(&second, &Default::default())
            .await
            .unwrap();
        assert_eq!(report.authority.unwrap().link, 1);
        let total = store.ops();

        for n in 0..total {
            let (store, snaps, second) = setup(src.path()).await;
            let repo = Repository::open(store.clone(), b"admin").await.unwrap();
            store.reset(n);
            let crashed = repo.remove_key(&second).await;
            store.heal();
            assert!(crashed.is_err(), "operation {n} of {total} should fail");
            drop(repo);

            // Both remaining admins open, and the one that did not start
            // the removal finishes it.
            let admin = Repository::open(store.clone(), b"admin").await.unwrap();
            let third = Repository::open(store.clone(), b"third").await.unwrap();
            if third.find_key(&second).await.is_ok() {
                third.remove_key(&second).await.unwrap();
            }
            assert!(
                Repository::open(store.clone(), b"second").await.is_err(),
                "crash at {n}: the removed key opens"
            );
            // Each admin's signature counts for the other, and for a
            // fresh handle: third forgets one snapshot, admin the other.
            third.write_tombstone(snaps[0].as_ref()).await.unwrap();
            let admin_sees = admin.snapshot_ids().await.unwrap();
            assert_eq!(admin_sees, vec![snaps[1]], "crash at {n}");
            let admin = Repository::open(store.clone(), b"admin").await.unwrap();
            admin.write_tombstone(snaps[1].as_ref()).await.unwrap();
            let fresh = Repository::open(store.clone(), b"third").await.unwrap();
            assert!(
                fresh.snapshot_ids().await.unwrap().is_empty(),
                "crash at {n}"
            );
            assert_eq!(
                fresh.authority(),
                admin.authority(),
                "crash at {n}: the admins disagree on the authority"
            );
        }
    });
}
