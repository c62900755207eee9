//! `sparse`: a mostly empty file restores as a sparse file, taking about the
//! space of its data, with the same bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::Arc;

use cairn::cas::BackupOptions;
use cairn_backends::MemoryBackend;
use cairn_recovery::RestoreOptions;
use common::*;

const SIZE: u64 = 64 << 20;
const DATA: usize = 1 << 20;

#[test]
fn a_sparse_file_restores_taking_about_its_data() {
    futures::executor::block_on(async {
        let src_dir = tempfile::tempdir().unwrap();
        let src = src_dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        let f = std::fs::File::create(src.join("disk.img")).unwrap();
        f.set_len(SIZE).unwrap();
        f.write_all_at(&random_bytes(5, DATA), SIZE / 2).unwrap();
        drop(f);
        let repo = init(Arc::new(MemoryBackend::new())).await;
        let snap = backup_dir(&repo, &src, &BackupOptions::default())
            .await
            .snapshot;

        let mut used = Vec::new();
        for sparse in [false, true] {
            let target = tempfile::tempdir().unwrap();
            let opts = RestoreOptions::new(target.path()).sparse(sparse);
            restore_to(&repo, &snap, &opts).await.unwrap();
            let base = restored(target.path(), &src);
            assert_same_tree(&src, &base);
            used.push(std::fs::metadata(base.join("disk.img")).unwrap().blocks() * 512);
        }
        eprintln!("allocated: dense {} B, sparse {} B", used[0], used[1]);
        assert!(used[0] >= SIZE, "dense restore allocated {}", used[0]);
        // The data, and at most the chunks (2 MiB at most each) on either
        // side of it that mix data and zeros.
        assert!(
            used[1] <= DATA as u64 + (4 << 20),
            "sparse restore allocated {}",
            used[1]
        );
    });
}
