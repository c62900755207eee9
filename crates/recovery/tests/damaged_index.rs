//! A damaged index object: the repository opens, `check` names the object,
//! and a restore writes every file whose blobs are still indexed, naming a
//! missing blob for the others.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use bytes::Bytes;
use cairn::cas::{BackupOptions, Repository};
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_recovery::{check, CheckOptions, Error, RestoreOptions};

use common::*;

#[test]
fn check_names_a_damaged_index_object_and_restore_writes_the_rest() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let repo = init(store.clone()).await;
        let src = tempfile::tempdir().unwrap();
        let old = random_bytes(1, 50_000);
        let new = random_bytes(2, 40_000);
        std::fs::write(src.path().join("old"), &old).unwrap();
        backup_dir(&repo, src.path(), &BackupOptions::default()).await;
        let first = keys_under(&*store, "index/").await;
        // The second backup dedups `old` against the first one's index
        // object, and indexes `new` and the new trees in its own.
        std::fs::write(src.path().join("new"), &new).unwrap();
        let second = backup_dir(&repo, src.path(), &BackupOptions::default()).await;
        assert_eq!(first.len(), 1);
        let mut bytes = store.get(&first[0]).await.unwrap().to_vec();
        bytes[10] ^= 0x80;
        store
            .put(&first[0], Bytes::from(bytes), PutMode::Overwrite)
            .await
            .unwrap();

        let repo = Repository::open(store.clone(), PW).await.unwrap();
        let report = check(&repo, &CheckOptions::default().read_data(1.0))
            .await
            .unwrap();
        assert!(!report.is_ok());
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.to_string().contains(&first[0])),
            "{:?}",
            report.errors
        );

        let target = tempfile::tempdir().unwrap();
        let err = restore_to(&repo, &second.snapshot, &RestoreOptions::new(target.path()))
            .await
            .unwrap_err();
        let back = restored(target.path(), src.path());
        let Error::Incomplete { first, files, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(
            matches!(
                &**first,
                Error::Repository(cairn::cas::Error::MissingBlob { .. })
            ),
            "{first:?}"
        );
        assert_eq!(files, &vec![back.join("old")]);
        assert!(err.to_string().contains("is not in the index"), "{err}");
        assert_eq!(std::fs::read(back.join("new")).unwrap(), new);
    })
}
