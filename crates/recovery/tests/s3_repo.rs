//! Repositories on S3 (the SeaweedFS server `scripts/s3-server` starts):
//! a plain round trip, a 3+3 erasure layout over three buckets and three
//! local directories while the server hangs, and a server restarted in the
//! middle of a backup.
//!
//! Without `CAIRN_S3_ENDPOINT` every test says it is skipped (on stderr) and
//! passes, except under `CI=true`, where it fails. The tests pause and
//! restart the one shared server, so they run one at a time (a static
//! mutex); cargo runs test binaries one after another.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use cairn::cas::{backup, BackupOptions, BackupResult, NoProgress, Repository, Snapshot};
use cairn_backends::{
    Backend, LocalBackend, ObjectMeta, ObjectStoreBackend, PutMode, RetryPolicy, Retrying, S3Config,
};
use cairn_erasure::{
    BreakerState, Child, ErasureBackend, ErasureConfig, HealthConfig, Labels, RetryConfig,
    ScrubOptions,
};
use cairn_recovery::{
    check, plan_restore, restore, verify, CheckOptions, RestoreOptions, RestoreSummary,
};
use common::{assert_same_content, init_opts, restored};
use futures::executor::block_on;
use futures::stream::BoxStream;

const PW: &[u8] = b"s3 test password";

// ---------------------------------------------------------------- server

use cairn_backends::testing::{s3_test_server as server, S3TestServer as Server};

/// A prefix no other test or run uses.
fn unique(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("recovery-{}-{nanos}-{n}/{name}", std::process::id())
}

/// S3 configs for a test, under a prefix of its own.
trait ServerExt {
    fn config(&self, bucket: &str, name: &str) -> S3Config;
}

impl ServerExt for Server {
    fn config(&self, bucket: &str, name: &str) -> S3Config {
        S3Config::new(bucket)
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_credentials(&self.key, &self.secret)
            .with_prefix(unique(name))
    }
}

/// Runs `scripts/s3-server <command>` (it finds our server through
/// `CAIRN_S3_DIR`, inherited).
fn s3_server(command: &str) -> bool {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/s3-server");
    let status = Command::new("bash")
        .arg(script)
        .arg(command)
        .status()
        .unwrap();
    status.success()
}

/// Resumes the server even when the test fails while it is paused.
struct Resume;
impl Drop for Resume {
    fn drop(&mut self) {
        assert!(
            s3_server("resume") || std::thread::panicking(),
            "scripts/s3-server resume failed"
        );
    }
}

/// One test at a time: they pause and restart the shared server.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------- data

/// A multi-MiB file (or `big_files` of them), small files (one empty), a
/// nested directory, an empty directory and a symlink.
fn make_tree(root: &Path, seed: u64, big_files: usize, big: usize) {
    let pattern = cairn_backends::testing::pattern;
    std::fs::create_dir_all(root.join("docs/nested")).unwrap();
    std::fs::create_dir_all(root.join("empty-dir")).unwrap();
    for f in 0..big_files as u64 {
        std::fs::write(
            root.join(format!("big-{f}.bin")),
            pattern(seed * 1000 + f, big),
        )
        .unwrap();
    }
    for i in 0..10u64 {
        let len = (i as usize * 613) % 6000;
        std::fs::write(
            root.join(format!("docs/note-{i}.txt")),
            pattern(seed + i + 1, len),
        )
        .unwrap();
    }
    std::fs::write(
        root.join("docs/nested/mid.bin"),
        pattern(seed + 50, 200_000),
    )
    .unwrap();
    std::os::unix::fs::symlink("docs/note-2.txt", root.join("link")).unwrap();
}

async fn backup_dir(repo: &Repository, src: &Path) -> cairn::cas::Result<BackupResult> {
    backup(
        repo,
        &[src.to_owned()],
        &BackupOptions::default(),
        Arc::new(NoProgress),
    )
    .await
}

/// Restores `snap` into a fresh directory, checks it against `src` with
/// `verify` and byte by byte, and returns the restore's summary.
async fn assert_restores(repo: &Repository, snap: &Snapshot, src: &Path) -> RestoreSummary {
    let target = tempfile::tempdir().unwrap();
    let opts = RestoreOptions::new(target.path());
    let plan = plan_restore(repo, snap, &opts).await.unwrap();
    let summary = restore(repo, &plan, &opts, Arc::new(cairn_recovery::NoProgress))
        .await
        .unwrap();
    let report = verify(repo, snap, target.path(), &[]).await.unwrap();
    assert!(report.is_ok(), "verify: {:?}", report.mismatches);
    assert_same_content(src, &restored(target.path(), src));
    summary
}

