//! Retrying transient errors with exponential backoff.

use std::future::Future;
use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use futures_timer::Delay;

use crate::util::random_u64;
use crate::{Backend, Error, ObjectMeta, PutMode, Result};

/// How [`Retrying`] retries: how many attempts, and how long to wait between.
///
/// The wait before retry `n` (counting from 1) is drawn uniformly from
/// `[d/2, d]` where `d = min(max_backoff, initial_backoff * 2^(n-1))`: the
/// jitter keeps many clients that failed together from retrying together.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (0 counts as 1). Default 5.
    pub max_attempts: u32,
    /// The wait before the first retry. Default 100 ms.
    pub initial_backoff: Duration,
    /// The longest wait between attempts. Default 5 s.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The default policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`max_attempts`](Self::max_attempts).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets [`initial_backoff`](Self::initial_backoff).
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets [`max_backoff`](Self::max_backoff).
    pub fn with_max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// The wait before retry number `retry` (1 for the first retry).
    pub fn backoff(&self, retry: u32) -> Duration {
        let doubling = 2u32.saturating_pow(retry.saturating_sub(1));
        let full = self
            .initial_backoff
            .saturating_mul(doubling)
            .min(self.max_backoff);
        let half = full / 2;
        let spread = u64::try_from((full - half).as_nanos()).unwrap_or(u64::MAX);
        let extra = random_u64()
            .checked_rem(spread.saturating_add(1))
            .unwrap_or(0);
        half + Duration::from_nanos(extra)
    }

    fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }
}

/// A [`Backend`] that retries the transient errors
/// ([`Error::is_transient`]) of another, as its [`RetryPolicy`] says.
///
/// An operation that failed transiently may have taken effect anyway (the
/// reply was lost), so retries interpret what they see:
///
/// - **Create-only put**: if a retry finds the key taken
///   ([`Error::AlreadyExists`]) after an earlier attempt failed transiently,
///   the object is read back: the put succeeds if the stored bytes equal
///   ours (our earlier attempt landed — or someone stored the same bytes,
///   which for content-addressed objects is the same thing), and is
///   `AlreadyExists` otherwise. So exactly one of several racing create-only
///   puts of different bytes still succeeds. If the read-back finds
///   nothing ([`Error::NotFound`]), nothing of ours is stored: the put is
///   tried again (within the attempt budget) rather than reported as
///   `AlreadyExists`, which callers of content-addressed stores take as
///   "stored". Without an earlier transient failure, `AlreadyExists` is
///   returned as is.
/// - **Delete**: [`Error::NotFound`] is returned as is, even on a retry after
///   a transient failure that may have deleted the object: it is gone either
///   way, and callers that delete idempotently treat `NotFound` as done.
/// - **List**: a transient error before the first entry restarts the
///   listing; an error after entries were yielded is passed on, since
///   restarting would repeat them.
/// - Other errors, and the last attempt's error, are returned unchanged.
///
/// ```
/// use std::time::Duration;
/// use cairn_backends::{Backend, MemoryBackend, RetryPolicy, Retrying};
/// let store = Retrying::new(
///     MemoryBackend::new(),
///     RetryPolicy::new().with_max_attempts(3).with_initial_backoff(Duration::from_millis(10)),
/// );
/// # let _ = store;
/// ```
#[derive(Debug, Clone)]
pub struct Retrying<B> {
    inner: B,
    policy: RetryPolicy,
}

impl<B: Backend> Retrying<B> {
    /// Wraps `inner`, retrying as `policy` says.
    pub fn new(inner: B, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// The retry policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The wrapped backend, unwrapped.
    pub fn into_inner(self) -> B {
        self.inner
    }

    /// Runs `op` until it succeeds, fails for good, or runs out of attempts.
    /// Also says whether an attempt before the last failed transiently.
    async fn attempt<T, F, Fut>(&self, mut op: F) -> (Result<T>, bool)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut failed_before = false;
        let mut attempt = 1;
        loop {
            match op().await {
                Err(e) if e.is_transient() && attempt < self.policy.attempts() => {
                    failed_before = true;
                    Delay::new(self.policy.backoff(attempt)).await;
                    attempt += 1;
                }
                result => return (result, failed_before),
            }
        }
    }
}

#[async_trait]
impl<B: Backend> Backend for Retrying<B> {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        // Rounds of "put, then read back on a doubtful AlreadyExists": a
        // read-back that finds nothing means the key was taken and is free
        // again (a create-only put is then simply tried anew), bounded by the
        // same attempt budget.
        let (mut round, mut doubtful) = (1, false);
        loop {
            let (result, failed_before) = self
                .attempt(|| self.inner.put(key, data.clone(), mode))
                .await;
            // Any transient failure so far may have stored our bytes.
            doubtful |= failed_before;
            match result {
                Err(Error::AlreadyExists { .. }) if doubtful && mode == PutMode::CreateOnly => {
                    match self.attempt(|| self.inner.get(key)).await.0 {
                        Ok(stored) if stored == data => return Ok(()),
                        Ok(_) => {
                            return Err(Error::AlreadyExists {
                                key: key.to_owned(),
                            })
                        }
                        // Our earlier attempt did not land (or was removed):
                        // "exists" was not about our bytes. Put again.
                        Err(Error::NotFound { .. }) if round < self.policy.attempts() => {
                            Delay::new(self.policy.backoff(round)).await;
                            round += 1;
                        }
                        Err(Error::NotFound { .. }) => {
                            return Err(Error::Backend {
                                key: key.to_owned(),
                                message: "create-only put reported the key taken, \
                                          but nothing is stored there"
                                    .into(),
                                transient: true,
                            })
                        }
                        Err(e) => return Err(e),
                    }
                }
                result => return result,
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        self.attempt(|| self.inner.get(key)).await.0
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.attempt(|| self.inner.get_range(key, range.clone()))
            .await
            .0
    }

    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.attempt(|| self.inner.stat(key)).await.0
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        stream::once(async move {
            let mut attempt = 1;
            loop {
                let mut entries = self.inner.list(prefix);
                match entries.next().await {
                    Some(Err(e)) if e.is_transient() && attempt < self.policy.attempts() => {
                        Delay::new(self.policy.backoff(attempt)).await;
                        attempt += 1;
                    }
                    // An ended stream must not be polled again.
                    None => return stream::empty().boxed(),
                    Some(first) => return stream::once(async { first }).chain(entries).boxed(),
                }
            }
        })
        .flatten()
        .boxed()
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.attempt(|| self.inner.delete(key)).await.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let policy = RetryPolicy::new()
            .with_initial_backoff(Duration::from_millis(100))
            .with_max_backoff(Duration::from_millis(1000));
        for _ in 0..100 {
            let first = policy.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = policy.backoff(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = policy.backoff(40);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn zero_attempts_means_one() {
        assert_eq!(RetryPolicy::new().with_max_attempts(0).attempts(), 1);
    }
}
