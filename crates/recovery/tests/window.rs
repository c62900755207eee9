//! Restores planned and run a window of files at a time
//! (`RestoreOptions::window`, `restore_snapshot`): the result is the same as
//! one plan's, and no more files than the window are planned at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use cairn::cas::{BackupOptions, Repository, Snapshot};
use cairn_backends::MemoryBackend;
use cairn_recovery::{
    plan_restore, restore_snapshot, Error, NoProgress, Overwrite, RestoreOptions, RestoreSummary,
};
use common::*;

/// 60 files over nested directories, with hard links whose files fall in
/// different windows, duplicates, empty files, a symlink and a read-only
/// directory (its final mode is only set after its files are written).
fn make_tree(src: &Path) {
    for d in ["a/b/c/d", "e", "f/g", "ro"] {
        std::fs::create_dir_all(src.join(d)).unwrap();
    }
    let dirs = ["", "a", "a/b", "a/b/c", "a/b/c/d", "e", "f", "f/g", "ro"];
    for i in 0..60u64 {
        let dir = dirs[i as usize % dirs.len()];
        let len = match i % 4 {
            0 => 0,
            1 => 300,
            2 => 20_000,
            _ => 70_000,
        };
        // Every tenth file repeats another's bytes (one blob, several files).
        let seed = if i % 10 == 9 { 1 } else { i };
        std::fs::write(
            src.join(dir).join(format!("f{i:02}")),
            random_bytes(seed, len),
        )
        .unwrap();
    }
    std::fs::write(src.join("a/linked"), random_bytes(99, 50_000)).unwrap();
    std::fs::hard_link(src.join("a/linked"), src.join("f/g/link2")).unwrap();
    std::fs::hard_link(src.join("a/linked"), src.join("ro/link3")).unwrap();
    std::os::unix::fs::symlink("../a/linked", src.join("e/sym")).unwrap();
    std::fs::set_permissions(src.join("ro"), std::fs::Permissions::from_mode(0o555)).unwrap();
}

async fn setup() -> (tempfile::TempDir, std::path::PathBuf, Repository, Snapshot) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    make_tree(&src);
    let repo = init(Arc::new(MemoryBackend::new())).await;
    let snap = backup_dir(&repo, &src, &BackupOptions::default())
        .await
        .snapshot;
    (dir, src, repo, snap)
}

async fn windowed(repo: &Repository, snap: &Snapshot, opts: &RestoreOptions) -> RestoreSummary {
    restore_snapshot(repo, snap, opts, Arc::new(NoProgress))
        .await
        .unwrap()
}