async fn assert_checks_clean(repo: &Repository) -> cairn_recovery::CheckReport {
    let report = check(repo, &CheckOptions::default().read_data(1.0))
        .await
        .unwrap();
    assert!(report.is_ok(), "check: {:?}", report.errors);
    assert_eq!(report.packs_read, report.packs);
    report
}

fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-9)
}

// ---------------------------------------------------------------- tests

/// Backs up and restores through `store`; returns (backup, restore) MB/s.
async fn round_trip(store: Arc<dyn Backend>, reopen: Arc<dyn Backend>, src: &Path) -> (f64, f64) {
    let repo = Repository::init(store, PW, init_opts()).await.unwrap();
    let start = Instant::now();
    let done = backup_dir(&repo, src).await.unwrap();
    let backup_time = start.elapsed();
    let bytes = done.snapshot.summary.bytes_read;
    assert!(bytes > 6 << 20, "{bytes}");
    // A second process's view: open afresh, restore, check everything.
    let repo = Repository::open(reopen, PW).await.unwrap();
    let restored = assert_restores(&repo, &done.snapshot, src).await;
    assert_eq!(restored.bytes_written, bytes);
    assert_checks_clean(&repo).await;
    (
        mb_per_s(bytes, backup_time),
        mb_per_s(bytes, restored.duration),
    )
}

#[test]
fn backup_restore_and_check_through_s3() {
    let Some(server) = server() else { return };
    let _serial = serial();
    block_on(async {
        let base = tempfile::tempdir().unwrap();
        let src = base.path().join("src");
        make_tree(&src, 3, 2, 3 << 20);

        let config = server.config(&server.bucket, "plain");
        let s3 = ObjectStoreBackend::s3(config.clone()).unwrap();
        let s3_again = ObjectStoreBackend::s3(config).unwrap();
        let (s3_backup, s3_restore) = round_trip(Arc::new(s3), Arc::new(s3_again), &src).await;

        let local = LocalBackend::new(base.path().join("repo")).unwrap();
        let (l_backup, l_restore) =
            round_trip(Arc::new(local.clone()), Arc::new(local), &src).await;
        eprintln!(
            "figures (6.4 MB, 1 MiB packs): S3 on loopback: backup {s3_backup:.1} MB/s, \
             restore {s3_restore:.1} MB/s; local directory: backup {l_backup:.1} MB/s, \
             restore {l_restore:.1} MB/s"
        );
    });
}

/// Three local directories (children 0-2, so they lead create-only writes)
/// and three buckets (children 3-5), 3+3 with at most three shards per
/// region: either side alone holds every object.
struct Layout {
    children: Vec<Child>,
    dirs: Vec<PathBuf>,
}

impl Layout {
    fn new(server: &Server, base: &Path) -> Layout {
        let mut children = Vec::new();
        let mut dirs = Vec::new();
        for i in 0..3 {
            let dir = base.join(format!("disk{i}"));
            let store = LocalBackend::new(&dir).unwrap();
            dirs.push(dir.clone());
            children.push(
                Child::new(dir.display().to_string(), Arc::new(store))
                    .with_labels(Labels::new().region("local")),
            );
        }
        for i in 1..=3 {
            let bucket = format!("{}-{i}", server.bucket);
            // A hung server must fail listings too (the erasure layer times
            // calls, not listings): a short request timeout, no retries of
            // its own (the erasure layer retries calls).
            let config = server
                .config(&bucket, "erasure")
                .with_timeout(Duration::from_secs(2))
                .with_max_retries(0);
            children.push(
                Child::new(bucket, Arc::new(ObjectStoreBackend::s3(config).unwrap()))
                    .with_labels(Labels::new().region("s3")),
            );
        }
        Layout { children, dirs }
    }

    /// A fresh `ErasureBackend` (fresh health records) over the children.
    fn store(&self, write_quorum: Option<usize>) -> Arc<ErasureBackend> {
        // Short timeouts and a quick breaker, so the hung children cost
        // seconds, not minutes; two attempts ride out a slow call while the
        // server is up.
        let mut retry = RetryConfig::default();
        retry.max_attempts = 2;
        let mut health = HealthConfig::default();
        health.failure_threshold = 2;
        let mut config = ErasureConfig::new(3, 3)
            .max_shards_per_region(3)
            .op_timeout(Some(Duration::from_secs(1)))
            .retry(retry)
            .health(health);
        if let Some(q) = write_quorum {
            config = config.write_quorum(q);
        }
        Arc::new(ErasureBackend::new(self.children.clone(), config).unwrap())
    }
}

