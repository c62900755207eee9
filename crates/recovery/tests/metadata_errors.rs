//! One entry whose metadata cannot be set no longer stops the restore from
//! setting everyone else's: it becomes a warning naming the entry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cairn::cas::BackupOptions;
use cairn_backends::MemoryBackend;
use cairn_recovery::{plan_restore, restore, RestoreOptions, RestoreProgress};
use common::*;

/// Removes a restored directory after the first pack: the symlink to be
/// created in it later cannot be (its directory handle is of a deleted
/// directory, and no link is ever created by path instead).
struct Remover {
    victim: PathBuf,
    done: Mutex<bool>,
}

impl RestoreProgress for Remover {
    fn pack_done(&self) {
        let mut done = self.done.lock().unwrap();
        if !*done {
            *done = true;
            std::fs::remove_dir(&self.victim).unwrap();
        }
    }
}

fn set_mtime(p: &std::path::Path, secs: i64) {
    filetime::set_file_mtime(p, filetime::FileTime::from_unix_time(secs, 0)).unwrap();
}

#[test]
fn a_failing_entry_is_a_warning_and_the_rest_gets_its_metadata() {
    futures::executor::block_on(async {
        let src_dir = tempfile::tempdir().unwrap();
        let src = src_dir.path().join("src");
        for d in ["a/b", "c", "lnkdir"] {
            std::fs::create_dir_all(src.join(d)).unwrap();
        }
        std::os::unix::fs::symlink("../f3", src.join("lnkdir/link")).unwrap();
        for (f, mode) in [("a/b/f1", 0o640), ("c/f2", 0o600), ("f3", 0o755)] {
            std::fs::write(src.join(f), random_bytes(mode, 400_000)).unwrap();
            std::fs::set_permissions(src.join(f), PermissionsExt::from_mode(mode as u32)).unwrap();
            set_mtime(&src.join(f), 1_500_000_000);
        }
        for (d, mode) in [("a", 0o750), ("a/b", 0o711), ("c", 0o700), ("", 0o755)] {
            std::fs::set_permissions(src.join(d), PermissionsExt::from_mode(mode)).unwrap();
            set_mtime(&src.join(d), 1_400_000_000);
        }
        let repo = init(Arc::new(MemoryBackend::new())).await;
        let snap = backup_dir(&repo, &src, &BackupOptions::default())
            .await
            .snapshot;

        let target = tempfile::tempdir().unwrap();
        let base = restored(target.path(), &src);
        let victim = base.join("lnkdir");
        let opts = RestoreOptions::new(target.path()).concurrency(1);
        let plan = plan_restore(&repo, &snap, &opts).await.unwrap();
        let hook = Arc::new(Remover {
            victim: victim.clone(),
            done: Mutex::new(false),
        });
        let summary = restore(&repo, &plan, &opts, hook).await.unwrap();
        assert_eq!(summary.warnings.len(), 1, "{:?}", summary.warnings);
        assert_eq!(summary.warnings[0].path, victim.join("link"));

        // Everything else carries the snapshot's modes and times (the source
        // without the victim, its parent's time put back).
        std::fs::remove_dir_all(src.join("lnkdir")).unwrap();
        set_mtime(&src, 1_400_000_000);
        assert_same_tree(&src, &base);
    });
}
