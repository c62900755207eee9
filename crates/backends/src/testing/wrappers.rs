//! Wrappers that slow operations down ([`Latency`]), damage data
//! ([`Corrupting`]) or lose it ([`Lossy`]).

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use futures_timer::Delay;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{Backend, ObjectMeta, PutMode, Result};

/// A predicate on keys.
type KeyFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// A backend that waits before each operation: a fixed delay plus a seeded
/// random jitter in `0..=jitter` (runtime-agnostic, with `futures-timer`). A
/// listing waits once, before its first entry.
#[derive(Debug)]
pub struct Latency<B> {
    inner: B,
    delay: Duration,
    jitter: Duration,
    rng: Mutex<StdRng>,
}

impl<B> Latency<B> {
    /// Wraps `inner`, delaying each operation by `delay`.
    pub fn new(inner: B, delay: Duration) -> Self {
        Self {
            inner,
            delay,
            jitter: Duration::ZERO,
            rng: Mutex::new(StdRng::seed_from_u64(0)),
        }
    }

    /// Adds a random extra delay of up to `jitter`, drawn from a generator
    /// seeded with `seed`.
    pub fn with_jitter(mut self, jitter: Duration, seed: u64) -> Self {
        self.jitter = jitter;
        self.rng = Mutex::new(StdRng::seed_from_u64(seed));
        self
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    fn pause(&self) -> Delay {
        let nanos = u64::try_from(self.jitter.as_nanos()).unwrap_or(u64::MAX);
        let extra = match nanos {
            0 => 0,
            n => self
                .rng
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .random_range(0..=n),
        };
        Delay::new(self.delay + Duration::from_nanos(extra))
    }
}

#[async_trait]
impl<B: Backend> Backend for Latency<B> {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        self.pause().await;
        self.inner.put(key, data, mode).await
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        self.pause().await;
        self.inner.get(key).await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.pause().await;
        self.inner.get_range(key, range).await
    }

    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.pause().await;
        self.inner.stat(key).await
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        let pause = self.pause();
        stream::once(pause)
            .flat_map(move |()| self.inner.list(prefix))
            .boxed()
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.pause().await;
        self.inner.delete(key).await
    }
}

/// A backend whose reads ([`get`](Backend::get) and
/// [`get_range`](Backend::get_range)) return data with one byte flipped, for
/// keys matching a predicate (default: all), each read with a probability
/// (default 1), at a position and with a bit pattern drawn from a seeded
/// generator. Empty reads cannot be corrupted. What is stored is untouched.
pub struct Corrupting<B> {
    inner: B,
    probability: f64,
    filter: KeyFilter,
    rng: Mutex<StdRng>,
    corrupted: AtomicU64,
}

impl<B: fmt::Debug> fmt::Debug for Corrupting<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Corrupting")
            .field("inner", &self.inner)
            .field("probability", &self.probability)
            .field("corrupted", &self.corrupted)
            .finish_non_exhaustive()
    }
}

impl<B> Corrupting<B> {
    /// Wraps `inner`, corrupting every non-empty read, with randomness
    /// seeded by `seed`.
    pub fn new(inner: B, seed: u64) -> Self {
        Self {
            inner,
            probability: 1.0,
            filter: Arc::new(|_| true),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            corrupted: AtomicU64::new(0),
        }
    }

    /// Corrupts each matching read with `probability` (clamped to 0..=1;
    /// NaN is 0).
    pub fn with_probability(mut self, probability: f64) -> Self {
        self.probability = if probability.is_nan() {
            0.0
        } else {
            probability.clamp(0.0, 1.0)
        };
        self
    }

    /// Corrupts only reads of keys for which `filter` is true.
    pub fn with_filter(mut self, filter: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.filter = Arc::new(filter);
        self
    }

    /// How many reads were corrupted.
    pub fn corrupted(&self) -> u64 {
        self.corrupted.load(Ordering::SeqCst)
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    fn damage(&self, key: &str, data: Bytes) -> Bytes {
        if data.is_empty() || !(self.filter)(key) {
            return data;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        if !rng.random_bool(self.probability) {
            return data;
        }
        let mut damaged = data.to_vec();
        let at = rng.random_range(0..damaged.len());
        damaged[at] ^= rng.random_range(1..=u8::MAX);
        self.corrupted.fetch_add(1, Ordering::SeqCst);
        damaged.into()
    }
}

#[async_trait]
impl<B: Backend> Backend for Corrupting<B> {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        self.inner.put(key, data, mode).await
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let data = self.inner.get(key).await?;
        Ok(self.damage(key, data))
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        let data = self.inner.get_range(key, range).await?;
        Ok(self.damage(key, data))
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

/// A backend that loses objects: on demand ([`Lossy::lose`],
/// [`Lossy::lose_prefix`] delete from the inner backend), or silently, by
/// acknowledging puts of matching keys without storing them
/// ([`Lossy::drop_puts`]).
pub struct Lossy<B> {
    inner: B,
    drop_filter: Mutex<Option<KeyFilter>>,
    dropped: AtomicU64,
}

impl<B: fmt::Debug> fmt::Debug for Lossy<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lossy")
            .field("inner", &self.inner)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Lossy<B> {
    /// Wraps `inner`, losing nothing until told to.
    pub fn new(inner: B) -> Self {
        Self {
            inner,
            drop_filter: Mutex::new(None),
            dropped: AtomicU64::new(0),
        }
    }

    /// Deletes `key` from the inner backend.
    pub async fn lose(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }

    /// Deletes every object under `prefix` from the inner backend; returns how
    /// many were lost.
    pub async fn lose_prefix(&self, prefix: &str) -> Result<usize> {
        let keys: Vec<String> = self
            .inner
            .list(prefix)
            .map_ok(|meta| meta.key)
            .try_collect()
            .await?;
        for key in &keys {
            self.inner.delete(key).await?;
        }
        Ok(keys.len())
    }

    /// From now on, puts of keys for which `filter` is true report success
    /// and store nothing.
    pub fn drop_puts(&self, filter: impl Fn(&str) -> bool + Send + Sync + 'static) {
        *self.drop_filter.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(filter));
    }

    /// Stops dropping puts.
    pub fn stop_dropping(&self) {
        *self.drop_filter.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// How many puts were dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::SeqCst)
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    fn drops(&self, key: &str) -> bool {
        let filter = self
            .drop_filter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        filter.is_some_and(|f| f(key))
    }
}

#[async_trait]
impl<B: Backend> Backend for Lossy<B> {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        crate::validate_key(key)?;
        if self.drops(key) {
            self.dropped.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        self.inner.put(key, data, mode).await
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        self.inner.get(key).await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
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
