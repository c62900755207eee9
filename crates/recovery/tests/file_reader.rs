//! The seekable file reader: random seeks and reads over random files equal
//! the source bytes (memory backend and a 4+2 erasure layout), a small read
//! in the middle of a big file fetches only the chunks it touches, and a
//! damaged chunk is an error, never data.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn::cas::{BackupOptions, NodeKind, Repository, Snapshot};
use cairn_backends::testing::Counting;
use cairn_backends::{Backend, MemoryBackend};
use cairn_chunking::ChunkerConfig;
use cairn_erasure::{Child, ErasureBackend, ErasureConfig};
use cairn_recovery::{FileReader, ReaderOptions};
use futures::executor::block_on;
use futures::io::{AsyncReadExt, AsyncSeekExt, SeekFrom};
use proptest::prelude::*;

use common::{backup_dir, init_opts, random_bytes};

/// Small chunks (16 KiB min, 64 KiB average) so that files of a few MiB
/// have many boundaries to cross.
fn small_chunks() -> ChunkerConfig {
    ChunkerConfig::new(16 << 10, 64 << 10, 256 << 10).unwrap()
}

fn erasure_4_2() -> Arc<dyn Backend> {
    let children = (0..6)
        .map(|i| Child::new(format!("mem-{i}"), Arc::new(MemoryBackend::new())))
        .collect();
    Arc::new(ErasureBackend::new(children, ErasureConfig::new(4, 2)).unwrap())
}

/// A repository on `store` holding one snapshot of a directory with the
/// file `data`, and the file's path in the snapshot.
async fn one_file(
    store: Arc<dyn Backend>,
    chunker: ChunkerConfig,
    data: &[u8],
) -> (Arc<Repository>, Snapshot, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file.bin");
    std::fs::write(&path, data).unwrap();
    let repo = Repository::init(store, common::PW, init_opts().chunker(chunker))
        .await
        .unwrap();
    let done = backup_dir(&repo, dir.path(), &BackupOptions::default()).await;
    (Arc::new(repo), done.snapshot, path, dir)
}

/// Where each chunk of the file at `path` starts, from the index.
async fn boundaries(repo: &Repository, snap: &Snapshot, path: &Path) -> Vec<u64> {
    let node = cairn_recovery::node_at(repo, snap.tree, path)
        .await
        .unwrap()
        .unwrap();
    let NodeKind::File { chunks } = node.kind else {
        panic!("not a file")
    };
    let mut at = 0;
    let mut out = Vec::new();
    for loc in repo.locate(&chunks) {
        out.push(at);
        at += u64::from(loc.unwrap().entry.raw_length);
    }
    out
}

/// Reads `len` bytes at `pos` through `r`, as `read_exact` would but
/// stopping at the end of the file.
async fn read_at(r: &mut FileReader, pos: SeekFrom, len: usize) -> (u64, Vec<u8>) {
    let at = r.seek(pos).await.unwrap();
    let mut out = Vec::new();
    (&mut *r)
        .take(len as u64)
        .read_to_end(&mut out)
        .await
        .unwrap();
    (at, out)
}

fn expected(data: &[u8], at: u64, len: usize) -> &[u8] {
    let from = (at as usize).min(data.len());
    &data[from..(from + len).min(data.len())]
}

/// Random seeks (from the start, the end and the current position) and
/// reads, then a read across every chunk boundary, then the whole file
/// sequentially through the blocking adapter.
fn check_reads(store: Arc<dyn Backend>, size: usize, seed: u64, ops: &[(u8, u64, usize)]) {
    let (r, data) = block_on(async {
        let data = random_bytes(seed, size);
        let (repo, snap, path, _dir) = one_file(store, small_chunks(), &data).await;
        let opts = ReaderOptions::default().cache_blobs(3).readahead(2);
        let mut r = FileReader::open_with(repo.clone(), &snap, &path, opts)
            .await
            .unwrap();
        assert_eq!(r.len(), size as u64);
        for &(how, n, len) in ops {
            let pos = match how % 3 {
                0 => SeekFrom::Start(n % (size as u64 + 10)),
                1 => SeekFrom::End(-((n % (size as u64 + 1)) as i64)),
                _ => SeekFrom::Current((n % 200_000) as i64 - 100_000),
            };
            let before = r.seek(SeekFrom::Current(0)).await.unwrap();
            if let SeekFrom::Current(d) = pos {
                if before.checked_add_signed(d).is_none() {
                    continue;
                }
            }
            let (at, got) = read_at(&mut r, pos, len).await;
            assert!(got == expected(&data, at, len), "read {len} at {at}");
        }
        for b in boundaries(&repo, &snap, &path).await {
            let from = b.saturating_sub(3);
            let (at, got) = read_at(&mut r, SeekFrom::Start(from), 7).await;
            assert!(got == expected(&data, at, 7), "across the boundary at {b}");
        }
        (r, data)
    });
    // The blocking adapter runs its own executor: called outside one.
    let mut whole = Vec::new();
    let mut blocking = r.blocking();
    blocking.rewind().unwrap();
    blocking.read_to_end(&mut whole).unwrap();
    assert!(whole == data, "the whole file");
}