/// How many keys the children list.
async fn keys_on(children: &[Child]) -> usize {
    use futures::TryStreamExt;
    let mut n = 0;
    for c in children {
        let keys: Vec<ObjectMeta> = c.backend.list("").try_collect().await.unwrap();
        n += keys.len();
    }
    n
}

/// Waits until the children's listings stop changing; returns how many keys
/// they list then. A hung server still holds the requests its clients
/// gave up on (their bytes sit in its socket buffers): once resumed, it
/// carries out those puts, so shards of writes that failed for lack of a
/// quorum appear late. Scrubbing before they land would leave them for the
/// next scrub to find.
async fn settle(children: &[Child]) -> usize {
    let mut last = keys_on(children).await;
    let mut stable = 0;
    let start = Instant::now();
    while stable < 3 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(300));
        let now = keys_on(children).await;
        stable = if now == last { stable + 1 } else { 0 };
        last = now;
    }
    last
}

#[test]
fn erasure_over_s3_and_local_survives_a_hung_server_and_scrub_completes_it() {
    let Some(server) = server() else { return };
    let _serial = serial();
    block_on(async {
        let base = tempfile::tempdir().unwrap();
        let src = base.path().join("src");
        make_tree(&src, 5, 1, 2 << 20);
        let layout = Layout::new(&server, base.path());
        let repo = Repository::init(layout.store(None), PW, init_opts())
            .await
            .unwrap();
        let first = backup_dir(&repo, &src).await.unwrap().snapshot;

        let s3_shards = keys_on(&layout.children[3..]).await;
        s3_server("pause")
            .then_some(())
            .expect("scripts/s3-server pause");
        let resume = Resume;

        // The local shards alone restore everything.
        let quorum4 = layout.store(None);
        let repo = Repository::open(quorum4.clone(), PW).await.unwrap();
        assert_restores(&repo, &first, &src).await;

        // A backup with the default write quorum (k + 1 = 4) cannot be
        // acknowledged by three local shards: a clear error, no hang.
        std::fs::write(
            src.join("docs/later.bin"),
            cairn_backends::testing::pattern(99, 400_000),
        )
        .unwrap();
        let e = backup_dir(&repo, &src).await.unwrap_err();
        let cairn::cas::Error::Backend(cairn_backends::Error::Wrapped { source, .. }) = &e else {
            panic!("expected the erasure quorum error, got {e:?}");
        };
        assert!(
            matches!(
                source.downcast_ref::<cairn_erasure::Error>(),
                Some(cairn_erasure::Error::QuorumNotReached {
                    acked: 3,
                    needed: 4,
                    ..
                })
            ),
            "{e}"
        );
        assert!(e.is_transient(), "a missed quorum may succeed later: {e}");
        // The health report tells which children failed, and how.
        for child in quorum4.health_report().children {
            if child.index < 3 {
                assert_eq!(child.state, BreakerState::Closed, "{child:?}");
                assert_eq!(child.failures, 0, "{child:?}");
            } else {
                assert_eq!(child.state, BreakerState::Open, "{child:?}");
                assert!(child.timeouts > 0, "{child:?}");
            }
        }

        // A write quorum of 3 would let the objects be stored, but the
        // backup may not start: the prune protocol's condemned records could
        // sit on the three silent children alone, and a writer that cannot
        // see them all must not deduplicate. A clear error, no hang.
        let quorum3 = layout.store(Some(3));
        let repo = Repository::open(quorum3.clone(), PW).await.unwrap();
        let e = backup_dir(&repo, &src).await.unwrap_err();
        assert!(
            matches!(&e, cairn::cas::Error::Backend(b) if b.is_incomplete()),
            "{e}"
        );
        drop(resume);
        let late = settle(&layout.children[3..]).await - s3_shards;
        eprintln!("shards stored by S3 requests that had timed out while it hung: {late}");

        // The server is back: a repairing scrub writes every missing shard.
        let store = layout.store(None);
        let report = store.scrub(ScrubOptions::new().repair(true)).await.unwrap();
        eprintln!("repairing scrub after the outage:\n{report}");
        assert!(report.complete, "{report}");
        assert_eq!(report.shards_repaired, report.shards_missing, "{report}");
        assert!(report.unrecoverable.is_empty(), "{report}");
        assert!(report.errors.is_empty(), "{report}");
        let report = store.scrub(ScrubOptions::new()).await.unwrap();
        assert_eq!(report.shards_missing, 0, "{report}");
        assert_eq!(report.shards_unreachable, 0, "{report}");
        assert_eq!(report.objects_healthy, report.objects_scanned, "{report}");
        assert!(report.unrecoverable.is_empty(), "{report}");

        // Every child answers again: the backup goes through.
        let repo = Repository::open(layout.store(None), PW).await.unwrap();
        let second = backup_dir(&repo, &src).await.unwrap().snapshot;
        assert_restores(&repo, &second, &src).await;

        // The buckets now hold a full copy: without any local directory,
        // both snapshots restore and the repository checks clean.
        for dir in &layout.dirs {
            std::fs::remove_dir_all(dir).unwrap();
        }
        let repo = Repository::open(layout.store(None), PW).await.unwrap();
        assert_restores(&repo, &second, &src).await;
        std::fs::remove_file(src.join("docs/later.bin")).unwrap();
        assert_restores(&repo, &first, &src).await;
        let report = assert_checks_clean(&repo).await;
        // Packs of the failed backup whose shards landed late: complete
        // objects no index names, harmless.
        eprintln!("unreferenced packs: {}", report.unreferenced_packs);
    });
}

