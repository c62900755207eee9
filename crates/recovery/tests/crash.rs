//! Crash safety: a backup that dies at any backend operation leaves a
//! repository that opens, checks clean, and takes the next backup — which
//! reuses whatever the dead one managed to index.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use cairn::cas::{backup, BackupOptions, BackupSummary, NoProgress, Repository};
use cairn_backends::testing::FailAfter;
use cairn_backends::MemoryBackend;
use cairn_recovery::{check, verify, CheckOptions, RestoreOptions};

use common::*;

type Store = Arc<FailAfter<MemoryBackend>>;

/// About 5 MiB in 8 files: several 1 MiB packs.
fn make_source(dir: &Path) {
    for i in 0..8u64 {
        let len = 200_000 + (i as usize) * 110_000;
        std::fs::write(dir.join(format!("f{i}")), random_bytes(500 + i, len)).unwrap();
    }
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/again"), random_bytes(503, 530_000)).unwrap();
}

/// One compression worker: blobs reach packs in walk order, so the number of
/// packs, and so of backend operations, is the same on every run.
fn options(index_every: usize) -> BackupOptions {
    let mut o = BackupOptions::default().workers(1).host("crash-test");
    o.index_every = index_every;
    o
}

/// Runs `f` on its own thread and fails the test if it does not finish: a
/// hang is a bug we want reported, not a stuck test run.
fn no_hang<T: Send + 'static>(what: String, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(v) => v,
        Err(e) => panic!("{what} did not finish: {e}"),
    }
}

async fn fresh_repo() -> (Store, Repository) {
    let store = Arc::new(FailAfter::new(MemoryBackend::new(), u64::MAX));
    let repo = init(store.clone()).await;
    (store, repo)
}

