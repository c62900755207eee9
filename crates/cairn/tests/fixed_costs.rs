//! The regression gate of issue 23 for backend round trips: how many
//! requests `open`, `snapshots`, an unchanged re-backup and a restore make
//! through the facade, counted (not timed), and how many of them wait for
//! one another.
//!
//! On a remote store each sequential round costs one network latency, and
//! every request one request's fixed cost, so these two numbers are the
//! fixed cost of an operation wherever the repository lives. Each has a
//! committed ceiling below, with what it is made of; the ceilings are the
//! counts measured when they were set, so one extra round trip fails the
//! gate. Raising one is a reviewed change: say which request was added and
//! why it could not share a round.
//!
//! [`Rounds`] gives every request a *depth*: one more than the deepest
//! request that had completed when it started. The deepest depth is the
//! number of sequential rounds (the critical path). Each request yields once
//! before it runs, so requests issued together (`join!`, `buffer_unordered`)
//! really overlap and share a depth. Every test prints the requests it
//! counted, by depth, to show what changed when it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use cairn::backends::{Backend, MemoryBackend, ObjectMeta, PutMode, Result as BResult};
use cairn::{CacheOptions, NoProgress, OpenOptions, Repository, RestoreOptions, SnapshotQuery};
use cairn_testkit::{facade_backup, init_opts, PW};
use futures::executor::block_on;
use futures::stream::{BoxStream, StreamExt};
use futures::FutureExt;

/// A ceiling: (sequential rounds, requests).
type Cost = (u64, u64);

/// `open` with a warm metadata cache. Round 1, together: `config` and the
/// listings `keys/`, `revoked/`, `authorities/`, `epochs/` and `index/`
/// (the index objects themselves come from the cache); round 2: the key
/// file and its revocation record `revoked/<key>`.
const OPEN_WARM: Cost = (2, 8);
/// `open` without a cache: as [`OPEN_WARM`], then round 3: the two index
/// objects (one per backup of the fixture), fetched together.
const OPEN_COLD: Cost = (3, 10);
/// `snapshots` (all of them) on a handle just opened, warm cache: one
/// round of three listings, `snapshots/`, `tombstones/` and
/// `authorities/` (existence is always the storage's word; the records
/// come from the cache).
const SNAPSHOTS_WARM: Cost = (1, 3);
/// `snapshots` without a cache: as [`SNAPSHOTS_WARM`], then round 2: the
/// two snapshot records, fetched together.
const SNAPSHOTS_COLD: Cost = (2, 5);
/// An unchanged re-backup of [`DIRS`] × [`FILES_PER_DIR`] files on a
/// handle just opened without a cache, each step waiting for the one
/// before: the session lease (put); `condemned/`; the writer's own load
/// of the index without condemned packs: `index/`, then the index objects
/// together (2), then `data/` (which packs exist); the parent:
/// `snapshots/`, `tombstones/` and `authorities/` together, the two
/// records together, `authorities/` again, `epochs/`; the parent trees:
/// the tree pack of the changed ancestors, then the fixture's first tree
/// pack (one ranged get each); the directories above the source changed
/// (see [`bump`]), so their new trees are stored: the tree pack, the
/// session check (`killed/`, `sessions/`), its index object, the lease
/// refreshed; commit: lease refreshed, `condemned/`, `journal/` and the
/// three entries together, the record (put), `killed/`, `sessions/`, the
/// journal entry (put), the lease deleted. Issue 23, item 1: the index is
/// loaded a second time (after `open` loaded it) and `data/` listed, 3 of
/// these rounds, growing with the repository (one round per 16 index
/// objects, one per page of packs); until 2026-12-08 the index objects
/// came one after another (26 rounds here, one per index object).
const BACKUP_UNCHANGED: Cost = (25, 31);
/// The same backup with a warm metadata cache: the records, the first
/// tree pack and the journal entries come from the cache (2 rounds, 6
/// requests fewer); the ancestors' tree pack, which the warming backup
/// wrote, does not, nor do the writer's index objects (still fetched from
/// the storage; together since 2026-12-08, 23 rounds before).
const BACKUP_UNCHANGED_WARM: Cost = (22, 25);
/// Planning and running a restore of that snapshot (no cache): finding
/// the latest snapshot (the three listings, then the two records), then
/// the trees (the ancestors' tree pack, then the first tree pack), then
/// the one data pack, each a round of its own.
const RESTORE: Cost = (5, 8);

/// The small tree of the backup and restore gates.
const DIRS: usize = 20;
const FILES_PER_DIR: usize = 10;

