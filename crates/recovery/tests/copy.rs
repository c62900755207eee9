//! Copying snapshots between repositories with different keys: every copy
//! restores identical, copying again sends nothing, and different chunker
//! parameters re-chunk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use cairn::cas::copy::{copy, CopyOptions};
use cairn::cas::{BackupOptions, Repository};
use cairn_backends::MemoryBackend;
use cairn_chunking::ChunkerConfig;
use cairn_recovery::RestoreOptions;
use common::*;
use futures::executor::block_on;

/// The files of version `version`, by relative path.
fn contents(version: u64) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("big.bin", random_bytes(1, 3_000_000)),
        ("small", format!("version {version}").into_bytes()),
        ("sub/v", random_bytes(100 + version, 400_000)),
    ]
}

fn assert_contents(dir: &Path, version: u64) {
    for (name, want) in contents(version) {
        assert!(
            std::fs::read(dir.join(name)).unwrap() == want,
            "{name} of version {version}"
        );
    }
}

fn make_tree(dir: &Path, version: u64) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("big.bin"), random_bytes(1, 3_000_000)).unwrap();
    std::fs::write(dir.join("sub/v"), random_bytes(100 + version, 400_000)).unwrap();
    std::fs::write(dir.join("small"), format!("version {version}")).unwrap();
}

async fn restores_identical(repo: &Repository, snap: &cairn::cas::Snapshot, want: &Path) {
    let target = tempfile::tempdir().unwrap();
    restore_to(repo, snap, &RestoreOptions::new(target.path()))
        .await
        .unwrap();
    assert_same_tree(want, &restored(target.path(), want));
}

#[test]
fn copies_restore_identical_and_copying_again_sends_nothing() {
    block_on(async {
        let src = tempfile::tempdir().unwrap();
        let source = init(Arc::new(MemoryBackend::new())).await;
        let opts = BackupOptions::default().host("copy-test");
        for v in 0..2 {
            make_tree(src.path(), v);
            backup_dir(&source, src.path(), &opts).await;
        }
        let target = Repository::init(
            Arc::new(MemoryBackend::new()),
            b"another password",
            init_opts(),
        )
        .await
        .unwrap();

        let r = copy(&source, &target, &CopyOptions::new()).await.unwrap();
        assert_eq!(r.copied.len(), 2, "{r:?}");
        assert!(!r.rechunked);
        // The second version shares big.bin and the directory layout.
        assert!(r.blobs_reused > 0, "{r:?}");
        let copies = target.snapshots().await.unwrap();
        assert_eq!(copies.len(), 2);
        let originals = source.snapshots().await.unwrap();
        for (i, (_, snap)) in copies.iter().enumerate() {
            let (orig_id, orig) = &originals[i];
            assert_eq!(snap.original.as_deref(), Some(orig_id.as_str()));
            assert_eq!(
                (&snap.time, &snap.hostname, &snap.paths),
                (&orig.time, &orig.hostname, &orig.paths)
            );
            let target_dir = tempfile::tempdir().unwrap();
            restore_to(&target, snap, &RestoreOptions::new(target_dir.path()))
                .await
                .unwrap();
            assert_contents(&restored(target_dir.path(), src.path()), i as u64);
        }

        let again = copy(&source, &target, &CopyOptions::new()).await.unwrap();
        assert!(again.copied.is_empty(), "{again:?}");
        assert_eq!(again.already_copied.len(), 2);
        assert_eq!((again.blobs_sent, again.bytes_sent), (0, 0), "{again:?}");
        assert_eq!(target.snapshots().await.unwrap().len(), 2);
    });
}

#[test]
fn different_chunker_parameters_rechunk_and_restore_identical() {
    block_on(async {
        let src = tempfile::tempdir().unwrap();
        make_tree(src.path(), 7);
        let source = init(Arc::new(MemoryBackend::new())).await;
        let done = backup_dir(&source, src.path(), &BackupOptions::default()).await;
        let small = ChunkerConfig::new(16 << 10, 64 << 10, 256 << 10).unwrap();
        let target = Repository::init(
            Arc::new(MemoryBackend::new()),
            b"pw2",
            init_opts().chunker(small),
        )
        .await
        .unwrap();
        let r = copy(
            &source,
            &target,
            &CopyOptions::new().snapshot(
                done.snapshot_id.unwrap()[..8]
                    .parse::<cairn::cas::IdPrefix>()
                    .unwrap(),
            ),
        )
        .await
        .unwrap();
        assert!(r.rechunked);
        assert_eq!(r.copied.len(), 1);
        let (_, copied) = target.find_snapshot(&Default::default()).await.unwrap();
        restores_identical(&target, &copied, src.path()).await;
        // Smaller chunks: more of them than the source stored.
        assert!(target.index().len() > source.index().len(), "{r:?}");
    });
}
