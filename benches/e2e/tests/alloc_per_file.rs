//! The regression gate of issue 23 for memory traffic: bytes and
//! allocations per file of an unchanged re-backup of [`FILES`] small files,
//! counted by a global allocator of this test binary, under committed
//! ceilings (the counts measured when they were set, plus about 10%: unlike
//! round trips, allocation counts move a little with thread timing, such
//! as how often a queue grows).
//!
//! Counts, not times. Raising a ceiling is a reviewed change. This is the
//! one test binary of the workspace with `unsafe` code (a `GlobalAlloc`
//! impl cannot be written without it), which is why `cairn-bench` sets
//! `unsafe_code = "deny"` rather than the workspace's `forbid`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_archiver::{backup, BackupOptions, NoProgress};
use cairn_backends::{Backend, LocalBackend};
use cairn_cas_core::{InitOptions, Repository};
use cairn_crypto::KdfParams;
use futures::executor::block_on;

/// Directories, and files in each: [`FILES`] small files in all.
const DIRS: usize = 20;
const FILES_PER_DIR: usize = 100;
const FILES: u64 = (DIRS * FILES_PER_DIR) as u64;

/// Allocations per file (the backup alone, on a handle already open): per
/// entry the walker's name, metadata and its node in the new tree, the
/// parent node it is compared with (decoded from the parent tree), and
/// the messages between walker and driver; plus the backup's fixed part
/// (session lease, parent tree loads, snapshot record, journal entry)
/// spread over the files. Measured 8.7 (2026-12-07, 2 000 files); the
/// ceiling is that + 10%.
const ALLOCS_PER_FILE: f64 = 9.6;
/// Bytes allocated per file, the same things (a `realloc` counts its new
/// size). Measured 1 770 with a zstd decompression context per thread
/// (`cairn-format` `blob.rs`); the ceiling is that + 10%.
const BYTES_PER_FILE: f64 = 1_950.0;

/// The system allocator, counting calls and bytes.
struct CountingAlloc;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

fn count(size: usize) {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(size as u64, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds
// `GlobalAlloc`'s contract; the counting touches only atomics (it does
// not allocate).
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// (allocations, bytes) so far.
fn counters() -> (u64, u64) {
    (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    )
}

fn small_tree(root: &Path) {
    for d in 0..DIRS {
        let dir = root.join(format!("d{d:02}"));
        std::fs::create_dir(&dir).unwrap();
        for f in 0..FILES_PER_DIR {
            std::fs::write(dir.join(format!("f{f:03}")), format!("{d}/{f}\n")).unwrap();
        }
    }
}

#[test]
fn an_unchanged_backup_allocates_under_its_ceilings_per_file() {
    let src = tempfile::tempdir().unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    small_tree(src.path());
    let paths = [src.path().to_owned()];
    let opts = BackupOptions::default().host("gate");
    let pw = b"alloc gate";
    block_on(async {
        let store: Arc<dyn Backend> = Arc::new(LocalBackend::new(store_dir.path()).unwrap());
        let init = InitOptions::default().kdf(KdfParams::insecure_for_tests());
        let repo = Repository::init(store.clone(), pw, init).await.unwrap();
        backup(&repo, &paths, &opts, Arc::new(NoProgress))
            .await
            .unwrap();
        drop(repo);

        let repo = Repository::open(store, pw).await.unwrap();
        let before = counters();
        let done = backup(&repo, &paths, &opts, Arc::new(NoProgress)).await;
        let after = counters();
        assert_eq!(done.unwrap().snapshot.summary.files_unchanged, FILES);
        let allocs = (after.0 - before.0) as f64 / FILES as f64;
        let bytes = (after.1 - before.1) as f64 / FILES as f64;
        eprintln!(
            "unchanged backup of {FILES} files: {allocs:.1} allocations, {bytes:.0} bytes per file"
        );
        assert!(
            allocs <= ALLOCS_PER_FILE,
            "{allocs:.1} allocations per file"
        );
        assert!(bytes <= BYTES_PER_FILE, "{bytes:.0} bytes per file");
    });
}
