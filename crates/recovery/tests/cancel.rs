//! Cancellation through a `CancelToken`: a backup stops with a typed error,
//! writes no snapshot and leaves its uploaded packs for the next backup; a
//! restore stops between packs and a re-run with `IfChanged` finishes it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn::cas::{backup, BackupOptions, BackupProgress, CancelToken};
use cairn_backends::testing::Counting;
use cairn_backends::MemoryBackend;
use cairn_recovery::{plan_restore, restore, Overwrite, RestoreOptions, RestoreProgress};
use common::*;

/// Cancels its token when the `after`-th file is about to be read, or the
/// `after`-th pack is done.
struct CancelAfter {
    token: CancelToken,
    after: u64,
    seen: AtomicU64,
}

impl CancelAfter {
    fn new(token: &CancelToken, after: u64) -> Arc<Self> {
        Arc::new(CancelAfter {
            token: token.clone(),
            after,
            seen: AtomicU64::new(0),
        })
    }
    fn tick(&self) {
        if self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.after {
            self.token.cancel();
        }
    }
}

impl BackupProgress for CancelAfter {
    fn file(&self, _path: &Path, _size: u64) {
        self.tick();
    }
}

impl RestoreProgress for CancelAfter {
    fn pack_done(&self) {
        self.tick();
    }
}

fn make_source(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..24u64 {
        std::fs::write(dir.join(format!("f{i:02}")), random_bytes(i, 300_000)).unwrap();
    }
}

#[test]
fn a_cancelled_backup_writes_no_snapshot_and_its_packs_are_reused() {
    futures::executor::block_on(async {
        let src_dir = tempfile::tempdir().unwrap();
        let src = src_dir.path().join("src");
        make_source(&src);
        let store = Arc::new(Counting::new(MemoryBackend::new()));
        let repo = init(store.clone()).await;

        let token = CancelToken::new();
        let opts = BackupOptions::default().cancel(token.clone());
        let r = backup(
            &repo,
            std::slice::from_ref(&src),
            &opts,
            CancelAfter::new(&token, 16),
        )
        .await;
        assert!(
            matches!(r, Err(cairn::cas::Error::Cancelled)),
            "{:?}",
            r.map(|r| r.snapshot_id)
        );
        assert!(repo.snapshots().await.unwrap().is_empty());
        // 15 files of 300 kB were read with 1 MiB packs: packs were
        // uploaded, and indexed so the next backup sees them. (How many
        // depends on how far the uploads got when the walker was stopped:
        // at least the first.)
        let packs = store.puts_under("data/");
        assert!(packs >= 1, "{packs} packs uploaded before the cancel");
        assert!(store.puts_under("index/") >= 1);

        let again = backup_dir(&repo, &src, &BackupOptions::default()).await;
        let s = &again.snapshot.summary;
        assert_eq!(s.files_new, 24);
        // What the cancelled run stored is not stored twice.
        assert!(
            s.bytes_added_raw + 300_000 <= 24 * 300_000,
            "added {} of {}",
            s.bytes_added_raw,
            24 * 300_000
        );
        let target = tempfile::tempdir().unwrap();
        restore_to(&repo, &again.snapshot, &RestoreOptions::new(target.path()))
            .await
            .unwrap();
        assert_same_tree(&src, &restored(target.path(), &src));
    });
}

#[test]
fn a_cancelled_restore_stops_between_packs_and_resumes() {
    futures::executor::block_on(async {
        let src_dir = tempfile::tempdir().unwrap();
        let src = src_dir.path().join("src");
        make_source(&src);
        let store = Arc::new(Counting::new(MemoryBackend::new()));
        let repo = init(store.clone()).await;
        let snap = backup_dir(&repo, &src, &BackupOptions::default())
            .await
            .snapshot;

        let target = tempfile::tempdir().unwrap();
        let token = CancelToken::new();
        let opts = RestoreOptions::new(target.path())
            .concurrency(1)
            .cancel(token.clone());
        let plan = plan_restore(&repo, &snap, &opts).await.unwrap();
        let total = plan.packs.len() as u64;
        assert!(total >= 4, "{total} packs");
        let progress = CancelAfter::new(&token, 2);
        let r = restore(&repo, &plan, &opts, progress.clone()).await;
        assert!(matches!(r, Err(cairn_recovery::Error::Cancelled)), "{r:?}");
        // With one pack at a time, none started after the second finished.
        assert_eq!(progress.seen.load(Ordering::SeqCst), 2);

        // A re-run with if-changed (and a fresh token) finishes the work,
        // fetching only the packs not yet in place.
        let opts = RestoreOptions::new(target.path())
            .concurrency(1)
            .overwrite(Overwrite::IfChanged);
        let plan = plan_restore(&repo, &snap, &opts).await.unwrap();
        assert!(
            (plan.packs.len() as u64) < total,
            "{} of {total} packs to fetch again",
            plan.packs.len()
        );
        restore(&repo, &plan, &opts, Arc::new(cairn_recovery::NoProgress))
            .await
            .unwrap();
        assert_same_tree(&src, &restored(target.path(), &src));

        // A token cancelled before the start: nothing happens.
        let token = CancelToken::new();
        token.cancel();
        let opts = RestoreOptions::new(target.path().join("other")).cancel(token);
        let r = restore(&repo, &plan, &opts, Arc::new(cairn_recovery::NoProgress)).await;
        assert!(matches!(r, Err(cairn_recovery::Error::Cancelled)));
        assert!(!target.path().join("other").exists());
    });
}
