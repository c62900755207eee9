//! Wrappers that make operations fail: for good ([`FailAfter`]) or now and
//! then ([`Flaky`]).

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{Backend, Error, ObjectMeta, PutMode, Result};

fn injected(key: &str, message: String, transient: bool) -> Error {
    Error::Backend {
        key: key.to_owned(),
        message: format!("injected: {message}"),
        transient,
    }
}

/// A backend on which every operation after the first `n` fails, as if the
/// process had crashed at operation `n + 1` — the failing operation does not
/// reach the inner backend, so a failed put stores nothing.
///
/// Errors are [`Error::Backend`] with `transient: false`. Every call counts
/// as one operation ([`list`](Backend::list) included, when it is called),
/// failed ones too. Use it for "crash at operation N, reopen, check, retry"
/// tests: run once with [`FailAfter::heal`]ed wrapper to count the operations,
/// then [`FailAfter::reset`] to each `n` below that.
///
/// ```
/// use bytes::Bytes;
/// use cairn_backends::{Backend, MemoryBackend, PutMode};
/// use cairn_backends::testing::FailAfter;
/// # futures::executor::block_on(async {
/// let store = FailAfter::new(MemoryBackend::new(), 1);
/// assert!(store.put("a", Bytes::new(), PutMode::CreateOnly).await.is_ok());
/// assert!(store.get("a").await.is_err());
/// store.heal();
/// assert!(store.get("a").await.is_ok());
/// assert_eq!(store.ops(), 3);
/// # });
/// ```
#[derive(Debug)]
pub struct FailAfter<B> {
    inner: B,
    limit: AtomicU64,
    ops: AtomicU64,
}

impl<B> FailAfter<B> {
    /// Wraps `inner`; the first `n` operations pass, the rest fail.
    pub fn new(inner: B, n: u64) -> Self {
        Self {
            inner,
            limit: AtomicU64::new(n),
            ops: AtomicU64::new(0),
        }
    }

    /// How many operations were called so far (since the last reset).
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::SeqCst)
    }

    /// Lets every later operation pass.
    pub fn heal(&self) {
        self.limit.store(u64::MAX, Ordering::SeqCst);
    }

    /// Starts counting again: the next `n` operations pass, the rest fail.
    pub fn reset(&self, n: u64) {
        self.ops.store(0, Ordering::SeqCst);
        self.limit.store(n, Ordering::SeqCst);
    }

    /// The wrapped backend (not counted, never failing).
    pub fn inner(&self) -> &B {
        &self.inner
    }

    fn check(&self, op: &str, key: &str) -> Result<()> {
        let n = self.ops.fetch_add(1, Ordering::SeqCst);
        let limit = self.limit.load(Ordering::SeqCst);
        if n < limit {
            return Ok(());
        }
        let message = format!(
            "{op} failed: operation {} comes after the first {limit}",
            n + 1
        );
        Err(injected(key, message, false))
    }
}

#[async_trait]
impl<B: Backend> Backend for FailAfter<B> {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        self.check("put", key)?;
        self.inner.put(key, data, mode).await
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        self.check("get", key)?;
        self.inner.get(key).await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.check("get_range", key)?;
        self.inner.get_range(key, range).await
    }

    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.check("stat", key)?;
        self.inner.stat(key).await
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        match self.check("list", prefix) {
            Ok(()) => self.inner.list(prefix),
            Err(e) => stream::once(async { Err(e) }).boxed(),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.check("delete", key)?;
        self.inner.delete(key).await
    }
}

/// When a put chosen by [`Flaky`] to fail fails.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PutFailure {
    /// Before reaching the inner backend: nothing is stored.
    #[default]
    BeforeApply,
    /// After the inner backend stored the object: the acknowledgement is
    /// lost. (A put the inner backend refused reports its own error.)
    AfterApply,
}

/// A backend on which a seeded fraction of operations fail with a transient
/// error ([`Error::Backend`] with `transient: true`), as a network would.
///
/// Failing gets, stats and deletes do not reach the inner backend; a failing
/// put does or does not, as [`PutFailure`] says (deletes always fail before
/// applying); a failing listing yields one error and ends. Which operations
/// fail is decided by a random generator seeded at construction, so a
/// sequential test fails the same operations on every run (concurrent
/// operations draw in the order they are called).
#[derive(Debug)]
pub struct Flaky<B> {
    inner: B,
    probability: f64,
    put_failure: PutFailure,
    rng: Mutex<StdRng>,
    injected: AtomicU64,
}

impl<B> Flaky<B> {
    /// Wraps `inner`, failing each operation with `probability` (clamped to
    /// 0..=1; NaN is 0), drawn from a generator seeded with `seed`.
    pub fn new(inner: B, probability: f64, seed: u64) -> Self {
        let probability = if probability.is_nan() {
            0.0
        } else {
            probability.clamp(0.0, 1.0)
        };
        Self {
            inner,
            probability,
            put_failure: PutFailure::default(),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            injected: AtomicU64::new(0),
        }
    }

    /// Sets when failing puts fail (default [`PutFailure::BeforeApply`]).
    pub fn with_put_failure(mut self, put_failure: PutFailure) -> Self {
        self.put_failure = put_failure;
        self
    }

    /// How many failures were injected.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// Whether the next operation fails.
    fn roll(&self) -> bool {
        let fail = self
            .rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .random_bool(self.probability);
        if fail {
            self.injected.fetch_add(1, Ordering::SeqCst);
        }
        fail
    }

    fn check(&self, op: &str, key: &str) -> Result<()> {
        match self.roll() {
            true => Err(injected(key, format!("transient failure of {op}"), true)),
            false => Ok(()),
        }
    }
}

#[async_trait]
impl<B: Backend> Backend for Flaky<B> {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        match self.put_failure {
            PutFailure::BeforeApply => {
                self.check("put", key)?;
                self.inner.put(key, data, mode).await
            }
            PutFailure::AfterApply => {
                let fail = self.roll();
                self.inner.put(key, data, mode).await?;
                match fail {
                    true => Err(injected(
                        key,
                        "put stored, acknowledgement lost".into(),
                        true,
                    )),
                    false => Ok(()),
                }
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        self.check("get", key)?;
        self.inner.get(key).await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.check("get_range", key)?;
        self.inner.get_range(key, range).await
    }

    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.check("stat", key)?;
        self.inner.stat(key).await
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        match self.check("list", prefix) {
            Ok(()) => self.inner.list(prefix),
            Err(e) => stream::once(async { Err(e) }).boxed(),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.check("delete", key)?;
        self.inner.delete(key).await
    }
}
