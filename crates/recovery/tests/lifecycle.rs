//! Repository life cycle: forget with a policy, prune, and what that leaves:
//! space close to a fresh repository, a consolidated index, and survival of
//! a crash at every backend operation of a prune.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cairn::cas::prune::{forget, prune, prune_plan, PruneOptions, SnapshotFilter};
use cairn::cas::retention::{KeepPolicy, PlanOptions};
use cairn::cas::{BackupOptions, Repository, SnapshotId};
use cairn_backends::testing::FailAfter;
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_recovery::{check, CheckOptions, RestoreOptions};
use futures::TryStreamExt;

use common::*;

/// Version `v` of a changing tree: 6 files of which each version rewrites
/// two and keeps the rest, plus one file that changes a little.
fn write_version(dir: &Path, v: u64) {
    for f in 0..6u64 {
        // File f changes every version where (v + f) % 3 == 0.
        let generation = (v + f) / 3;
        let data = random_bytes(1000 * f + generation, 150_000 + 20_000 * f as usize);
        std::fs::write(dir.join(format!("f{f}")), data).unwrap();
    }
    let mut log = random_bytes(7, 300_000);
    log.extend_from_slice(&random_bytes(100 + v, 30_000));
    std::fs::write(dir.join("log"), log).unwrap();
}

async fn stored_bytes(store: &dyn Backend, prefix: &str) -> (usize, u64) {
    let all: Vec<_> = store.list(prefix).try_collect().await.unwrap();
    (all.len(), all.iter().map(|m| m.size).sum())
}

/// Prune options of these tests: crashed leases are stale after two runs.
fn popts() -> PruneOptions {
    PruneOptions::default().stale_after(Duration::ZERO)
}

fn opts() -> BackupOptions {
    BackupOptions::default().host("lifecycle").workers(1)
}

async fn check_clean(repo: &Repository) {
    let report = check(repo, &CheckOptions::default().read_data(1.0))
        .await
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.errors);
}

async fn restores_identical(repo: &Repository, id: &SnapshotId, src: &Path) {
    let snap = repo.load_snapshot(id).await.unwrap();
    let target = tempfile::tempdir().unwrap();
    restore_to(repo, &snap, &RestoreOptions::new(target.path()))
        .await
        .unwrap();
    assert_same_tree(src, &restored(target.path(), src));
}

#[test]
fn ten_versions_then_keep_last_1_and_prune_is_within_15_percent_of_fresh() {
    futures::executor::block_on(async {
        let src = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryBackend::new());
        let repo = init(store.clone()).await;
        let mut last = None;
        for v in 0..10 {
            write_version(src.path(), v);
            last = backup_dir(&repo, src.path(), &opts()).await.snapshot_id;
        }
        let last = last.unwrap();
        let (_, before) = stored_bytes(&*store, "data/").await;

        let report = forget(
            &repo,
            &KeepPolicy::default().last(1),
            &PlanOptions::default(),
            &SnapshotFilter::default(),
            false,
        )
        .await
        .unwrap();
        assert_eq!(report.removed.len(), 9);
        let plan = prune_plan(&repo, &popts()).await.unwrap();
        assert!(plan.bytes_freed > 0, "{plan:?}");
        let done = prune(&repo, &popts(), plan).await.unwrap();
        assert!(done.packs_deleted > 0, "{done:?}");
        assert_eq!(done.still_pending, 0, "{done:?}");
        let (_, after) = stored_bytes(&*store, "data/").await;

        let fresh_store = Arc::new(MemoryBackend::new());
        let fresh = init(fresh_store.clone()).await;
        backup_dir(&fresh, src.path(), &opts()).await;
        let (_, fresh_bytes) = stored_bytes(&*fresh_store, "data/").await;
        eprintln!("packs: 10 versions {before} B, after prune {after} B, fresh {fresh_bytes} B");
        assert!(
            (after as f64) <= fresh_bytes as f64 * 1.15,
            "after prune {after} B vs fresh {fresh_bytes} B"
        );

        let repo = Repository::open(store.clone(), PW).await.unwrap();
        check_clean(&repo).await;
        restores_identical(&repo, &last, src.path()).await;
        // Nothing left for the protocol to wait on.
        for prefix in ["condemned/", "waits/", "sessions/"] {
            assert_eq!(stored_bytes(&*store, prefix).await.0, 0, "{prefix}");
        }
    });
}

