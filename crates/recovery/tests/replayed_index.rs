//! A storage attacker who kept old index objects re-uploads them after a
//! prune deleted their packs (issue 20 item 8): a backup that would dedup
//! against them must store the data again (or fail), never acknowledge a
//! snapshot that cannot be restored; and the next prune drops the entries
//! of the missing packs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use bytes::Bytes;
use cairn::cas::prune::{forget, prune, prune_plan, PruneOptions, SnapshotFilter};
use cairn::cas::retention::{KeepPolicy, PlanOptions};
use cairn::cas::{BackupOptions, Repository};
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_recovery::RestoreOptions;
use common::{assert_same_content, backup_dir, init, keys_under, random_bytes, restore_to, PW};

async fn prune_all(repo: &Repository) {
    let opts = PruneOptions::default().stale_after(std::time::Duration::ZERO);
    // Condemn, then delete.
    for _ in 0..2 {
        let plan = prune_plan(repo, &opts).await.unwrap();
        prune(repo, &opts, plan).await.unwrap();
    }
}

#[test]
fn a_replayed_index_object_never_makes_a_backup_acknowledge_what_is_gone() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let repo = init(store.clone()).await;
        let work = tempfile::tempdir().unwrap();
        let old = work.path().join("old");
        std::fs::create_dir_all(&old).unwrap();
        let secret = random_bytes(11, 1_500_000);
        std::fs::write(old.join("x.bin"), &secret).unwrap();
        backup_dir(&repo, &old, &BackupOptions::default()).await;
        // What the attacker keeps.
        let mut kept = Vec::new();
        for key in keys_under(&*store, "index/").await {
            kept.push((key.clone(), store.get(&key).await.unwrap()));
        }
        let packs_before = keys_under(&*store, "data/").await;
        // The same path, its file replaced: the next snapshot of it.
        std::fs::remove_file(old.join("x.bin")).unwrap();
        std::fs::write(old.join("y.bin"), random_bytes(12, 300_000)).unwrap();
        backup_dir(&repo, &old, &BackupOptions::default()).await;

        // The first snapshot is forgotten and its packs pruned.
        let last = KeepPolicy::default().last(1);
        forget(
            &repo,
            &last,
            &PlanOptions::default(),
            &SnapshotFilter::default(),
            false,
        )
        .await
        .unwrap();
        prune_all(&repo).await;
        let packs_now = keys_under(&*store, "data/").await;
        assert!(
            packs_before.iter().any(|p| !packs_now.contains(p)),
            "an old pack is gone"
        );

        // Replayed.
        let mut replayed = 0;
        for (key, bytes) in &kept {
            if store
                .put(key, Bytes::clone(bytes), PutMode::CreateOnly)
                .await
                .is_ok()
            {
                replayed += 1;
            }
        }
        assert!(replayed > 0);

        // A new handle (the replayed index is what it loads), and the same
        // data backed up again.
        let repo = Repository::open(store.clone(), PW).await.unwrap();
        let again = work.path().join("again");
        std::fs::create_dir_all(&again).unwrap();
        std::fs::write(again.join("x.bin"), &secret).unwrap();
        let r = cairn::cas::backup(
            &repo,
            std::slice::from_ref(&again),
            &BackupOptions::default(),
            Arc::new(cairn::cas::NoProgress),
        )
        .await;
        let Ok(done) = r else {
            // Failing loudly is allowed; acknowledging is not.
            return;
        };
        assert!(done.snapshot_id.is_some());

        // The next prune drops the replayed entries: no index object names
        // a pack that is not stored, and the acknowledged snapshot restores
        // (from a fresh handle: the index every reader loads).
        prune_all(&repo).await;
        let repo = Repository::open(store.clone(), PW).await.unwrap();
        let stored = keys_under(&*store, "data/").await;
        for key in keys_under(&*store, "index/").await {
            let bytes = store.get(&key).await.unwrap();
            let packs = cairn::cas::format::decode_index(&repo.keys(), &key, &bytes).unwrap();
            for (pack, _) in packs {
                let hex = pack.to_hex();
                assert!(
                    stored.iter().any(|k| k.ends_with(&hex)),
                    "{key} still names the missing pack {hex}"
                );
            }
        }
        let target = tempfile::tempdir().unwrap();
        restore_to(&repo, &done.snapshot, &RestoreOptions::new(target.path()))
            .await
            .unwrap_or_else(|e| panic!("the acknowledged snapshot does not restore: {e}"));
        assert_same_content(&again, &common::restored(target.path(), &again));
    });
}