fn sizes() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0usize),
        Just(1),
        // Around the chunker's minimum and maximum.
        Just((16 << 10) - 1),
        Just(16 << 10),
        Just((16 << 10) + 1),
        Just(256 << 10),
        Just((256 << 10) + 1),
        0usize..4 << 20,
        0usize..=50 << 20,
    ]
}

fn ops() -> impl Strategy<Value = Vec<(u8, u64, usize)>> {
    prop::collection::vec((any::<u8>(), any::<u64>(), 0usize..300_000), 1..24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn random_reads_equal_the_source_in_memory(size in sizes(), seed in any::<u64>(), ops in ops()) {
        check_reads(Arc::new(MemoryBackend::new()), size, seed, &ops);
    }

    #[test]
    fn random_reads_equal_the_source_over_4_2(size in sizes(), seed in any::<u64>(), ops in ops()) {
        check_reads(erasure_4_2(), size, seed, &ops);
    }
}

/// The byte at `pos` of [`sparse_numbered`]'s file.
fn numbered_byte(pos: u64) -> u8 {
    let in_block = (pos % (64 << 10)) as usize;
    (pos / (64 << 10))
        .to_le_bytes()
        .get(in_block)
        .copied()
        .unwrap_or(0)
}

/// A sparse file of `size` bytes (a few MiB on disk) that compresses well,
/// so a big one is written and stored fast and small, but whose chunks all
/// differ: each 64 KiB block starts with its number, the rest is a hole.
fn sparse_numbered(path: &Path, size: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::create(path).unwrap();
    f.set_len(size).unwrap();
    for block in 0..size / (64 << 10) {
        f.write_all_at(&block.to_le_bytes(), block * (64 << 10))
            .unwrap();
    }
}

/// 4 KiB in the middle of a 1 GiB file (the default chunker) fetches one or
/// two chunks: at most two ranged reads, and no more bytes than the two
/// largest sealed blobs of the file. Whatever the file's size, a read no
/// longer than the minimum chunk (128 KiB) cannot touch a third chunk.
#[test]
fn a_small_read_in_the_middle_of_1_gib_fetches_at_most_two_chunks() {
    block_on(async {
        let size: u64 = 1 << 30;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.img");
        sparse_numbered(&path, size);
        let counting = Arc::new(Counting::new(MemoryBackend::new()));
        let repo = Repository::init(counting.clone(), common::PW, init_opts())
            .await
            .unwrap();
        let snap = backup_dir(&repo, dir.path(), &BackupOptions::default())
            .await
            .snapshot;
        let repo = Arc::new(repo);
        let chunks = boundaries(&repo, &snap, &path).await;
        assert!(chunks.len() > 100, "{} chunks", chunks.len());
        let node = cairn_recovery::node_at(&repo, snap.tree, &path)
            .await
            .unwrap()
            .unwrap();
        let NodeKind::File { chunks: ids } = &node.kind else {
            panic!()
        };
        let mut sealed: Vec<u64> = repo
            .locate(ids)
            .iter()
            .map(|l| u64::from(l.unwrap().entry.length))
            .collect();
        sealed.sort_unstable();
        let two_largest: u64 = sealed.iter().rev().take(2).sum();

        // Straddling a boundary in the middle, and inside one chunk.
        let mid = chunks[chunks.len() / 2];
        for at in [mid - 2048, mid + 10_000] {
            let mut r = FileReader::open(repo.clone(), &snap, &path).await.unwrap();
            counting.reset();
            let (_, got) = read_at(&mut r, SeekFrom::Start(at), 4096).await;
            let want: Vec<u8> = (at..at + 4096).map(numbered_byte).collect();
            assert!(got == want, "4 KiB at {at}");
            let c = counting.snapshot();
            assert!(c.get_ranges <= 2, "{c:?}");
            assert!(c.bytes_got <= two_largest, "{c:?} vs {two_largest}");
            assert_eq!(c.gets + c.lists, 0, "{c:?}");
        }
    });
}

/// Sequential reads are served from read-ahead: reading a file of many
/// chunks front to back takes fewer requests than it has chunks, and a
/// second read of a cached chunk fetches nothing.
#[test]
fn sequential_reads_fetch_ahead_and_cached_chunks_are_not_fetched_again() {
    block_on(async {
        let data = random_bytes(3, 3 << 20);
        let counting = Arc::new(Counting::new(MemoryBackend::new()));
        let (repo, snap, path, _dir) = one_file(counting.clone(), small_chunks(), &data).await;
        let n = boundaries(&repo, &snap, &path).await.len() as u64;
        let opts = ReaderOptions::default().cache_blobs(8).readahead(4);
        let mut r = FileReader::open_with(repo, &snap, &path, opts)
            .await
            .unwrap();
        counting.reset();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 8 << 10];
        loop {
            let k = r.read(&mut buf).await.unwrap();
            if k == 0 {
                break;
            }
            out.extend_from_slice(&buf[..k]);
        }
        assert!(out == data);
        let c = counting.snapshot();
        assert!(c.get_ranges < n, "{} requests for {n} chunks", c.get_ranges);

        let (_, _) = read_at(&mut r, SeekFrom::End(-100), 100).await;
        counting.reset();
        let (at, got) = read_at(&mut r, SeekFrom::End(-50), 50).await;
        assert!(got == expected(&data, at, 50));
        assert_eq!(counting.snapshot().get_ranges, 0);
    });
}