/// Backup operations of a successful backup, and its summary.
async fn baseline(src: &Path, index_every: usize) -> (u64, BackupSummary) {
    let (store, repo) = fresh_repo().await;
    store.reset(u64::MAX);
    let done = backup(
        &repo,
        &[src.to_owned()],
        &options(index_every),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    (store.ops(), done.snapshot.summary)
}

/// Crash a backup after `n` operations, then recover; returns the second
/// backup's summary.
async fn crash_and_recover(src: &Path, n: u64, index_every: usize, ops: u64) -> BackupSummary {
    let (store, repo) = fresh_repo().await;
    store.reset(n);
    let r = backup(
        &repo,
        &[src.to_owned()],
        &options(index_every),
        Arc::new(NoProgress),
    )
    .await;
    if n < ops {
        let err = r.expect_err("a backup that loses its backend must fail");
        assert!(
            err.to_string().contains("injected"),
            "n={n}: unexpected error {err}"
        );
    } else {
        r.unwrap();
    }
    drop(repo);
    store.heal();

    let repo = Repository::open(store.clone(), PW)
        .await
        .unwrap_or_else(|e| panic!("n={n}: reopen failed: {e}"));
    let report = check(&repo, &CheckOptions::default().read_data(1.0))
        .await
        .unwrap();
    assert!(report.is_ok(), "n={n}: {:?}", report.errors);

    let done = backup(
        &repo,
        &[src.to_owned()],
        &options(index_every),
        Arc::new(NoProgress),
    )
    .await
    .unwrap_or_else(|e| panic!("n={n}: second backup failed: {e}"));
    let target = tempfile::tempdir().unwrap();
    restore_to(&repo, &done.snapshot, &RestoreOptions::new(target.path()))
        .await
        .unwrap();
    assert_same_tree(src, &restored(target.path(), src));
    assert!(verify(&repo, &done.snapshot, target.path(), &[])
        .await
        .unwrap()
        .is_ok());
    let report = check(&repo, &CheckOptions::default()).await.unwrap();
    assert!(report.is_ok(), "n={n}: {:?}", report.errors);
    done.snapshot.summary
}

fn crash_at_every_operation(index_every: usize) {
    let src = tempfile::tempdir().unwrap();
    make_source(src.path());
    let path = src.path().to_owned();
    let (ops, fresh) = futures::executor::block_on(baseline(&path, index_every));
    // The last four operations come after the snapshot record: the checks
    // that no prune declared the session dead and that no end marker was
    // planted for it (a failure there fails the backup, the record stays),
    // the audit journal entry (a failure there is reported in
    // `BackupResult::journal`: the snapshot stands) and the removal of the
    // session lease (a failure there is ignored: the lease only delays
    // pruning). The crashes this test is about are at the
    // operations before them.
    let ops = ops - 4;
    assert!(fresh.packs_added >= 4, "{fresh:?}");
    // A listing, the packs, at least one index object, the snapshot.
    assert!(ops >= fresh.packs_added + 3, "{ops} operations");

    let mut reused = Vec::new();
    for n in 0..ops {
        let p = path.clone();
        let second = no_hang(format!("crash at {n}"), move || {
            futures::executor::block_on(crash_and_recover(&p, n, index_every, ops))
        });
        // Only indexed blobs are reused; the second backup never stores more
        // than a fresh one (give or take a root tree that changed).
        assert!(
            second.bytes_added_raw <= fresh.bytes_added_raw,
            "n={n}: {second:?} vs fresh {fresh:?}"
        );
        reused.push(second.blobs_added < fresh.blobs_added);
        if n + 1 == ops {
            // Only the snapshot record was lost: every blob was indexed.
            assert!(
                second.bytes_added_stored < fresh.bytes_added_stored
                    && second.bytes_read == fresh.bytes_read
                    && second.blobs_added < fresh.blobs_added,
                "n={n}: {second:?} vs fresh {fresh:?}"
            );
        }
    }
    if index_every == 1 {
        // Indexed pack by pack: reuse grows as the crash comes later.
        let points = reused.iter().filter(|r| **r).count();
        assert!(points >= 4, "reuse at {reused:?}");
    }
}

#[test]
fn backup_crashing_at_every_operation_recovers() {
    crash_at_every_operation(8);
}

#[test]
fn backup_indexing_every_pack_crashing_at_every_operation_recovers() {
    crash_at_every_operation(1);
}

#[test]
fn stream_backup_crashing_at_every_operation_fails_cleanly() {
    let data = random_bytes(77, 4 << 20);
    let ops = futures::executor::block_on(async {
        let (store, repo) = fresh_repo().await;
        store.reset(u64::MAX);
        cairn::cas::backup_stream(
            &repo,
            futures::io::Cursor::new(data.clone()),
            "stream.bin",
            &options(1),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        store.ops()
    });
    assert!(ops >= 4, "{ops} operations");
    // The last four operations follow the snapshot record (see above).
    for n in 0..ops - 4 {
        let data = data.clone();
        no_hang(format!("stream crash at {n}"), move || {
            futures::executor::block_on(async {
                let (store, repo) = fresh_repo().await;
                store.reset(n);
                let r = cairn::cas::backup_stream(
                    &repo,
                    futures::io::Cursor::new(data.clone()),
                    "stream.bin",
                    &options(1),
                    Arc::new(NoProgress),
                )
                .await;
                assert!(r.is_err(), "n={n}");
                store.heal();
                let repo = Repository::open(store.clone(), PW).await.unwrap();
                let report = check(&repo, &CheckOptions::default().read_data(1.0))
                    .await
                    .unwrap();
                assert!(report.is_ok(), "n={n}: {:?}", report.errors);
                assert_eq!(report.snapshots, 0);
                let done = cairn::cas::backup_stream(
                    &repo,
                    futures::io::Cursor::new(data.clone()),
                    "stream.bin",
                    &options(1),
                    Arc::new(NoProgress),
                )
                .await
                .unwrap();
                let target = tempfile::tempdir().unwrap();
                restore_to(&repo, &done.snapshot, &RestoreOptions::new(target.path()))
                    .await
                    .unwrap();
                let got = std::fs::read(target.path().join("stream.bin")).unwrap();
                assert!(got == data, "n={n}: restored stream differs");
            })
        });
    }
}

#[test]
fn index_every_pack_makes_an_interrupted_backup_reusable() {
    let src = tempfile::tempdir().unwrap();
    make_source(src.path());
    let path = src.path().to_owned();
    futures::executor::block_on(async {
        let (ops, fresh) = baseline(&path, 1).await;
        assert!(fresh.packs_added >= 4, "{fresh:?}");

        // Die about halfway: after several packs and their index objects.
        let (store, repo) = fresh_repo().await;
        store.reset(ops / 2);
        let r = backup(
            &repo,
            std::slice::from_ref(&path),
            &options(1),
            Arc::new(NoProgress),
        )
        .await;
        assert!(r.is_err());
        store.heal();
        let indexes = keys_under(store.inner(), "index/").await;
        assert!(indexes.len() >= 2, "index objects left: {indexes:?}");
        assert!(keys_under(store.inner(), "snapshots/").await.is_empty());

        let repo = Repository::open(store.clone(), PW).await.unwrap();
        let indexed = repo.index().len();
        assert!(indexed > 0);
        let done = backup(
            &repo,
            std::slice::from_ref(&path),
            &options(1),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        let s = &done.snapshot.summary;
        assert!(
            s.bytes_added_stored < fresh.bytes_added_stored,
            "{s:?} vs fresh {fresh:?}"
        );
        assert!(
            s.blobs_added + indexed as u64 >= fresh.blobs_added,
            "{s:?}, {indexed} indexed"
        );
        assert!(s.blobs_added < fresh.blobs_added, "{s:?} vs {fresh:?}");

        let target = tempfile::tempdir().unwrap();
        restore_to(&repo, &done.snapshot, &RestoreOptions::new(target.path()))
            .await
            .unwrap();
        assert_same_tree(&path, &restored(target.path(), &path));
    });
}

/// A restore whose backend dies at any operation fails with an error (never
/// a panic or a hang) and leaves only verified bytes or holes on disk (or no
/// file at all); once
/// the backend is back, the same plan restores everything.
#[test]
fn restore_failing_at_every_operation_writes_only_verified_data() {
    let src = tempfile::tempdir().unwrap();
    make_source(src.path());
    let path = src.path().to_owned();
    let (store, repo, snapshot, ops) = futures::executor::block_on(async {
        let (store, repo) = fresh_repo().await;
        let done = backup_dir(&repo, &path, &options(8)).await;
        let target = tempfile::tempdir().unwrap();
        let ropts = RestoreOptions::new(target.path());
        let plan = cairn_recovery::plan_restore(&repo, &done.snapshot, &ropts)
            .await
            .unwrap();
        // Count the restore's own operations (planning reads trees).
        store.reset(u64::MAX);
        cairn_recovery::restore(&repo, &plan, &ropts, Arc::new(cairn_recovery::NoProgress))
            .await
            .unwrap();
        let ops = store.ops();
        (store, Arc::new(repo), done.snapshot, ops)
    });
    assert!(ops >= 2, "{ops} operations");
    let sources: Vec<_> = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    for n in 0..ops {
        let (store, repo, snapshot, path, sources) = (
            store.clone(),
            repo.clone(),
            snapshot.clone(),
            path.clone(),
            sources.clone(),
        );
        no_hang(format!("restore crash at {n}"), move || {
            futures::executor::block_on(async {
                let target = tempfile::tempdir().unwrap();
                let ropts = RestoreOptions::new(target.path());
                store.heal();
                let plan = cairn_recovery::plan_restore(&repo, &snapshot, &ropts)
                    .await
                    .unwrap();
                store.reset(n);
                let r = cairn_recovery::restore(
                    &repo,
                    &plan,
                    &ropts,
                    Arc::new(cairn_recovery::NoProgress),
                )
                .await;
                assert!(r.is_err(), "n={n}");
                for s in &sources {
                    let want = std::fs::read(s).unwrap();
                    // A file is created when its first blob arrives: one
                    // whose packs all failed is not there at all.
                    let Ok(got) = std::fs::read(restored(target.path(), s)) else {
                        continue;
                    };
                    assert_eq!(got.len(), want.len());
                    assert!(
                        got.iter().zip(&want).all(|(g, w)| g == w || *g == 0),
                        "n={n}: {s:?} holds bytes that are neither original nor a hole"
                    );
                }
                store.heal();
                cairn_recovery::restore(&repo, &plan, &ropts, Arc::new(cairn_recovery::NoProgress))
                    .await
                    .unwrap();
                assert_same_tree(&path, &restored(target.path(), &path));
            })
        });
    }
}