/// Returns `Pending` once (waking itself), then `Ready`.
#[derive(Default)]
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[derive(Default, Debug)]
struct Depths {
    /// The deepest depth of any completed request.
    done: u64,
    /// The deepest depth of any request.
    max: u64,
    /// Every request since the last reset: (depth, operation, key).
    log: Vec<(u64, &'static str, String)>,
}

/// A backend that measures the sequential rounds of requests on another.
#[derive(Debug)]
struct Rounds<B> {
    inner: B,
    depths: Mutex<Depths>,
}

impl<B: Backend> Rounds<B> {
    fn new(inner: B) -> Self {
        Rounds {
            inner,
            depths: Mutex::default(),
        }
    }
    /// (sequential rounds, requests) since the last reset, which it does;
    /// prints the requests, by depth, under `what`.
    fn take(&self, what: &str) -> Cost {
        let d = std::mem::take(&mut *self.depths.lock().unwrap());
        let mut log = d.log;
        log.sort();
        eprintln!("{what}: {} rounds, {} requests", d.max, log.len());
        for (depth, op, key) in &log {
            eprintln!("  {depth:>3} {op:<9} {key}");
        }
        (d.max, log.len() as u64)
    }
    fn start(&self, op: &'static str, key: &str) -> u64 {
        let mut d = self.depths.lock().unwrap();
        let depth = d.done + 1;
        d.max = d.max.max(depth);
        // Object names end in ids: the prefix and a few characters say
        // which object it was without drowning the listing.
        let short: String = key.chars().take(24).collect();
        d.log.push((depth, op, short));
        depth
    }
    fn finish(&self, depth: u64) {
        let mut d = self.depths.lock().unwrap();
        d.done = d.done.max(depth);
    }
    async fn around<T>(&self, op: &'static str, key: &str, run: impl Future<Output = T>) -> T {
        let depth = self.start(op, key);
        YieldOnce::default().await;
        let r = run.await;
        self.finish(depth);
        r
    }
}

#[async_trait]
impl<B: Backend> Backend for Rounds<B> {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> BResult<()> {
        self.around("put", key, self.inner.put(key, data, mode))
            .await
    }
    async fn get(&self, key: &str) -> BResult<Bytes> {
        self.around("get", key, self.inner.get(key)).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> BResult<Bytes> {
        self.around("get_range", key, self.inner.get_range(key, range))
            .await
    }
    async fn stat(&self, key: &str) -> BResult<ObjectMeta> {
        self.around("stat", key, self.inner.stat(key)).await
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, BResult<ObjectMeta>> {
        // The whole listing is one request (one page for these sizes).
        let all = self.around("list", prefix, self.inner.list(prefix).collect::<Vec<_>>());
        all.map(futures::stream::iter).flatten_stream().boxed()
    }
    async fn delete(&self, key: &str) -> BResult<()> {
        self.around("delete", key, self.inner.delete(key)).await
    }
}

type Store = Arc<Rounds<MemoryBackend>>;

/// [`DIRS`] directories of [`FILES_PER_DIR`] small files each (distinct
/// contents, one chunk each).
fn small_tree(root: &Path) {
    std::fs::create_dir(root).unwrap();
    for d in 0..DIRS {
        let dir = root.join(format!("d{d:02}"));
        std::fs::create_dir(&dir).unwrap();
        for f in 0..FILES_PER_DIR {
            std::fs::write(dir.join(format!("f{f:02}")), format!("file {d}/{f}\n")).unwrap();
        }
    }
}

/// Gives `dir` a new modification time (and so ctime), as a busy
/// directory above the backed-up one (`/tmp`, `/home`) gets between two
/// backups. Backups record the directories that lead to their paths, so
/// the next backup stores their trees anew. The gate does that on
/// purpose before each backup it counts or depends on, so that its counts
/// do not hang on whether another process touched `/tmp` meanwhile.
fn bump(dir: &Path) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, SystemTime};
    static N: AtomicU64 = AtomicU64::new(0);
    let at =
        SystemTime::UNIX_EPOCH + Duration::from_secs((1 << 30) + N.fetch_add(1, Ordering::Relaxed));
    std::fs::File::open(dir).unwrap().set_modified(at).unwrap();
}

/// A repository on a counted memory store holding two backups of a small
/// tree, the second through a metadata cache it warmed (kept alive with
/// the store).
struct Fixture {
    store: Store,
    /// The directory above the source, [`bump`]ed before backups.
    base: tempfile::TempDir,
    src: PathBuf,
    cache: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let store: Store = Arc::new(Rounds::new(MemoryBackend::new()));
        let base = tempfile::tempdir().unwrap();
        let src = base.path().join("src");
        small_tree(&src);
        block_on(async {
            let repo = Repository::init_on(store.clone(), PW, init_opts())
                .await
                .unwrap();
            facade_backup(&repo, &src).await;
        });
        let cache = tempfile::tempdir().unwrap();
        let fixture = Fixture {
            store,
            base,
            src,
            cache,
        };
        // Warm the cache: index objects, snapshot records and trees.
        bump(fixture.base.path());
        block_on(async {
            let repo = fixture.open(true).await;
            facade_backup(&repo, &fixture.src).await;
        });
        fixture.store.take("setting up");
        fixture
    }

