//! A repository on six local directories striped 4+2 by `ErasureBackend`:
//! losing any two directories loses nothing, losing three fails with an
//! error naming the object and the shard counts, and a repairing scrub
//! rebuilds directories that came back empty.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn::cas::{backup, BackupOptions, NoProgress, Repository, Snapshot};
use cairn_backends::{Backend, LocalBackend};
use cairn_erasure::{Child, ErasureBackend, ErasureConfig, Labels, ScrubOptions};
use cairn_recovery::{check, plan_restore, restore, verify, CheckOptions, RestoreOptions};
use common::{assert_same_content, init_opts, restored};
use futures::executor::block_on;

const PW: &[u8] = b"erasure test password";

/// Six directories, two per "site": a 4+2 code with at most two shards per
/// site survives the loss of a whole site.
fn site(i: usize) -> String {
    format!("site-{}", i / 2)
}

/// A 4+2 `ErasureBackend` over `dirs` (created if missing, as
/// `LocalBackend::new` does). The directories in `vanished` are then removed
/// again, so their children point at a root that no longer exists: a disk
/// that went away, not one replaced by an empty one.
fn erasure(dirs: &[PathBuf], vanished: &[usize]) -> Arc<ErasureBackend> {
    let children = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Child::new(
                d.display().to_string(),
                Arc::new(LocalBackend::new(d).unwrap()),
            )
            .with_labels(Labels::new().region(site(i)))
        })
        .collect();
    let store =
        ErasureBackend::new(children, ErasureConfig::new(4, 2).max_shards_per_region(2)).unwrap();
    for &i in vanished {
        std::fs::remove_dir_all(&dirs[i]).unwrap();
    }
    Arc::new(store)
}

/// A tree worth restoring: a multi-MiB file, small files (one empty), a
/// nested directory, an empty directory and a symlink.
fn make_tree(root: &Path, seed: u64, big: usize) {
    let pattern = cairn_backends::testing::pattern;
    std::fs::create_dir_all(root.join("docs/nested/deeper")).unwrap();
    std::fs::create_dir_all(root.join("empty-dir")).unwrap();
    std::fs::write(root.join("big.bin"), pattern(seed, big)).unwrap();
    for i in 0..12u64 {
        let len = (i as usize * 397) % 5000;
        std::fs::write(
            root.join(format!("docs/note-{i}.txt")),
            pattern(seed + i + 1, len),
        )
        .unwrap();
    }
    std::fs::write(
        root.join("docs/nested/deeper/mid.bin"),
        pattern(seed + 100, 300_000),
    )
    .unwrap();
    std::os::unix::fs::symlink("docs/note-3.txt", root.join("link")).unwrap();
}

async fn restore_into(
    repo: &Repository,
    snap: &Snapshot,
    target: &Path,
) -> cairn_recovery::Result<()> {
    let opts = RestoreOptions::new(target);
    let plan = plan_restore(repo, snap, &opts).await?;
    restore(repo, &plan, &opts, Arc::new(cairn_recovery::NoProgress)).await?;
    Ok(())
}

/// Restores `snap` into a fresh directory and checks it against `src`, both
/// with `verify` and byte by byte.
async fn assert_restores(repo: &Repository, snap: &Snapshot, src: &Path) {
    let target = tempfile::tempdir().unwrap();
    restore_into(repo, snap, target.path()).await.unwrap();
    let report = verify(repo, snap, target.path(), &[]).await.unwrap();
    assert!(report.is_ok(), "verify: {:?}", report.mismatches);
    assert!(report.files_checked > 10);
    assert_same_content(src, &restored(target.path(), src));
}

/// The backend error at the bottom of a recovery error.
fn backend_error(e: &cairn_recovery::Error) -> Option<&cairn_backends::Error> {
    match e {
        cairn_recovery::Error::Repository(cairn::cas::Error::Backend(b)) => Some(b),
        cairn_recovery::Error::Incomplete { first, .. } => backend_error(first),
        _ => None,
    }
}

/// Asserts `e` is the erasure layer's "not enough shards" for an object
/// under `prefix`, with 3 of the 4 shards needed.
fn assert_not_enough_shards(e: &cairn_backends::Error, prefix: &str) {
    let cairn_backends::Error::Wrapped {
        key,
        transient,
        source,
    } = e
    else {
        panic!("expected an erasure error through the backend, got {e:?}");
    };
    assert!(key.starts_with(prefix), "error names {key:?}: {e}");
    assert!(!transient, "losing shards is not transient: {e}");
    // The erasure layer's typed error, kept whole.
    let typed = source.downcast_ref::<cairn_erasure::Error>();
    assert!(
        matches!(typed, Some(cairn_erasure::Error::NotEnoughShards { key: k, have: 3, need: 4 }) if k == key),
        "{e:?}"
    );
}