/// Restarts the S3 server at the `after`-th pack upload, and holds that
/// upload until the old server process is gone, so the restart really
/// overlaps the backup.
#[derive(Debug)]
struct RestartAt {
    inner: Arc<dyn Backend>,
    after: usize,
    packs: AtomicUsize,
    restart: Mutex<Option<std::thread::JoinHandle<bool>>>,
}

impl RestartAt {
    fn trigger(&self) {
        let pid_file = PathBuf::from(std::env::var("CAIRN_S3_PID_FILE").unwrap());
        let old = std::fs::read_to_string(&pid_file).unwrap_or_default();
        let handle = std::thread::spawn(|| s3_server("restart"));
        *self.restart.lock().unwrap() = Some(handle);
        let start = Instant::now();
        while std::fs::read_to_string(&pid_file).unwrap_or_default() == old
            && start.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[async_trait]
impl Backend for RestartAt {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> cairn_backends::Result<()> {
        if key.starts_with("data/") && self.packs.fetch_add(1, Ordering::SeqCst) + 1 == self.after {
            self.trigger();
        }
        self.inner.put(key, data, mode).await
    }
    async fn get(&self, key: &str) -> cairn_backends::Result<Bytes> {
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> cairn_backends::Result<Bytes> {
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

#[test]
fn a_server_restarted_during_a_backup_leaves_a_sound_repository() {
    let Some(server) = server() else { return };
    let _serial = serial();
    block_on(async {
        let base = tempfile::tempdir().unwrap();
        let src = base.path().join("src");
        make_tree(&src, 9, 10, 3 << 20);
        let config = server
            .config(&server.bucket, "restart")
            .with_timeout(Duration::from_secs(30));
        let policy = RetryPolicy::new()
            .with_max_attempts(12)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(5));
        let store: Arc<dyn Backend> = Arc::new(Retrying::new(
            ObjectStoreBackend::s3(config).unwrap(),
            policy,
        ));
        let restarting = Arc::new(RestartAt {
            inner: store.clone(),
            after: 5,
            packs: AtomicUsize::new(0),
            restart: Mutex::new(None),
        });
        let repo = Repository::init(restarting.clone(), PW, init_opts())
            .await
            .unwrap();
        let outcome = backup_dir(&repo, &src).await;
        let restart = restarting.restart.lock().unwrap().take();
        let restarted = restart.expect("the restart fired").join().unwrap();
        assert!(restarted, "scripts/s3-server restart failed");
        assert!(restarting.packs.load(Ordering::SeqCst) > 5);

        let repo = Repository::open(store.clone(), PW).await.unwrap();
        let snap = match outcome {
            Ok(done) => {
                eprintln!(
                    "the backup rode out the restart ({} packs)",
                    restarting.packs.load(Ordering::SeqCst)
                );
                done.snapshot
            }
            Err(e) => {
                // Typed, and the repository is still sound: check finds no
                // error (packs without an index are harmless leftovers) and
                // the next backup completes.
                eprintln!("the backup failed across the restart: {e}");
                assert!(!matches!(e, cairn::cas::Error::Internal { .. }), "{e:?}");
                assert_checks_clean(&repo).await;
                backup_dir(&repo, &src).await.unwrap().snapshot
            }
        };
        assert_restores(&repo, &snap, &src).await;
        assert_checks_clean(&repo).await;
    });
}