    fn opts(&self, cached: bool) -> OpenOptions {
        match cached {
            true => OpenOptions::default().cache(CacheOptions::default().dir(self.cache.path())),
            false => OpenOptions::default(),
        }
    }

    async fn open(&self, cached: bool) -> Repository {
        Repository::open_on_with(self.store.clone(), PW, self.opts(cached))
            .await
            .unwrap()
    }

    /// Opens a handle, then counts what `op` costs on it.
    fn cost_of<F, Fut>(&self, what: &str, cached: bool, op: F) -> Cost
    where
        F: FnOnce(Repository) -> Fut,
        Fut: Future<Output = ()>,
    {
        block_on(async {
            let repo = self.open(cached).await;
            self.store.take("opening");
            op(repo).await;
        });
        self.store.take(what)
    }
}

fn assert_within(what: &str, got: Cost, ceiling: Cost) {
    assert!(
        got.0 <= ceiling.0 && got.1 <= ceiling.1,
        "{what}: {} rounds, {} requests; ceiling {} rounds, {} requests",
        got.0,
        got.1,
        ceiling.0,
        ceiling.1
    );
}

fn open_cost(cached: bool) -> Cost {
    let f = Fixture::new();
    block_on(f.open(cached));
    f.store.take(if cached {
        "open, warm"
    } else {
        "open, no cache"
    })
}

#[test]
fn open_with_a_warm_cache() {
    assert_within("open, warm cache", open_cost(true), OPEN_WARM);
}

#[test]
fn open_without_a_cache() {
    assert_within("open, no cache", open_cost(false), OPEN_COLD);
}

fn snapshots_cost(cached: bool) -> Cost {
    let f = Fixture::new();
    f.cost_of("snapshots", cached, |repo| async move {
        let (all, errors) = repo.snapshots(&SnapshotQuery::latest()).await.unwrap();
        assert_eq!((all.len(), errors.len()), (2, 0));
    })
}

#[test]
fn snapshots_with_a_warm_cache() {
    assert_within("snapshots, warm", snapshots_cost(true), SNAPSHOTS_WARM);
}

#[test]
fn snapshots_without_a_cache() {
    assert_within("snapshots, no cache", snapshots_cost(false), SNAPSHOTS_COLD);
}

fn unchanged_backup_cost(cached: bool) -> Cost {
    let f = Fixture::new();
    let src = f.src.clone();
    bump(f.base.path());
    f.cost_of("unchanged backup", cached, |repo| async move {
        let done = facade_backup(&repo, &src).await;
        let s = &done.snapshot.summary;
        assert_eq!(
            (s.files_unchanged, s.files_new),
            ((DIRS * FILES_PER_DIR) as u64, 0)
        );
    })
}

#[test]
fn unchanged_backup_without_a_cache() {
    let got = unchanged_backup_cost(false);
    assert_within("unchanged backup, no cache", got, BACKUP_UNCHANGED);
}

#[test]
fn unchanged_backup_with_a_warm_cache() {
    let got = unchanged_backup_cost(true);
    assert_within("unchanged backup, warm", got, BACKUP_UNCHANGED_WARM);
}

#[test]
fn restore_of_a_small_tree() {
    let f = Fixture::new();
    let target = tempfile::tempdir().unwrap();
    let opts = RestoreOptions::new(target.path());
    let got = f.cost_of("restore", false, |repo| async move {
        let (_, snap) = repo.snapshot(&SnapshotQuery::latest()).await.unwrap();
        let plan = repo.plan_restore(&snap, &opts).await.unwrap();
        let done = repo.restore(&plan, &opts, Arc::new(NoProgress)).await;
        assert_eq!(done.unwrap().files as usize, DIRS * FILES_PER_DIR);
    });
    assert_within("restore", got, RESTORE);
}