#[test]
fn after_many_backups_a_prune_leaves_at_most_4_index_objects() {
    futures::executor::block_on(async {
        let src = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryBackend::new());
        let repo = init(store.clone()).await;
        let mut o = opts();
        o.index_every = 1;
        let mut ids = Vec::new();
        for v in 0..30 {
            write_version(src.path(), v);
            ids.push(backup_dir(&repo, src.path(), &o).await.snapshot_id.unwrap());
        }
        let (objects_before, _) = stored_bytes(&*store, "index/").await;
        assert!(objects_before >= 25, "{objects_before} index objects");
        // No snapshot forgotten: the prune only consolidates (and repacks).
        let plan = prune_plan(&repo, &popts()).await.unwrap();
        prune(&repo, &popts(), plan).await.unwrap();
        let (objects_after, _) = stored_bytes(&*store, "index/").await;
        eprintln!("index objects: {objects_before} before prune, {objects_after} after");
        assert!(objects_after <= 4, "{objects_after}");
        let repo = Repository::open(store.clone(), PW).await.unwrap();
        check_clean(&repo).await;
        assert_eq!(repo.snapshots().await.unwrap().len(), 30);
        restores_identical(&repo, ids.last().unwrap(), src.path()).await;
    });
}

/// A copy of every object of `from` in a new store.
async fn copy_store(from: &MemoryBackend) -> MemoryBackend {
    let to = MemoryBackend::new();
    let all: Vec<_> = from.list("").try_collect().await.unwrap();
    for m in all {
        let b = from.get(&m.key).await.unwrap();
        to.put(&m.key, b, PutMode::CreateOnly).await.unwrap();
    }
    to
}

#[test]
fn a_crash_at_every_backend_operation_of_a_prune_loses_nothing_kept() {
    futures::executor::block_on(async {
        let src = tempfile::tempdir().unwrap();
        let base = MemoryBackend::new();
        let repo = init(Arc::new(base.clone())).await;
        for v in 0..4 {
            write_version(src.path(), v);
            backup_dir(&repo, src.path(), &opts()).await;
        }
        forget(
            &repo,
            &KeepPolicy::default().last(2),
            &PlanOptions::default(),
            &SnapshotFilter::default(),
            false,
        )
        .await
        .unwrap();
        let kept: Vec<SnapshotId> = repo
            .snapshots()
            .await
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let last = *kept.last().unwrap();
        drop(repo);

        // Count the operations of a whole prune.
        let counting = Arc::new(FailAfter::new(copy_store(&base).await, u64::MAX));
        let repo = Repository::open(counting.clone(), PW).await.unwrap();
        counting.reset(u64::MAX);
        let plan = prune_plan(&repo, &popts()).await.unwrap();
        prune(&repo, &popts(), plan).await.unwrap();
        let ops = counting.ops();
        assert!(ops > 20, "{ops} operations");

        for n in 0..ops {
            let store = Arc::new(FailAfter::new(copy_store(&base).await, u64::MAX));
            let repo = Repository::open(store.clone(), PW).await.unwrap();
            store.reset(n);
            let r = async {
                let plan = prune_plan(&repo, &popts()).await?;
                prune(&repo, &popts(), plan).await
            }
            .await;
            // Only the last operation (removing the lease) may fail quietly.
            assert!(
                r.is_err() || n + 1 == ops,
                "n={n}: the prune should have crashed"
            );
            store.heal();
            let repo = Repository::open(store.clone(), PW)
                .await
                .unwrap_or_else(|e| panic!("n={n}: open failed: {e}"));
            let report = check(&repo, &CheckOptions::default().read_data(1.0))
                .await
                .unwrap();
            assert!(report.is_ok(), "n={n}: {:?}", report.errors);
            let now: Vec<SnapshotId> = repo
                .snapshots()
                .await
                .unwrap()
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            assert_eq!(now, kept, "n={n}");
            // The crashed prune's lease is left behind: a second prune
            // cannot delete yet, it waits; two more runs find the lease
            // stale. Everything still restores and checks clean.
            for _ in 0..3 {
                let plan = prune_plan(&repo, &popts()).await.unwrap();
                prune(&repo, &popts(), plan).await.unwrap();
            }
            let repo = Repository::open(store.clone(), PW).await.unwrap();
            check_clean(&repo).await;
            restores_identical(&repo, &last, src.path()).await;
            assert_eq!(stored_bytes(&*store, "condemned/").await.0, 0, "n={n}");
        }
    });
}
