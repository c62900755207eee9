#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A restore of a versioned repository from a healthy 4+2 layout reads file
//! data as ranged slices of the data shards: no data pack is fetched whole
//! or twice, parity gives at most a header, and the bytes fetched are about
//! the bytes the restore asked for (plus one block table per pack), not
//! whole packs.

mod common;

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use cairn::cas::{backup, BackupOptions, InitOptions, NoProgress, Repository};
use cairn_backends::{Backend, MemoryBackend, ObjectMeta, PutMode, Result};
use cairn_crypto::KdfParams;
use cairn_erasure::ErasureBackend;
use cairn_recovery::{plan_restore, restore, RestoreOptions, SnapshotQuery};
use common::{children, config};
use futures::executor::block_on;
use futures::stream::BoxStream;

/// Records every read of a `data/` object: (key, range; `None` = whole).
#[derive(Debug, Default)]
struct Reads(Mutex<Vec<(String, Option<Range<u64>>)>>);

#[derive(Debug)]
struct Recording {
    inner: MemoryBackend,
    reads: Arc<Reads>,
}

impl Recording {
    fn note(&self, key: &str, range: Option<Range<u64>>) {
        if key.starts_with("data/") {
            let mut r = self.reads.0.lock().unwrap();
            r.push((key.to_owned(), range));
        }
    }
}

#[async_trait]
impl Backend for Recording {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        self.inner.put(key, data, mode).await
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        self.note(key, None);
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.note(key, Some(range.clone()));
        self.inner.get_range(key, range).await
    }
    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.inner.stat(key).await
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
}

fn seeded(len: usize, seed: u64) -> Vec<u8> {
    let mut x: u64 = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[test]
fn a_versioned_restore_reads_slices_of_data_shards_only() {
    let reads: Vec<Arc<Reads>> = (0..6).map(|_| Arc::default()).collect();
    let kids = children(
        reads
            .iter()
            .map(|r| {
                Arc::new(Recording {
                    inner: MemoryBackend::new(),
                    reads: Arc::clone(r),
                }) as Arc<dyn Backend>
            })
            .collect(),
    );
    let store: Arc<dyn Backend> = Arc::new(ErasureBackend::new(kids, config(4, 2)).unwrap());
    let src = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    // Eight files of 2 MiB, then two versions with eight 4 KiB writes each:
    // the latest version reads scattered ranges of the older packs.
    let mut files: Vec<Vec<u8>> = (0..8).map(|i| seeded(2 << 20, i + 1)).collect();
    block_on(async {
        let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
        Repository::init(Arc::clone(&store), b"pw", opts)
            .await
            .unwrap();
        let repo = Repository::open(Arc::clone(&store), b"pw").await.unwrap();
        for version in 0..3u64 {
            if version > 0 {
                for (i, f) in files.iter_mut().enumerate() {
                    for w in 0..8u64 {
                        let at = ((i as u64 * 7919 + w * 104_729 + version * 13) % 500) as usize;
                        let patch = seeded(4096, version * 100 + w + i as u64);
                        f[at * 4096..at * 4096 + 4096].copy_from_slice(&patch);
                    }
                }
            }
            for (i, f) in files.iter().enumerate() {
                std::fs::write(src.path().join(format!("f{i}")), f).unwrap();
            }
            let opts = BackupOptions::default().host("t");
            let paths = [src.path().to_owned()];
            backup(&repo, &paths, &opts, Arc::new(NoProgress))
                .await
                .unwrap();
        }
        for r in &reads {
            r.0.lock().unwrap().clear();
        }
        let (_, snap) = repo.find_snapshot(&SnapshotQuery::latest()).await.unwrap();
        // Whole runs, as on an erasure layout one should (short reads are
        // widened to whole shard blocks: see RestoreOptions::max_read).
        let opts = RestoreOptions::new(out.path()).max_read(0);
        let plan = plan_restore(&repo, &snap, &opts).await.unwrap();
        let done = restore(&repo, &plan, &opts, Arc::new(cairn_recovery::NoProgress))
            .await
            .unwrap();
        assert!(done.bytes_fetched > 0);
        let mut per_pack: BTreeMap<String, u64> = BTreeMap::new();
        let mut whole: BTreeMap<String, u64> = BTreeMap::new();
        for (i, r) in reads.iter().enumerate() {
            for (key, range) in r.0.lock().unwrap().iter() {
                let Some(range) = range.clone() else {
                    // Tree packs, which the repository reads whole.
                    *whole.entry(key.clone()).or_default() += 1;
                    continue;
                };
                // Headers (with the block table) may come from any child;
                // blocks of a healthy layout only from data shards.
                let header = range.start == 0 && range.end <= 32 * 1024 + 84;
                assert!(i < 4 || header, "child {i} read {range:?} of {key}");
                *per_pack.entry(key.clone()).or_default() += range.end - range.start;
            }
        }
        for (key, n) in &whole {
            assert!(*n <= 4, "{key} read whole {n} times");
            assert!(
                !per_pack.contains_key(key),
                "{key} read whole and by ranges"
            );
        }
        assert!(!per_pack.is_empty());
        let shard_bytes: u64 = per_pack.values().sum();
        // Block granularity (64 KiB) and one table read per pack (32 KiB
        // plus the header) on top of what the restore asked for.
        let slack = per_pack.len() as u64 * (2 * 4 * 65_536 + 32 * 1024 + 84);
        assert!(
            shard_bytes <= done.bytes_fetched + slack,
            "{shard_bytes} fetched from shards for {} asked",
            done.bytes_fetched
        );
        eprintln!(
            "restore asked {} bytes of {} packs; shards gave {shard_bytes}",
            done.bytes_fetched,
            per_pack.len()
        );
    });
    let rel = src.path().strip_prefix("/").unwrap();
    for (i, f) in files.iter().enumerate() {
        let got = std::fs::read(out.path().join(rel).join(format!("f{i}"))).unwrap();
        assert!(got == *f, "file {i} differs");
    }
}
