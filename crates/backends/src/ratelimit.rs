//! Bandwidth and request-rate limits: token buckets in front of a backend.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use futures_timer::Delay;

use crate::{Backend, ObjectMeta, PutMode, Result};

/// The limits a [`Limiter`] enforces. `0` (the default) means unlimited.
///
/// ```
/// use cairn_backends::RateLimits;
/// // 1 MiB/s up, 4 MiB/s down, 50 requests per second.
/// let limits = RateLimits::new()
///     .with_upload(1 << 20)
///     .with_download(4 << 20)
///     .with_requests(50);
/// assert_eq!(limits.upload_bytes_per_sec, 1 << 20);
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Bytes per second sent by `put` (0: unlimited).
    pub upload_bytes_per_sec: u64,
    /// Bytes per second received by `get` and `get_range` (0: unlimited).
    pub download_bytes_per_sec: u64,
    /// Calls per second of every kind (0: unlimited). A listing counts once.
    pub requests_per_sec: u64,
    /// How far ahead of the rate a burst may run after an idle spell (the
    /// bucket holds `rate * burst` tokens). Default 250 ms.
    pub burst: Duration,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            upload_bytes_per_sec: 0,
            download_bytes_per_sec: 0,
            requests_per_sec: 0,
            burst: Duration::from_millis(250),
        }
    }
}

impl RateLimits {
    /// No limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`upload_bytes_per_sec`](Self::upload_bytes_per_sec).
    pub fn with_upload(mut self, bytes_per_sec: u64) -> Self {
        self.upload_bytes_per_sec = bytes_per_sec;
        self
    }

    /// Sets [`download_bytes_per_sec`](Self::download_bytes_per_sec).
    pub fn with_download(mut self, bytes_per_sec: u64) -> Self {
        self.download_bytes_per_sec = bytes_per_sec;
        self
    }

    /// Sets [`requests_per_sec`](Self::requests_per_sec).
    pub fn with_requests(mut self, per_sec: u64) -> Self {
        self.requests_per_sec = per_sec;
        self
    }

    /// Sets [`burst`](Self::burst).
    pub fn with_burst(mut self, burst: Duration) -> Self {
        self.burst = burst;
        self
    }

    /// Whether nothing is limited.
    pub fn is_unlimited(&self) -> bool {
        self.upload_bytes_per_sec == 0
            && self.download_bytes_per_sec == 0
            && self.requests_per_sec == 0
    }
}

/// What a [`Limiter`] meters.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meter {
    /// Bytes sent.
    Upload,
    /// Bytes received.
    Download,
    /// Calls.
    Requests,
}

/// A token bucket that may run into debt: a request larger than the bucket
/// (a 16 MiB pack at 1 MiB/s) is let through after the wait its size costs,
/// rather than never.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: u64, burst: Duration, now: Instant) -> Option<Bucket> {
        if rate == 0 {
            return None;
        }
        let rate = rate as f64;
        // At least one whole request's worth for the request meter.
        let capacity = (rate * burst.as_secs_f64()).max(1.0);
        Some(Bucket {
            rate,
            capacity,
            tokens: capacity,
            last: now,
        })
    }

    /// Takes `n` tokens at `now`; returns how long the caller must wait
    /// before acting (zero when the bucket covered it).
    fn take(&mut self, n: u64, now: Instant) -> Duration {
        // Callers racing may present an earlier `now` than the last one.
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        if now > self.last {
            self.last = now;
        }
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.tokens -= n as f64;
        if self.tokens >= 0.0 {
            return Duration::ZERO;
        }
        Duration::try_from_secs_f64(-self.tokens / self.rate).unwrap_or(Duration::MAX)
    }
}

/// Token buckets for upload bytes, download bytes and requests. One limiter
/// may be shared by several [`RateLimited`] backends (say every child of an
/// erasure layout that goes over one link), or each child may have its own.
#[derive(Debug)]
pub struct Limiter {
    limits: RateLimits,
    up: Option<Mutex<Bucket>>,
    down: Option<Mutex<Bucket>>,
    requests: Option<Mutex<Bucket>>,
    counts: [AtomicU64; 3],
    waited_micros: AtomicU64,
}