fn cleanup(src: &Path) {
    // Lets the temporary directory be removed.
    std::fs::set_permissions(src.join("ro"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_restore_in_windows_of_three_files_is_identical_with_links_and_metadata() {
    futures::executor::block_on(async {
        let (_dir, src, repo, snap) = setup().await;
        let target = tempfile::tempdir().unwrap();
        let opts = RestoreOptions::new(target.path()).window(3);
        let summary = windowed(&repo, &snap, &opts).await;
        let base = restored(target.path(), &src);
        assert_same_tree(&src, &base);
        let ino = |p: &str| std::fs::metadata(base.join(p)).unwrap().ino();
        assert_eq!(ino("a/linked"), ino("f/g/link2"));
        assert_eq!(ino("a/linked"), ino("ro/link3"));
        assert_eq!(std::fs::metadata(base.join("a/linked")).unwrap().nlink(), 3);
        assert_eq!(summary.hardlinks, 2, "{summary:?}");
        assert_eq!(summary.files, 61, "{summary:?}");
        assert_eq!(summary.symlinks, 1);
        assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
        cleanup(&src);
        cleanup(&base);
    });
}

#[test]
fn no_more_files_than_the_window_are_planned_at_once() {
    futures::executor::block_on(async {
        let (_dir, src, repo, snap) = setup().await;
        let all = plan_restore(&repo, &snap, &RestoreOptions::new("/nonexistent"))
            .await
            .unwrap()
            .files
            .len() as u64;
        assert_eq!(all, 63);
        for window in [1, 3, 7] {
            let target = tempfile::tempdir().unwrap();
            let opts = RestoreOptions::new(target.path()).window(window);
            let summary = windowed(&repo, &snap, &opts).await;
            assert_eq!(summary.largest_window, window as u64, "{summary:?}");
            // (The last window may hold only directories.)
            assert!(
                summary.windows >= all.div_ceil(window as u64),
                "{summary:?}"
            );
            assert_same_tree(&src, &restored(target.path(), &src));
            cleanup(&restored(target.path(), &src));
        }
        // Without a window: one plan of every file, as before.
        let target = tempfile::tempdir().unwrap();
        let summary = windowed(&repo, &snap, &RestoreOptions::new(target.path())).await;
        assert_eq!((summary.windows, summary.largest_window), (1, all));
        cleanup(&restored(target.path(), &src));
        cleanup(&src);
    });
}

#[test]
fn if_changed_and_delete_work_across_windows() {
    futures::executor::block_on(async {
        let (_dir, src, repo, snap) = setup().await;
        let target = tempfile::tempdir().unwrap();
        let opts = RestoreOptions::new(target.path()).window(4);
        windowed(&repo, &snap, &opts).await;
        let base = restored(target.path(), &src);
        // Damage two files, add extras in two directories.
        std::fs::write(base.join("a/b/f02"), b"changed").unwrap();
        std::fs::write(base.join("e/f05"), random_bytes(7, 300)).unwrap();
        std::fs::write(base.join("a/b/c/extra"), b"x").unwrap();
        std::fs::create_dir(base.join("f/extra_dir")).unwrap();
        let opts = opts.overwrite(Overwrite::IfChanged).delete(true);
        let summary = windowed(&repo, &snap, &opts).await;
        assert_same_tree(&src, &base);
        // The two damaged files, and the hard-linked one: a file with
        // several links in the target is replaced, never written in place
        // (as with one plan).
        assert_eq!(summary.files, 3, "{summary:?}");
        assert_eq!(summary.bytes_written, 20_000 + 300 + 50_000, "{summary:?}");
        assert_eq!(summary.deleted, 2, "{summary:?}");
        assert!(summary.windows > 10, "{summary:?}");
        // And once more: only the hard-linked file is written again.
        let summary = windowed(&repo, &snap, &opts).await;
        assert_eq!(summary.bytes_written, 50_000, "{summary:?}");
        assert_same_tree(&src, &base);
        cleanup(&src);
        cleanup(&base);
    });
}

#[test]
fn a_missing_include_path_fails_before_anything_is_written() {
    futures::executor::block_on(async {
        let (_dir, src, repo, snap) = setup().await;
        let target = tempfile::tempdir().unwrap();
        let opts = RestoreOptions::new(target.path())
            .window(2)
            .include(src.join("a"))
            .include(src.join("nope"));
        let r = restore_snapshot(&repo, &snap, &opts, Arc::new(NoProgress)).await;
        assert!(matches!(r, Err(Error::NotInSnapshot { .. })), "{r:?}");
        assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0);
        // A present include path restores just that, in windows.
        let opts = RestoreOptions::new(target.path())
            .window(2)
            .include(src.join("a/b"));
        let summary = windowed(&repo, &snap, &opts).await;
        assert!(summary.windows > 3, "{summary:?}");
        assert_same_tree(&src.join("a/b"), &restored(target.path(), &src).join("a/b"));
        cleanup(&src);
    });
}

#[test]
fn a_cancelled_windowed_restore_stops_and_a_rerun_finishes_it() {
    struct CancelAfter(cairn::cas::CancelToken, std::sync::atomic::AtomicU32);
    impl cairn_recovery::RestoreProgress for CancelAfter {
        fn file_done(&self, _: &Path) {
            if self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 5 {
                self.0.cancel();
            }
        }
    }
    futures::executor::block_on(async {
        let (_dir, src, repo, snap) = setup().await;
        let target = tempfile::tempdir().unwrap();
        let token = cairn::cas::CancelToken::default();
        let opts = RestoreOptions::new(target.path())
            .window(3)
            .cancel(token.clone());
        let progress = Arc::new(CancelAfter(token, 0.into()));
        let r = restore_snapshot(&repo, &snap, &opts, progress.clone()).await;
        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
        let done = progress.1.load(std::sync::atomic::Ordering::SeqCst);
        assert!(done < 20, "{done} files done after cancelling at 6");
        let opts = RestoreOptions::new(target.path())
            .window(3)
            .overwrite(Overwrite::IfChanged);
        windowed(&repo, &snap, &opts).await;
        let base = restored(target.path(), &src);
        assert_same_tree(&src, &base);
        cleanup(&src);
        cleanup(&base);
    });
}