/// A flipped byte in the pack holding a chunk fails the read with an
/// `InvalidData` error carrying the repository's error, not wrong bytes.
#[test]
fn a_corrupt_chunk_is_an_error_not_data() {
    block_on(async {
        let data = random_bytes(9, 200_000);
        let store = Arc::new(MemoryBackend::new());
        let (repo, snap, path, _dir) = one_file(store.clone(), small_chunks(), &data).await;
        let mut r = FileReader::open(repo.clone(), &snap, &path).await.unwrap();
        let node = r.node().clone();
        let NodeKind::File { chunks } = &node.kind else {
            panic!()
        };
        let loc = repo.locate(&chunks[1..2])[0].unwrap();
        let key = loc.pack.key();
        let mut bytes = store.get(&key).await.unwrap().to_vec();
        bytes[loc.entry.offset as usize + 20] ^= 1;
        store.delete(&key).await.unwrap();
        store
            .put(&key, bytes.into(), cairn_backends::PutMode::CreateOnly)
            .await
            .unwrap();
        let at = boundaries(&repo, &snap, &path).await[1];
        r.seek(SeekFrom::Start(at)).await.unwrap();
        let mut buf = [0u8; 16];
        let e = r.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
        assert!(e.to_string().contains(&key), "{e}");
    });
}

/// Opening a directory or a missing path is a typed error naming it.
#[test]
fn a_directory_or_missing_path_is_a_typed_error() {
    block_on(async {
        let (repo, snap, path, dir) =
            one_file(Arc::new(MemoryBackend::new()), small_chunks(), b"x").await;
        let e = FileReader::open(repo.clone(), &snap, dir.path())
            .await
            .unwrap_err();
        assert!(matches!(e, cairn_recovery::Error::NotAFile { .. }), "{e}");
        let missing = path.with_file_name("nope");
        let e = FileReader::open(repo.clone(), &snap, &missing)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, cairn_recovery::Error::NotInSnapshot { path } if *path == missing),
            "{e}"
        );
        let up = dir.path().join("..").join("x");
        let e = FileReader::open(repo, &snap, &up).await.unwrap_err();
        assert!(
            matches!(e, cairn_recovery::Error::NotInSnapshot { .. }),
            "{e}"
        );
    });
}
