//! Issue 20 item 8, the restore side: a storage attacker who kept old index
//! objects re-uploads them after a prune *repacked* a live file's chunks
//! into a new pack and deleted the old one. Until the next prune, every
//! chunk of that file is indexed twice — in the new pack and in the gone
//! one. A restore must read the copy that exists (and come back identical),
//! `open` must name the replayed object, and `check` must too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use bytes::Bytes;
use cairn::cas::prune::{forget, prune, prune_plan, PruneOptions, SnapshotFilter};
use cairn::cas::retention::{KeepPolicy, PlanOptions};
use cairn::cas::{BackupOptions, OpenWarning, Repository};
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_recovery::{check, CheckIssue, CheckOptions, RestoreOptions};
use common::{assert_same_content, backup_dir, init, keys_under, random_bytes, restore_to, PW};

/// Forgets all but the newest snapshot, then condemns and deletes what it
/// no longer needs, repacking every pack with any waste.
async fn forget_and_repack(repo: &Repository) {
    let last = KeepPolicy::default().last(1);
    let filter = SnapshotFilter::default();
    forget(repo, &last, &PlanOptions::default(), &filter, false)
        .await
        .unwrap();
    let opts = PruneOptions::default()
        .stale_after(std::time::Duration::ZERO)
        .max_unused_percent(0.0);
    for _ in 0..2 {
        let plan = prune_plan(repo, &opts).await.unwrap();
        prune(repo, &opts, plan).await.unwrap();
    }
}

struct Replayed {
    store: Arc<MemoryBackend>,
    src: tempfile::TempDir,
    snapshot: cairn::cas::Snapshot,
    /// Replayed index objects that name a pack the prune deleted.
    stale: Vec<String>,
    /// Whether one of them sorts before every index object the prune left
    /// (the old code then looked the repacked chunks up in the gone pack).
    adverse: bool,
}

async fn replay_after_repack(seed: u64) -> Replayed {
    let store = Arc::new(MemoryBackend::new());
    let repo = init(store.clone()).await;
    let src = tempfile::tempdir().unwrap();
    // Both files share a pack (packs are 1 MiB here).
    std::fs::write(src.path().join("keep.bin"), random_bytes(seed, 300_000)).unwrap();
    std::fs::write(src.path().join("drop.bin"), random_bytes(seed + 1, 300_000)).unwrap();
    backup_dir(&repo, src.path(), &BackupOptions::default()).await;
    let mut kept = Vec::new();
    for key in keys_under(&*store, "index/").await {
        kept.push((key.clone(), store.get(&key).await.unwrap()));
    }
    let packs_before = keys_under(&*store, "data/").await;
    std::fs::remove_file(src.path().join("drop.bin")).unwrap();
    let done = backup_dir(&repo, src.path(), &BackupOptions::default()).await;
    forget_and_repack(&repo).await;
    let packs_now = keys_under(&*store, "data/").await;
    let gone: Vec<&String> = packs_before
        .iter()
        .filter(|p| !packs_now.contains(p))
        .collect();
    assert!(!gone.is_empty(), "the shared pack was repacked and deleted");
    let left = keys_under(&*store, "index/").await;
    let mut stale = Vec::new();
    for (key, bytes) in &kept {
        if left.contains(key) {
            continue;
        }
        let packs = cairn::cas::format::decode_index(&repo.keys(), key, bytes).unwrap();
        if packs.iter().any(|(p, _)| gone.contains(&&p.key())) {
            stale.push(key.clone());
        }
        store
            .put(key, Bytes::clone(bytes), PutMode::CreateOnly)
            .await
            .unwrap();
    }
    assert!(!stale.is_empty(), "a replayed object names the gone pack");
    let adverse = stale.iter().any(|s| left.iter().all(|l| s < l));
    Replayed {
        store,
        src,
        snapshot: done.snapshot,
        stale,
        adverse,
    }
}

#[test]
fn a_restore_reads_repacked_chunks_from_the_pack_that_exists() {
    futures::executor::block_on(async {
        // Index objects are named by their hash: try seeds until a replayed
        // one sorts first, the order in which the old code lost.
        let mut r = replay_after_repack(100).await;
        for seed in 1..16 {
            if r.adverse {
                break;
            }
            r = replay_after_repack(100 + 2 * seed).await;
        }
        assert!(r.adverse, "no seed gave the adverse order");

        // No prune in between: a fresh handle loads the replayed objects.
        let repo = Repository::open(r.store.clone(), PW).await.unwrap();
        let warnings = repo.open_warnings();
        let stale_warnings: Vec<&str> = warnings
            .iter()
            .filter(|w| matches!(w, OpenWarning::StaleIndex { .. }))
            .map(|w| w.object())
            .collect();
        for s in &r.stale {
            assert!(
                stale_warnings.contains(&s.as_str()),
                "open names {s}: {stale_warnings:?}"
            );
        }
        let target = tempfile::tempdir().unwrap();
        restore_to(&repo, &r.snapshot, &RestoreOptions::new(target.path()))
            .await
            .unwrap_or_else(|e| panic!("the snapshot does not restore: {e}"));
        assert_same_content(r.src.path(), &common::restored(target.path(), r.src.path()));

        let report = check(&repo, &CheckOptions::default()).await.unwrap();
        for s in &r.stale {
            assert!(
                report.errors.iter().any(|e| matches!(e,
                    CheckIssue::StaleIndex { object, packs } if object == s && !packs.is_empty())),
                "check names {s}: {:?}",
                report.errors
            );
        }
    });
}
