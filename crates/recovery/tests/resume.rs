//! Resume: a restore interrupted at any point, run again with
//! `Overwrite::IfChanged`, ends identical to the snapshot and fetches only
//! what was missing (plus at most one pack's worth of coalesced reads).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use cairn::cas::{BackupOptions, NodeKind, Repository, Snapshot};
use cairn_backends::testing::{Counting, FailAfter};
use cairn_backends::MemoryBackend;
use cairn_recovery::{plan_restore, restore, Overwrite, RestoreOptions};
use common::*;

type Store = Arc<Counting<FailAfter<MemoryBackend>>>;

const PACK: u64 = 1 << 20;

fn make_source(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for i in 0..10u64 {
        let at = if i % 2 == 0 {
            dir.join(format!("big-{i}"))
        } else {
            dir.join(format!("sub/big-{i}"))
        };
        std::fs::write(at, random_bytes(100 + i, 700_000 + 1000 * i as usize)).unwrap();
    }
    for i in 0..40u64 {
        std::fs::write(dir.join(format!("small-{i}")), random_bytes(200 + i, 3000)).unwrap();
    }
}

/// Sealed bytes of the distinct blobs whose plaintext is not where the
/// snapshot puts it in the target, found by comparing with the source bytes
/// (not with chunk ids, which is what the restore uses).
fn missing_bytes(
    repo: &Repository,
    plan: &cairn_recovery::RestorePlan,
    src: &Path,
    base: &Path,
) -> u64 {
    let index = repo.index();
    let mut seen = HashSet::new();
    let mut missing = 0;
    for f in &plan.files {
        let NodeKind::File { chunks } = &f.node.kind else {
            continue;
        };
        let rel = f.path.strip_prefix(base).unwrap();
        let want = std::fs::read(src.join(rel)).unwrap();
        let have = std::fs::read(&f.path).unwrap_or_default();
        let mut off = 0usize;
        for c in chunks {
            let loc = index.get(c).unwrap();
            let end = off + loc.entry.raw_length as usize;
            if have.get(off..end) != Some(&want[off..end]) && seen.insert(*c) {
                missing += u64::from(loc.entry.length);
            }
            off = end;
        }
    }
    missing
}

#[test]
fn an_interrupted_restore_resumes_fetching_only_what_is_missing() {
    futures::executor::block_on(async {
        let src_dir = tempfile::tempdir().unwrap();
        let src = src_dir.path().join("src");
        make_source(&src);
        let store: Store = Arc::new(Counting::new(FailAfter::new(
            MemoryBackend::new(),
            u64::MAX,
        )));
        let repo = init(store.clone()).await;
        let snap: Snapshot = backup_dir(&repo, &src, &BackupOptions::default())
            .await
            .snapshot;

        // A full restore: its operations and bytes.
        let full_target = tempfile::tempdir().unwrap();
        let opts = RestoreOptions::new(full_target.path()).concurrency(1);
        let plan = plan_restore(&repo, &snap, &opts).await.unwrap();
        assert!(plan.packs.len() >= 5, "{} packs", plan.packs.len());
        store.reset();
        store.inner().reset(u64::MAX);
        restore(&repo, &plan, &opts, Arc::new(cairn_recovery::NoProgress))
            .await
            .unwrap();
        let (ops, full) = (store.inner().ops(), store.snapshot().bytes_got);

        for n in [1, ops / 3, ops / 2, ops - 1] {
            let target = tempfile::tempdir().unwrap();
            let base = restored(target.path(), &src);
            let opts = RestoreOptions::new(target.path()).concurrency(1);
            store.inner().heal();
            let plan = plan_restore(&repo, &snap, &opts).await.unwrap();
            store.inner().reset(n);
            let first = restore(&repo, &plan, &opts, Arc::new(cairn_recovery::NoProgress)).await;
            assert!(
                first.is_err(),
                "n={n}: the restore should have been cut short"
            );
            store.inner().heal();

            let opts = opts.overwrite(Overwrite::IfChanged);
            let plan = plan_restore(&repo, &snap, &opts).await.unwrap();
            let missing = missing_bytes(&repo, &plan, &src, &base);
            store.reset();
            let again = restore(&repo, &plan, &opts, Arc::new(cairn_recovery::NoProgress))
                .await
                .unwrap();
            assert_same_tree(&src, &base);
            let fetched = store.snapshot().bytes_got;
            eprintln!("n={n}/{ops}: missing {missing}, fetched again {fetched}, full {full}");
            assert_eq!(fetched, again.bytes_fetched);
            assert!(
                fetched <= missing + PACK,
                "n={n}: fetched {fetched} again, {missing} were missing"
            );
            if n > 1 {
                assert!(
                    fetched < full,
                    "n={n}: fetched {fetched} of {full}: nothing resumed"
                );
            }
            // And once more: nothing left to fetch.
            let plan = plan_restore(&repo, &snap, &opts).await.unwrap();
            assert_eq!(plan.fetch_bytes(), 0, "n={n}");
            assert_eq!(plan.diff().changed + plan.diff().new, 0, "n={n}");
        }
    });
}
