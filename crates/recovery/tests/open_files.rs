//! The files a restore holds open are bounded by `max_open_files`, also when
//! every file waits for blobs from packs still to come.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cairn::cas::BackupOptions;
use cairn_backends::MemoryBackend;
use cairn_recovery::{plan_restore, restore, RestoreOptions, RestoreProgress};
use common::*;

/// Counts this process's descriptors open on regular files below `target`.
struct FdCounter {
    target: PathBuf,
    max: Mutex<usize>,
}

impl FdCounter {
    fn count(&self) {
        let n = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|p| p.starts_with(&self.target) && p.is_file())
            .count();
        let mut max = self.max.lock().unwrap();
        *max = (*max).max(n);
    }
}

impl RestoreProgress for FdCounter {
    fn bytes(&self, _: u64) {
        self.count();
    }
    fn pack_done(&self) {
        self.count();
    }
}

/// Twelve files sharing a long tail: the tail's blobs are stored once, in the
/// first file's pack, so restoring that pack opens every file, and each then
/// waits for its own pack.
fn make_source(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let tail = random_bytes(1, 3_000_000);
    for i in 0..12u64 {
        let mut data = random_bytes(100 + i, 1_500_000);
        data.extend_from_slice(&tail);
        std::fs::write(dir.join(format!("f{i:02}")), data).unwrap();
    }
}

#[test]
fn open_files_stay_under_the_limit_and_the_restore_is_whole() {
    futures::executor::block_on(async {
        let src_dir = tempfile::tempdir().unwrap();
        let src = src_dir.path().join("src");
        make_source(&src);
        let repo = init(Arc::new(MemoryBackend::new())).await;
        let snap = backup_dir(&repo, &src, &BackupOptions::default())
            .await
            .snapshot;
        let mut peaks = Vec::new();
        for limit in [1000, 2] {
            let target = tempfile::tempdir().unwrap();
            let target_path = target.path().canonicalize().unwrap();
            let opts = RestoreOptions::new(&target_path)
                .concurrency(2)
                .max_open_files(limit);
            let plan = plan_restore(&repo, &snap, &opts).await.unwrap();
            let counter = Arc::new(FdCounter {
                target: target_path.clone(),
                max: Mutex::new(0),
            });
            restore(&repo, &plan, &opts, counter.clone()).await.unwrap();
            assert_same_tree(&src, &restored(&target_path, &src));
            peaks.push(*counter.max.lock().unwrap());
        }
        eprintln!(
            "peak files open: unlimited {}, limit 2: {}",
            peaks[0], peaks[1]
        );
        // Unlimited, the data set does keep many files open at once ...
        assert!(peaks[0] > 6, "peaks {peaks:?}");
        // ... and the limit holds (plus the files being written right now).
        assert!(peaks[1] <= 2 + 2, "peaks {peaks:?}");
    });
}
