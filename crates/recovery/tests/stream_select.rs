//! Streams, partial restores and point-in-time selection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use cairn::cas::jiff::Timestamp;
use cairn::cas::{backup_stream, BackupOptions, NoProgress};
use cairn_backends::MemoryBackend;
use cairn_recovery::{plan_restore, verify, Error, RestoreOptions, SnapshotQuery};

use common::*;

#[test]
fn stream_backup_restores_identically() {
    futures::executor::block_on(async {
        let repo = init(Arc::new(MemoryBackend::new())).await;
        let data = random_bytes(42, 5 << 20);
        let reader = futures::io::Cursor::new(data.clone());
        let done = backup_stream(
            &repo,
            reader,
            "db-dump.sql",
            &BackupOptions::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        assert_eq!(done.snapshot.paths, vec!["/db-dump.sql".to_owned()]);
        assert_eq!(done.snapshot.summary.total_bytes, data.len() as u64);

        let target = tempfile::tempdir().unwrap();
        restore_to(&repo, &done.snapshot, &RestoreOptions::new(target.path()))
            .await
            .unwrap();
        let got = std::fs::read(target.path().join("db-dump.sql")).unwrap();
        assert!(got == data, "restored stream differs");
        let entries: Vec<_> = std::fs::read_dir(target.path()).unwrap().collect();
        assert_eq!(entries.len(), 1);

        // Names that would escape the snapshot root are refused.
        for bad in ["", "a/b", "..", "."] {
            let r = backup_stream(
                &repo,
                futures::io::Cursor::new(vec![1u8]),
                bad,
                &BackupOptions::default(),
                Arc::new(NoProgress),
            )
            .await;
            assert!(
                matches!(r, Err(cairn::cas::Error::InvalidOption { .. })),
                "{bad:?}"
            );
        }
    });
}

#[test]
fn include_restores_only_that_subtree() {
    let src = tempfile::tempdir().unwrap();
    let root = src.path();
    std::fs::create_dir_all(root.join("keep/inner")).unwrap();
    std::fs::create_dir_all(root.join("skip/inner")).unwrap();
    std::fs::write(root.join("keep/a"), random_bytes(1, 70_000)).unwrap();
    std::fs::write(root.join("keep/inner/b"), b"b").unwrap();
    std::os::unix::fs::symlink("a", root.join("keep/l")).unwrap();
    std::fs::write(root.join("skip/c"), b"c").unwrap();
    std::fs::write(root.join("skip/inner/d"), b"d").unwrap();
    std::fs::write(root.join("top"), b"top").unwrap();
    // A sibling whose name extends the included one: not included.
    std::fs::write(root.join("keep2"), b"no").unwrap();

    futures::executor::block_on(async {
        let repo = init(Arc::new(MemoryBackend::new())).await;
        let done = backup_dir(&repo, root, &BackupOptions::default()).await;
        let target = tempfile::tempdir().unwrap();
        let keep = root.join("keep");
        let ropts = RestoreOptions::new(target.path()).include(&keep);
        let plan = plan_restore(&repo, &done.snapshot, &ropts).await.unwrap();
        assert_eq!(plan.files.len(), 2);
        assert_eq!(plan.symlinks.len(), 1);
        assert_eq!(plan.total_bytes(), 70_001);
        restore_to(&repo, &done.snapshot, &ropts).await.unwrap();

        let out = restored(target.path(), root);
        assert_same_tree(&keep, &out.join("keep"));
        let mut names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, vec!["keep"], "only the included subtree");
        let report = verify(
            &repo,
            &done.snapshot,
            target.path(),
            std::slice::from_ref(&keep),
        )
        .await
        .unwrap();
        assert!(report.is_ok(), "{:?}", report.mismatches);
        assert_eq!(report.files_checked, 2);

        // An include path that is not in the snapshot is a typed error.
        let missing = root.join("nope");
        let err = plan_restore(
            &repo,
            &done.snapshot,
            &RestoreOptions::new(target.path()).include(&missing),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, Error::NotInSnapshot { path } if *path == missing),
            "{err:?}"
        );
    });
}

#[test]
fn select_snapshot_by_time_host_and_tag() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("f"), b"v1").unwrap();
    futures::executor::block_on(async {
        let repo = init(Arc::new(MemoryBackend::new())).await;
        let mut ids = Vec::new();
        let mut times = Vec::new();
        for (i, (host, tag)) in [("alpha", "daily"), ("beta", "weekly"), ("alpha", "daily")]
            .into_iter()
            .enumerate()
        {
            std::fs::write(src.path().join("f"), format!("version {i}")).unwrap();
            let o = BackupOptions::default().host(host).tag(tag);
            let done = backup_dir(&repo, src.path(), &o).await;
            times.push(done.snapshot.time);
            ids.push(done.snapshot_id.unwrap());
        }
        assert!(times[0] < times[1] && times[1] < times[2], "{times:?}");

        let pick = |f: SnapshotQuery| {
            let repo = &repo;
            async move { repo.find_snapshot(&f).await.map(|(id, _)| id) }
        };
        let f = SnapshotQuery::latest;
        assert_eq!(pick(f()).await.unwrap(), ids[2]);
        assert_eq!(pick(f().as_of(times[1])).await.unwrap(), ids[1]);
        assert_eq!(pick(f().as_of(times[2])).await.unwrap(), ids[2]);
        assert_eq!(pick(f().as_of(times[0])).await.unwrap(), ids[0]);
        assert_eq!(
            pick(f().as_of(times[1]).host("alpha")).await.unwrap(),
            ids[0]
        );
        assert_eq!(pick(f().host("beta")).await.unwrap(), ids[1]);
        assert_eq!(pick(f().tag("daily")).await.unwrap(), ids[2]);
        assert_eq!(pick(f().tag("weekly")).await.unwrap(), ids[1]);
        assert_eq!(
            pick(f().tag("daily").as_of(times[1])).await.unwrap(),
            ids[0]
        );
        let p = src.path().join("f").to_string_lossy().into_owned();
        assert_eq!(pick(f().covering(p)).await.unwrap(), ids[2]);
        // An id (prefix) picks that snapshot, and must meet the rest too.
        assert_eq!(pick(f().id(ids[1])).await.unwrap(), ids[1]);
        let prefix: cairn::cas::IdPrefix = ids[0][..6].parse().unwrap();
        assert_eq!(pick(f().id(prefix).host("alpha")).await.unwrap(), ids[0]);

        let before = Timestamp::from_nanosecond(times[0].as_nanosecond() - 1).unwrap();
        for filter in [
            f().as_of(before),
            f().host("gamma"),
            f().tag("monthly"),
            f().host("beta").tag("daily"),
            f().covering("/elsewhere"),
            f().id(ids[1]).host("alpha"),
        ] {
            let err = pick(filter.clone()).await.unwrap_err();
            assert!(
                matches!(err, cairn::cas::Error::SnapshotNotFound { .. }),
                "{filter:?}: {err:?}"
            );
        }

        // The middle snapshot restores the middle contents.
        let (_, snap) = repo.find_snapshot(&f().as_of(times[1])).await.unwrap();
        let target = tempfile::tempdir().unwrap();
        restore_to(&repo, &snap, &RestoreOptions::new(target.path()))
            .await
            .unwrap();
        let got = std::fs::read(restored(target.path(), &src.path().join("f"))).unwrap();
        assert_eq!(got, b"version 1");
    });
}