/// What a [`Limiter`] has let through, and how long it held callers back.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimiterStats {
    /// Bytes sent.
    pub bytes_up: u64,
    /// Bytes received.
    pub bytes_down: u64,
    /// Calls.
    pub requests: u64,
    /// Total time callers were told to wait (summed over concurrent callers).
    pub waited: Duration,
}

impl Limiter {
    /// A limiter enforcing `limits`, its buckets full.
    pub fn new(limits: RateLimits) -> Limiter {
        Self::new_at(limits, Instant::now())
    }

    /// [`new`](Self::new) as of `now` (for tests that drive the clock).
    pub fn new_at(limits: RateLimits, now: Instant) -> Limiter {
        let b = |rate| Bucket::new(rate, limits.burst, now).map(Mutex::new);
        Limiter {
            up: b(limits.upload_bytes_per_sec),
            down: b(limits.download_bytes_per_sec),
            requests: b(limits.requests_per_sec),
            limits,
            counts: Default::default(),
            waited_micros: AtomicU64::new(0),
        }
    }

    /// The limits.
    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// Charges `amount` to `meter` at `now` and returns how long the caller
    /// must wait before going ahead. Deterministic: no clock is read.
    pub fn reserve_at(&self, meter: Meter, amount: u64, now: Instant) -> Duration {
        let (bucket, i) = match meter {
            Meter::Upload => (&self.up, 0),
            Meter::Download => (&self.down, 1),
            Meter::Requests => (&self.requests, 2),
        };
        self.counts[i].fetch_add(amount, Ordering::Relaxed);
        let wait = match bucket {
            Some(b) => b
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(amount, now),
            None => Duration::ZERO,
        };
        let micros = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
        self.waited_micros.fetch_add(micros, Ordering::Relaxed);
        wait
    }

    /// Charges `amount` to `meter` and sleeps as long as the limit says
    /// (on a runtime-agnostic timer).
    pub async fn acquire(&self, meter: Meter, amount: u64) {
        let wait = self.reserve_at(meter, amount, Instant::now());
        sleep(wait).await;
    }

    /// Charges a request and `bytes` of `meter` at once, sleeping for the
    /// longer of the two waits.
    async fn acquire_both(&self, meter: Meter, bytes: u64) {
        let now = Instant::now();
        let a = self.reserve_at(Meter::Requests, 1, now);
        let b = self.reserve_at(meter, bytes, now);
        sleep(a.max(b)).await;
    }

    /// What has gone through so far.
    pub fn stats(&self) -> LimiterStats {
        let load = |i: usize| self.counts[i].load(Ordering::Relaxed);
        LimiterStats {
            bytes_up: load(0),
            bytes_down: load(1),
            requests: load(2),
            waited: Duration::from_micros(self.waited_micros.load(Ordering::Relaxed)),
        }
    }
}

async fn sleep(wait: Duration) {
    if !wait.is_zero() {
        Delay::new(wait).await;
    }
}

/// A [`Backend`] whose calls are held to a [`Limiter`]'s rates: uploads are
/// charged before they are sent, downloads when they arrive (their size is
/// known only then; the wait follows), every call (a listing once) against
/// the request rate. Runtime-agnostic: it sleeps on `futures-timer`.
///
/// For an erasure layout, wrap each child (its shards go over that child's
/// link or quota: `Child::new(name, Arc::new(RateLimited::new(store,
/// limits)))`), with one limiter per child or one [`Limiter`] shared by
/// all through [`RateLimited::shared`]; wrapping the layout itself limits
/// the objects before they become shards, and not scrub's shard traffic.
///
/// ```
/// use bytes::Bytes;
/// use cairn_backends::{Backend, MemoryBackend, PutMode, RateLimited, RateLimits};
/// # futures::executor::block_on(async {
/// let store = RateLimited::new(MemoryBackend::new(), RateLimits::new().with_upload(10 << 20));
/// store.put("data/1", Bytes::from_static(b"abc"), PutMode::CreateOnly).await?;
/// assert_eq!(store.limiter().stats().bytes_up, 3);
/// # Ok::<(), cairn_backends::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct RateLimited<B> {
    inner: B,
    limiter: Arc<Limiter>,
}

impl<B> RateLimited<B> {
    /// Wraps `inner` with a limiter of its own.
    pub fn new(inner: B, limits: RateLimits) -> Self {
        Self::shared(inner, Arc::new(Limiter::new(limits)))
    }