#[test]
fn six_directories_survive_losing_any_two_and_scrub_rebuilds() {
    block_on(async {
        let base = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (0..6)
            .map(|i| base.path().join(format!("disk{i}")))
            .collect();
        let src = base.path().join("src");
        make_tree(&src, 1, 3 << 20);

        let repo = Repository::init(erasure(&dirs, &[]), PW, init_opts())
            .await
            .unwrap();
        let done = backup(
            &repo,
            std::slice::from_ref(&src),
            &BackupOptions::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        assert_eq!(done.snapshot.summary.files_new, 14);
        let snap = done.snapshot;
        // Every object has one shard on every directory.
        let objects = {
            let disk0 = LocalBackend::new(&dirs[0]).unwrap();
            let keys: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(disk0.list(""))
                .await
                .unwrap();
            keys.len() as u64
        };
        assert!(
            objects >= 6,
            "config, key, index, snapshot and packs: {objects}"
        );

        // A whole site (two directories) disappears; the repository opens
        // and restores from the four left.
        std::fs::remove_dir_all(&dirs[2]).unwrap();
        std::fs::remove_dir_all(&dirs[3]).unwrap();
        let degraded = Repository::open(erasure(&dirs, &[2, 3]), PW).await.unwrap();
        assert_restores(&degraded, &snap, &src).await;

        // A third directory goes (kept aside, to come back later): now every
        // object has only three shards of the four needed.
        let aside = base.path().join("disk0-aside");
        std::fs::rename(&dirs[0], &aside).unwrap();
        let e = Repository::open(erasure(&dirs, &[0, 2, 3]), PW)
            .await
            .unwrap_err();
        let cairn::cas::Error::Backend(b) = &e else {
            panic!("expected a backend error, got {e:?}");
        };
        assert_not_enough_shards(b, "config");
        assert_eq!(b.key(), "config");
        // A repository opened before the loss fails its restore the same
        // way, naming the pack.
        let target = tempfile::tempdir().unwrap();
        let e = restore_into(&degraded, &snap, target.path())
            .await
            .unwrap_err();
        let b = backend_error(&e).unwrap_or_else(|| panic!("expected a backend error: {e:?}"));
        assert_not_enough_shards(b, "data/");
        assert!(e.to_string().contains(b.key()), "{e}");

        // The third directory comes back; the lost site is replaced by two
        // empty directories, and a repairing scrub rebuilds their shards.
        std::fs::remove_dir_all(&dirs[0]).ok();
        std::fs::rename(&aside, &dirs[0]).unwrap();
        let store = erasure(&dirs, &[]);
        let report = store.scrub(ScrubOptions::new().repair(true)).await.unwrap();
        assert!(report.complete, "{report}");
        assert_eq!(report.objects_scanned, objects, "{report}");
        assert!(report.unrecoverable.is_empty(), "{report}");
        assert!(report.errors.is_empty(), "{report}");
        assert_eq!(report.shards_missing, 2 * objects, "{report}");
        assert_eq!(report.shards_repaired, 2 * objects, "{report}");
        let report = store.scrub(ScrubOptions::new()).await.unwrap();
        assert_eq!(report.objects_healthy, objects, "{report}");
        assert_eq!(report.shards_ok, 6 * objects, "{report}");
        assert_eq!(
            report.shards_missing + report.shards_repaired,
            0,
            "{report}"
        );

        // Two *other* directories (another whole site) go: the rebuilt
        // shards carry the restore.
        std::fs::remove_dir_all(&dirs[4]).unwrap();
        std::fs::remove_dir_all(&dirs[5]).unwrap();
        let repo = Repository::open(erasure(&dirs, &[4, 5]), PW).await.unwrap();
        assert_restores(&repo, &snap, &src).await;
    });
}

#[test]
fn check_passes_over_an_erasure_repository_whole_and_degraded() {
    block_on(async {
        let base = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (0..6)
            .map(|i| base.path().join(format!("disk{i}")))
            .collect();
        let src = base.path().join("src");
        make_tree(&src, 7, 1 << 20);
        let repo = Repository::init(erasure(&dirs, &[]), PW, init_opts())
            .await
            .unwrap();
        backup(
            &repo,
            std::slice::from_ref(&src),
            &BackupOptions::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        // A second snapshot of a changed tree: check walks both.
        std::fs::write(src.join("docs/new.txt"), b"added later").unwrap();
        backup(
            &repo,
            std::slice::from_ref(&src),
            &BackupOptions::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();

        let full = CheckOptions::default().read_data(1.0);
        let report = check(&repo, &full).await.unwrap();
        assert!(report.is_ok(), "{:?}", report.errors);
        assert_eq!(report.snapshots, 2);
        assert!(report.packs >= 2);
        assert_eq!(report.packs_read, report.packs);
        assert_eq!(report.unreferenced_packs, 0);

        // With a data and a parity directory gone, check reads every pack
        // back through reconstruction and still finds nothing wrong.
        std::fs::remove_dir_all(&dirs[1]).unwrap();
        std::fs::remove_dir_all(&dirs[5]).unwrap();
        let degraded = Repository::open(erasure(&dirs, &[1, 5]), PW).await.unwrap();
        let again = check(&degraded, &full).await.unwrap();
        assert!(again.is_ok(), "{:?}", again.errors);
        assert_eq!(again.packs_read, report.packs);
        assert_eq!(again.blobs, report.blobs);
    });
}

/// [`erasure`] with child `down` failing every call (a disk that went away
/// while its directory stays where it was).
fn erasure_with_one_down(dirs: &[PathBuf], down: usize) -> Arc<ErasureBackend> {
    use cairn_backends::testing::FailAfter;
    let children = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let local = LocalBackend::new(d).unwrap();
            let backend: Arc<dyn Backend> = if i == down {
                Arc::new(FailAfter::new(local, 0))
            } else {
                Arc::new(local)
            };
            Child::new(d.display().to_string(), backend).with_labels(Labels::new().region(site(i)))
        })
        .collect();
    Arc::new(
        ErasureBackend::new(children, ErasureConfig::new(4, 2).max_shards_per_region(2)).unwrap(),
    )
}

#[test]
fn backup_with_a_child_down_is_recorded_degraded_then_healed_and_survives_two_other_losses() {
    block_on(async {
        let base = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (0..6)
            .map(|i| base.path().join(format!("disk{i}")))
            .collect();
        let sources: Vec<PathBuf> = (0..2)
            .map(|i| base.path().join(format!("src{i}")))
            .collect();
        for (i, src) in sources.iter().enumerate() {
            make_tree(src, 10 + i as u64, (2 << 20) + i * 1000);
        }
        Repository::init(erasure(&dirs, &[]), PW, init_opts())
            .await
            .unwrap();

        // Disk 1 fails for the two backups: both succeed on five shards,
        // and the lost redundancy is on record in the repository.
        let store = erasure_with_one_down(&dirs, 1);
        let repo = Repository::open(store.clone(), PW).await.unwrap();
        let mut snaps = Vec::new();
        for src in &sources {
            let done = backup(
                &repo,
                std::slice::from_ref(src),
                &BackupOptions::default(),
                Arc::new(NoProgress),
            )
            .await
            .unwrap();
            snaps.push(done.snapshot);
        }
        let degraded = store.degraded().await;
        // Packs, index objects and two snapshots at least.
        assert!(degraded.objects >= 5, "{degraded}");
        assert_eq!(degraded.unreachable_children.len(), 1, "{degraded}");
        assert!(
            degraded.unreachable_children[0].contains("disk1"),
            "{degraded}"
        );
        drop(repo);

        // The disk comes back empty. Another process sees the same record
        // and a repairing scrub rebuilds every shard of disk 1.
        std::fs::remove_dir_all(&dirs[1]).unwrap();
        std::fs::create_dir(&dirs[1]).unwrap();
        let store = erasure(&dirs, &[]);
        assert_eq!(store.degraded().await.objects, degraded.objects);
        let report = store.scrub(ScrubOptions::new().repair(true)).await.unwrap();
        let objects = report.objects_scanned;
        assert!(
            report.errors.is_empty() && report.conflicts.is_empty(),
            "{report}"
        );
        assert_eq!(report.shards_missing, objects, "{report}");
        assert_eq!(report.shards_repaired, objects, "{report}");
        let heal = report.heal.as_ref().unwrap();
        // Every record is settled: healed, or its object deleted since (a
        // backup's session lease is removed when the backup ends).
        assert_eq!(
            heal.healed.len() as u64 + heal.gone,
            degraded.objects,
            "{report}"
        );
        assert_eq!(store.degraded().await.objects, 0);
        let report = store.scrub(ScrubOptions::new()).await.unwrap();
        assert_eq!(report.objects_healthy, objects, "{report}");

        // Two *other* disks lost: every snapshot restores identical, which
        // needs the rebuilt shards of disk 1.
        std::fs::remove_dir_all(&dirs[4]).unwrap();
        std::fs::remove_dir_all(&dirs[5]).unwrap();
        let repo = Repository::open(erasure(&dirs, &[4, 5]), PW).await.unwrap();
        for (snap, src) in snaps.iter().zip(&sources) {
            assert_restores(&repo, snap, src).await;
        }
    });
}
