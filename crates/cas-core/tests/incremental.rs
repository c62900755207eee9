//! Incremental backups: unchanged files are not read, and a small edit to a
//! big file stores only the chunks around it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use cairn::cas::format::read_pack_header;
use cairn::cas::{
    backup, BackupOptions, BackupResult, BlobKind, InitOptions, NoProgress, Repository,
};
use cairn_backends::testing::{pattern, Counting};
use cairn_backends::{Backend, MemoryBackend};
use cairn_crypto::KdfParams;

fn init_opts() -> InitOptions {
    InitOptions::default().kdf(KdfParams::insecure_for_tests())
}

async fn run(repo: &Repository, dir: &Path) -> BackupResult {
    backup(
        repo,
        &[dir.to_owned()],
        &BackupOptions::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap()
}

#[test]
fn unchanged_backup_reads_nothing_and_stores_no_data() {
    let src = tempfile::tempdir().unwrap();
    let mut n = 0;
    for d in ["", "a", "a/b", "c"] {
        let dir = src.path().join(d);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..3u64 {
            std::fs::write(dir.join(format!("f{i}")), pattern(n, 50_000 * i as usize)).unwrap();
            n += 1;
        }
    }
    std::os::unix::fs::symlink("a/b/f1", src.path().join("link")).unwrap();

    futures::executor::block_on(async {
        let store = Arc::new(Counting::new(MemoryBackend::new()));
        let repo = Repository::init(store.clone(), b"pw", init_opts().pack_size(1 << 20))
            .await
            .unwrap();
        let first = run(&repo, src.path()).await;
        assert_eq!(first.snapshot.summary.files_new, n);
        assert!(first.snapshot.summary.bytes_read > 0);

        store.reset();
        let second = run(&repo, src.path()).await;
        let s = &second.snapshot.summary;
        assert_eq!(second.snapshot.parent, first.snapshot_id);
        assert_eq!(s.bytes_read, 0, "{s:?}");
        assert_eq!(s.files_unchanged, n, "{s:?}");
        assert_eq!((s.files_new, s.files_changed, s.errors), (0, 0, 0));
        assert_eq!(s.total_bytes, first.snapshot.summary.total_bytes);
        // Only the root tree may differ (its entry for /tmp has /tmp's mtime,
        // which other processes change); every directory below is identical.
        assert!(s.blobs_added <= 1, "{s:?}");
        assert!(s.packs_added <= 1, "{s:?}");
        assert_eq!(
            second.snapshot.tree == first.snapshot.tree,
            s.blobs_added == 0
        );
        // No pack put holds file contents.
        for key in store.put_keys().iter().filter(|k| k.starts_with("data/")) {
            let bytes = store.inner().get(key).await.unwrap();
            let entries = read_pack_header(&repo.keys(), key, &bytes).unwrap();
            assert!(
                entries.iter().all(|e| e.kind == BlobKind::Tree),
                "{key} holds data blobs"
            );
        }
        // Only the parent's trees were read back, no file contents.
        assert!(
            store.snapshot().bytes_got < 64 << 10,
            "{:?}",
            store.snapshot()
        );
    });
}

#[test]
fn one_byte_changed_in_100_mib_adds_a_few_chunks() {
    const SIZE: u64 = 100 << 20;
    let src = tempfile::tempdir().unwrap();
    let path = src.path().join("big.img");
    {
        let f = std::fs::File::create(&path).unwrap();
        for i in 0..SIZE >> 20 {
            f.write_all_at(&pattern(9_000 + i, 1 << 20), i << 20)
                .unwrap();
        }
    }

    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let repo = Repository::init(store.clone(), b"pw", init_opts())
            .await
            .unwrap();
        let max_chunk = u64::from(repo.chunker().max_size());
        let first = run(&repo, src.path()).await;
        assert_eq!(first.snapshot.summary.bytes_read, SIZE);

        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let mut byte = [0u8];
        f.read_exact_at(&mut byte, SIZE / 2 + 12_345).unwrap();
        f.write_all_at(&[byte[0] ^ 0xff], SIZE / 2 + 12_345)
            .unwrap();
        drop(f);

        let second = run(&repo, src.path()).await;
        let s = &second.snapshot.summary;
        assert_eq!(s.files_changed, 1, "{s:?}");
        assert_eq!(s.bytes_read, SIZE, "{s:?}");
        assert!(s.bytes_added_raw > 0, "{s:?}");
        assert!(s.bytes_added_raw <= 3 * max_chunk, "{s:?}");
        assert!(s.bytes_added_stored <= 3 * max_chunk + (64 << 10), "{s:?}");
        assert!(
            s.bytes_added_stored * 20 < first.snapshot.summary.bytes_added_stored,
            "{s:?}"
        );
    });
}
