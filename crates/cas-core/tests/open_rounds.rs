//! How many round trips `open` + `snapshots()` wait for, counted (not
//! timed): on a remote store each sequential round costs one network
//! latency, so a warm metadata cache can only make `snapshots` fast if
//! opening does not wait for one request after another.
//!
//! [`Rounds`] wraps a backend and gives every request a *depth*: one more
//! than the deepest request that had completed when it started. The
//! deepest depth is the number of sequential rounds: the wall time of the
//! operation when every request takes the same latency. Each request
//! yields once before it runs, so requests issued together (`join!`,
//! `buffer_unordered`) really overlap and share a depth.
//!
//! Also checks that the rounds saved do not skip a check: a replayed
//! record of a forgotten snapshot stays hidden, a revoked key stays
//! revoked, and a rotated key epoch still opens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_testkit::backup_dir;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use cairn::cas::prune::{forget, SnapshotFilter};
use cairn::cas::retention::{KeepPolicy, PlanOptions};
use cairn::cas::{
    BackupOptions, CacheOptions, Error, InitOptions, NewKey, OpenOptions, Repository, RotateOptions,
};
use cairn_backends::testing::Counting;
use cairn_backends::{Backend, MemoryBackend, ObjectMeta, PutMode, Result as BResult};
use cairn_crypto::KdfParams;
use futures::executor::block_on;
use futures::stream::{BoxStream, StreamExt};
use futures::FutureExt;

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

#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
struct Depths {
    /// The deepest depth of any completed request.
    done: u64,
    /// The deepest depth of any request.
    max: u64,
    /// Requests started.
    requests: u64,
}

/// A backend that measures the sequential rounds of requests on another.
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
    fn reset(&self) {
        *self.depths.lock().unwrap() = Depths::default();
    }
    /// (sequential rounds, requests) since the last reset.
    fn counts(&self) -> (u64, u64) {
        let d = *self.depths.lock().unwrap();
        (d.max, d.requests)
    }
    fn start(&self) -> u64 {
        let mut d = self.depths.lock().unwrap();
        d.requests += 1;
        let depth = d.done + 1;
        d.max = d.max.max(depth);
        depth
    }
    fn finish(&self, depth: u64) {
        let mut d = self.depths.lock().unwrap();
        d.done = d.done.max(depth);
    }
    async fn around<T>(&self, op: impl Future<Output = T>) -> T {
        let depth = self.start();
        YieldOnce::default().await;
        let r = op.await;
        self.finish(depth);
        r
    }
}

impl<B: std::fmt::Debug> std::fmt::Debug for Rounds<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rounds")
            .field("inner", &self.inner)
            .finish()
    }
}