    /// Wraps `inner` with a limiter shared with other backends.
    pub fn shared(inner: B, limiter: Arc<Limiter>) -> Self {
        RateLimited { inner, limiter }
    }

    /// The limiter.
    pub fn limiter(&self) -> &Arc<Limiter> {
        &self.limiter
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }
}

#[async_trait]
impl<B: Backend> Backend for RateLimited<B> {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        self.limiter
            .acquire_both(Meter::Upload, data.len() as u64)
            .await;
        self.inner.put(key, data, mode).await
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        self.limiter.acquire(Meter::Requests, 1).await;
        let data = self.inner.get(key).await?;
        self.limiter
            .acquire(Meter::Download, data.len() as u64)
            .await;
        Ok(data)
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.limiter.acquire(Meter::Requests, 1).await;
        let data = self.inner.get_range(key, range).await?;
        self.limiter
            .acquire(Meter::Download, data.len() as u64)
            .await;
        Ok(data)
    }

    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.limiter.acquire(Meter::Requests, 1).await;
        self.inner.stat(key).await
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        stream::once(self.limiter.acquire(Meter::Requests, 1))
            .flat_map(move |()| self.inner.list(prefix))
            .boxed()
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.limiter.acquire(Meter::Requests, 1).await;
        self.inner.delete(key).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_full_bucket_lets_a_burst_through_then_charges_the_rate() {
        let t0 = Instant::now();
        // 1000 B/s, 250 ms burst: 250 tokens.
        let l = Limiter::new_at(RateLimits::new().with_upload(1000), t0);
        assert_eq!(l.reserve_at(Meter::Upload, 250, t0), Duration::ZERO);
        // Empty now: 100 more bytes cost 100 ms.
        assert_eq!(l.reserve_at(Meter::Upload, 100, t0), ms(100));
        // A second caller at the same instant queues behind the first.
        assert_eq!(l.reserve_at(Meter::Upload, 100, t0), ms(200));
        // 200 ms later the debt is paid; 50 ms later 50 tokens are back.
        assert_eq!(
            l.reserve_at(Meter::Upload, 50, t0 + ms(250)),
            Duration::ZERO
        );
        // Nothing else is limited.
        assert_eq!(l.reserve_at(Meter::Download, 1 << 30, t0), Duration::ZERO);
        assert_eq!(l.reserve_at(Meter::Requests, 1 << 30, t0), Duration::ZERO);
        let s = l.stats();
        assert_eq!((s.bytes_up, s.bytes_down), (500, 1 << 30));
        assert_eq!(s.waited, ms(300));
    }

    #[test]
    fn an_object_larger_than_the_bucket_waits_its_size() {
        let t0 = Instant::now();
        let l = Limiter::new_at(RateLimits::new().with_download(1 << 20), t0);
        // 16 MiB at 1 MiB/s with a 256 KiB bucket: 15.75 s of debt.
        let wait = l.reserve_at(Meter::Download, 16 << 20, t0);
        assert_eq!(wait, ms(15_750));
    }

    #[test]
    fn idle_time_refills_only_up_to_the_burst() {
        let t0 = Instant::now();
        let l = Limiter::new_at(RateLimits::new().with_requests(4), t0);
        // 4/s with a 250 ms burst holds one request.
        assert_eq!(l.reserve_at(Meter::Requests, 1, t0), Duration::ZERO);
        assert_eq!(l.reserve_at(Meter::Requests, 1, t0), ms(250));
        // An hour idle still refills just one.
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(l.reserve_at(Meter::Requests, 1, later), Duration::ZERO);
        assert_eq!(l.reserve_at(Meter::Requests, 1, later), ms(250));
        // A clock that goes backwards (racing callers) adds nothing.
        assert_eq!(l.reserve_at(Meter::Requests, 1, t0), ms(500));
    }

    #[test]
    fn zero_means_unlimited() {
        let l = Limiter::new(RateLimits::new());
        assert!(l.limits().is_unlimited());
        let now = Instant::now();
        for m in [Meter::Upload, Meter::Download, Meter::Requests] {
            assert_eq!(l.reserve_at(m, u64::MAX / 2, now), Duration::ZERO);
        }
    }
}
