//! Open cost before and after a prune: a repository after 200 backups
//! (each writing its own index objects, `index_every = 1`) on the local
//! backend and on SeaweedFS; `open` time (median of 11) and the number of
//! index objects it reads, before and after a prune consolidates them.
//!
//! A measurement, so `#[ignore]`d (about a minute):
//! `cargo test -p cairn-recovery --test open_cost -- --ignored --nocapture`
//! (the S3 half starts SeaweedFS through `s3_test_server()`, or skips).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use cairn::cas::prune::{prune, prune_plan, PruneOptions};
use cairn::cas::{BackupOptions, Repository};
use cairn_backends::testing::s3_test_server;
use cairn_backends::{Backend, LocalBackend, ObjectMeta, ObjectStoreBackend, PutMode, S3Config};
use futures::executor::block_on;
use futures::stream::BoxStream;

use common::*;

/// Counts whole-object reads of index objects.
#[derive(Debug)]
struct IndexReads {
    inner: Arc<dyn Backend>,
    reads: AtomicU64,
}

#[async_trait]
impl Backend for IndexReads {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> cairn_backends::Result<()> {
        self.inner.put(key, data, mode).await
    }
    async fn get(&self, key: &str) -> cairn_backends::Result<Bytes> {
        if key.starts_with("index/") {
            self.reads.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> cairn_backends::Result<Bytes> {
        if key.starts_with("index/") {
            self.reads.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.get_range(key, range).await
    }
    async fn stat(&self, key: &str) -> cairn_backends::Result<ObjectMeta> {
        self.inner.stat(key).await
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, cairn_backends::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn delete(&self, key: &str) -> cairn_backends::Result<()> {
        self.inner.delete(key).await
    }
}

/// Version `v`: a few small files, one rewritten per version.
fn write_version(dir: &Path, v: u64) {
    for f in 0..4u64 {
        let generation = if f == v % 4 {
            v
        } else {
            v.saturating_sub(4) / 4 * 4 + f
        };
        std::fs::write(
            dir.join(format!("f{f}")),
            random_bytes(f * 10_000 + generation, 20_000),
        )
        .unwrap();
    }
}

/// (median of 11 open times, index objects read by one open).
async fn measure_open(store: &Arc<IndexReads>) -> (Duration, u64) {
    let mut times = Vec::new();
    let mut reads = 0;
    for _ in 0..11 {
        store.reads.store(0, Ordering::SeqCst);
        let t = Instant::now();
        let repo = Repository::open(store.clone(), PW).await.unwrap();
        times.push(t.elapsed());
        reads = store.reads.load(Ordering::SeqCst);
        drop(repo);
    }
    times.sort();
    (times[5], reads)
}

async fn run(name: &str, inner: Arc<dyn Backend>) -> (u64, u64) {
    let store = Arc::new(IndexReads {
        inner,
        reads: AtomicU64::new(0),
    });
    let repo = init(store.clone()).await;
    let src = tempfile::tempdir().unwrap();
    let mut o = BackupOptions::default().host("open-cost").workers(1);
    o.index_every = 1;
    let t = Instant::now();
    for v in 0..200 {
        write_version(src.path(), v);
        backup_dir(&repo, src.path(), &o).await;
    }
    let backups = t.elapsed();
    let (before, reads_before) = measure_open(&store).await;
    let opts = PruneOptions::default().max_unused_percent(0.0);
    let t = Instant::now();
    let plan = prune_plan(&repo, &opts).await.unwrap();
    let report = prune(&repo, &opts, plan).await.unwrap();
    let pruned = t.elapsed();
    let (after, reads_after) = measure_open(&store).await;
    eprintln!(
        "{name}: 200 backups in {:.1} s; open {:.1} ms reading {reads_before} index objects \
         before prune, {:.1} ms reading {reads_after} after (prune {:.2} s: {} written, {} removed)",
        backups.as_secs_f64(),
        before.as_secs_f64() * 1e3,
        after.as_secs_f64() * 1e3,
        pruned.as_secs_f64(),
        report.index_written,
        report.index_deleted,
    );
    (reads_before, reads_after)
}

#[test]
#[ignore = "a measurement (about a minute): run with --ignored --nocapture"]
fn open_reads_a_handful_of_index_objects_after_a_prune_local_and_s3() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let local = Arc::new(LocalBackend::new(dir.path()).unwrap());
        let (before, after) = run("local", local).await;
        assert!(before >= 25 && after <= 4, "{before} -> {after}");
        let Some(server) = s3_test_server() else {
            return;
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let config = S3Config::new(&server.bucket)
            .with_endpoint(&server.endpoint)
            .with_allow_http(true)
            .with_credentials(&server.key, &server.secret)
            .with_prefix(format!("open-cost-{}-{nanos}", std::process::id()));
        let s3 = Arc::new(ObjectStoreBackend::s3(config).unwrap());
        let (before, after) = run("seaweedfs", s3).await;
        assert!(before >= 25 && after <= 4, "{before} -> {after}");
    });
}