#[async_trait]
impl<B: Backend> Backend for Rounds<B> {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> BResult<()> {
        self.around(self.inner.put(key, data, mode)).await
    }
    async fn get(&self, key: &str) -> BResult<Bytes> {
        self.around(self.inner.get(key)).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> BResult<Bytes> {
        self.around(self.inner.get_range(key, range)).await
    }
    async fn stat(&self, key: &str) -> BResult<ObjectMeta> {
        self.around(self.inner.stat(key)).await
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, BResult<ObjectMeta>> {
        // The whole listing is one request (one page for these sizes).
        let all = self.around(self.inner.list(prefix).collect::<Vec<_>>());
        all.map(futures::stream::iter).flatten_stream().boxed()
    }
    async fn delete(&self, key: &str) -> BResult<()> {
        self.around(self.inner.delete(key)).await
    }
}

type Store = Arc<Rounds<Counting<MemoryBackend>>>;

fn kdf() -> KdfParams {
    KdfParams::insecure_for_tests()
}

/// A repository with `n` snapshots (each a little different).
async fn repo_with(n: usize) -> (Store, Repository, tempfile::TempDir) {
    let store: Store = Arc::new(Rounds::new(Counting::new(MemoryBackend::new())));
    let repo = Repository::init(store.clone(), b"pw", InitOptions::default().kdf(kdf()))
        .await
        .unwrap();
    let src = tempfile::tempdir().unwrap();
    for i in 0..n {
        std::fs::write(src.path().join("f"), format!("version {i}")).unwrap();
        backup_dir(&repo, src.path(), &BackupOptions::default()).await;
    }
    (store, repo, src)
}

/// Opens and lists snapshots on a fresh handle: the ids listed, and the
/// (rounds, requests) it took.
async fn open_and_list(store: &Store, opts: OpenOptions) -> (Vec<String>, (u64, u64)) {
    store.reset();
    let repo = Repository::open_with(store.clone(), b"pw", opts)
        .await
        .unwrap();
    let ids = repo.snapshots().await.unwrap();
    let ids = ids.into_iter().map(|(id, _)| id.to_string()).collect();
    (ids, store.counts())
}

/// `open` + `snapshots()` on a plain repository with a warm cache: the
/// config and the listings of keys, epochs and the index go together, the
/// key file with its revocation, then the snapshot and tombstone listings:
/// 3 rounds (it was 6: config+keys, key file, revocation, epochs, index,
/// snapshots+tombstones).
#[test]
fn open_and_snapshots_wait_for_three_rounds_with_a_warm_cache() {
    block_on(async {
        let (store, _repo, _src) = repo_with(5).await;
        let cache = tempfile::tempdir().unwrap();
        let opts = OpenOptions::default().cache(CacheOptions::default().dir(cache.path()));
        let (first, cold_warming) = open_and_list(&store, opts.clone()).await;
        let (ids, warm) = open_and_list(&store, opts).await;
        assert_eq!(ids, first);
        assert_eq!(ids.len(), 5);
        eprintln!("warming: {cold_warming:?}, warm: {warm:?}");
        let (rounds, requests) = warm;
        assert!(rounds <= 3, "{rounds} sequential rounds (was 6)");
        // config, keys/, revoked/ (revocations by key identity are looked
        // up in this listing, in the first round), key file, revoked/<key>,
        // epochs/, index/, snapshots/, tombstones/; and authorities/ twice
        // (the chain of admin authorities: with the first listings, and
        // refreshed with the snapshot listing), in rounds already waited for.
        assert!(requests <= 11, "{requests} requests");
    })
}

/// Without a cache the index objects and snapshot records are fetched
/// too: one round each (16 at a time), on top of the above.
#[test]
fn open_and_snapshots_without_a_cache_wait_for_five_rounds() {
    block_on(async {
        let (store, _repo, _src) = repo_with(5).await;
        let (ids, (rounds, requests)) = open_and_list(&store, OpenOptions::default()).await;
        assert_eq!(ids.len(), 5);
        eprintln!("no cache: {rounds} rounds, {requests} requests");
        assert!(rounds <= 5, "{rounds} sequential rounds (was 8)");
        assert!(requests <= 11 + 5 + 5, "{requests} requests");
    })
}

/// A repository with everything `open` must honour: a second key file, a
/// rotated key epoch, a revoked key and a forgotten snapshot whose record
/// was stored again. The rounds stay few, and every check still holds.
#[test]
fn fewer_rounds_still_honour_epochs_revocations_and_tombstones() {
    block_on(async {
        let (store, repo, _src) = repo_with(3).await;
        let backup_key = repo
            .add_key_with(b"host", &NewKey::backup().kdf(kdf()))
            .await
            .unwrap();
        let doomed = repo
            .add_key_with(b"gone", &NewKey::admin().kdf(kdf()))
            .await;
        let doomed = doomed.unwrap();
        repo.rotate_keys(&RotateOptions::default()).await.unwrap();
        let kept = repo.snapshots().await.unwrap();
        // Forget the oldest snapshot, then replay its record.
        let (old_id, _) = kept[0].clone();
        let record = format!("snapshots/{old_id}");
        let bytes = store.get(&record).await.unwrap();
        let policy = KeepPolicy::default().last(2);
        forget(
            &repo,
            &policy,
            &PlanOptions::default(),
            &SnapshotFilter::default(),
            false,
        )
        .await
        .unwrap();
        store.put(&record, bytes, PutMode::Overwrite).await.unwrap();
        repo.remove_key(&doomed).await.unwrap();

        let cache = tempfile::tempdir().unwrap();
        let opts = OpenOptions::default().cache(CacheOptions::default().dir(cache.path()));
        open_and_list(&store, opts.clone()).await;
        let (ids, (rounds, requests)) = open_and_list(&store, opts).await;
        let expected: Vec<String> = kept[1..].iter().map(|(id, _)| id.to_string()).collect();
        assert_eq!(ids, expected, "the replayed record stays forgotten");
        eprintln!("with epochs and tombstones: {rounds} rounds, {requests} requests");
        assert!(rounds <= 4, "{rounds} sequential rounds (was 9)");
        // Two more than before: the revocation of each key file read
        // ahead (the backup key's file is tried first), for 5 rounds fewer;
        // and one for the `revoked/` listing (same round as `keys/`). Three
        // for the admin authority chain (removing an admin wrote a link):
        // `authorities/` listed with `keys/`, the link read with the key
        // file, `authorities/` listed again with the snapshots.
        assert!(requests <= 17, "{requests} requests (was 11)");

        // The removed key's password no longer opens; the backup key does,
        // in the new epoch.
        let err = Repository::open(store.clone(), b"gone").await.unwrap_err();
        assert!(
            matches!(err, Error::WrongPassword | Error::NoUsableKeyFile { .. }),
            "{err:?}"
        );
        let host = Repository::open(store.clone(), b"host").await.unwrap();
        assert_eq!(host.key_name(), backup_key);
        assert_eq!(host.keys().epoch(), repo.keys().epoch());
        assert_eq!(host.snapshots().await.unwrap().len(), 2);
    })
}
