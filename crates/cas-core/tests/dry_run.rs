//! `BackupOptions::dry_run`: the summary of a real backup, with nothing written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use cairn::cas::{backup, BackupOptions, InitOptions, NoProgress, Repository};
use cairn_backends::testing::{pattern, Counting};
use cairn_backends::{Backend, MemoryBackend};
use cairn_crypto::KdfParams;
use futures::TryStreamExt;

async fn object_count(b: &dyn Backend) -> usize {
    b.list("").try_collect::<Vec<_>>().await.unwrap().len()
}

#[test]
fn dry_run_reports_like_a_backup_and_writes_no_object() {
    let src = tempfile::tempdir().unwrap();
    for i in 0..4u64 {
        std::fs::write(src.path().join(format!("f{i}")), pattern(i, 200_000)).unwrap();
    }
    let paths = [src.path().to_owned()];
    futures::executor::block_on(async {
        let store = Arc::new(Counting::new(MemoryBackend::new()));
        let repo = Repository::init(
            store.clone(),
            b"pw",
            InitOptions::default().kdf(KdfParams::insecure_for_tests()),
        )
        .await
        .unwrap();
        let dry = BackupOptions::default().dry_run(true);

        // Into an empty repository: everything would be new.
        let before = object_count(&*store).await;
        store.reset();
        let r = backup(&repo, &paths, &dry, Arc::new(NoProgress))
            .await
            .unwrap();
        let s = &r.snapshot.summary;
        assert!(r.snapshot_id.is_none());
        assert_eq!((s.files_new, s.files_changed, s.files_unchanged), (4, 0, 0));
        assert_eq!(s.bytes_read, 800_000);
        assert!(s.bytes_added_raw >= 800_000 && s.packs_added >= 1, "{s:?}");
        assert_eq!(store.put_keys(), Vec::<String>::new());
        assert_eq!(object_count(&*store).await, before);
        assert!(repo.snapshots().await.unwrap().is_empty());

        // After a real backup, one changed file: the dry run sees it against the parent.
        let real = backup(
            &repo,
            &paths,
            &BackupOptions::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        assert_eq!(real.snapshot.summary.files_new, 4);
        std::fs::write(src.path().join("f1"), pattern(99, 200_000)).unwrap();
        std::fs::write(src.path().join("g"), b"new file").unwrap();
        let before = object_count(&*store).await;
        store.reset();
        let r = backup(&repo, &paths, &dry, Arc::new(NoProgress))
            .await
            .unwrap();
        let s = &r.snapshot.summary;
        assert_eq!((s.files_new, s.files_changed, s.files_unchanged), (1, 1, 3));
        assert_eq!(s.bytes_read, 200_000 + 8);
        assert_eq!(store.put_keys(), Vec::<String>::new());
        assert_eq!(object_count(&*store).await, before);
        assert_eq!(repo.snapshots().await.unwrap().len(), 1);
    });
}
