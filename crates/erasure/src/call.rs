//! One call to one child: timeout, retries with backoff, health accounting.

use std::future::Future;
use std::time::{Duration, Instant};

use cairn_backends::{Backend, Error as BError, Result as BResult};
use futures::future::{select, Either};
use futures_timer::Delay;

use crate::config::{Child, ErasureConfig};
use crate::health::{Admit, Health};

/// A child and its health record. Operations take a snapshot of the slots
/// (`Arc`s), so [`replace_child`](crate::ErasureBackend::replace_child) never
/// disturbs a call in flight.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) child: Child,
    pub(crate) health: Health,
}

/// Whether an error is an answer from a working child rather than a fault.
fn is_answer(e: &BError) -> bool {
    matches!(
        e,
        BError::NotFound { .. }
            | BError::AlreadyExists { .. }
            | BError::InvalidKey { .. }
            | BError::KeyConflict { .. }
            | BError::InvalidRange { .. }
    )
}

pub(crate) async fn with_timeout<T>(
    fut: impl Future<Output = BResult<T>>,
    timeout: Option<Duration>,
    key: &str,
) -> BResult<T> {
    // A limit so far away that the timer cannot represent its deadline
    // (`Instant + Duration` would panic) is no limit at all.
    let Some(limit) = timeout.filter(|&t| Instant::now().checked_add(t).is_some()) else {
        return fut.await;
    };
    let fut = std::pin::pin!(fut);
    match select(fut, Delay::new(limit)).await {
        Either::Left((r, _)) => r,
        Either::Right(_) => Err(BError::Timeout {
            key: key.to_owned(),
            millis: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
        }),
    }
}

impl Slot {
    /// Asks the breaker whether a call may go now.
    pub(crate) fn admit(&self) -> Admit {
        self.health.admit()
    }

    /// Runs `op` against the child with the configured timeout and retries,
    /// recording every attempt in the child's health.
    pub(crate) async fn call<'a, T, F, Fut>(
        &'a self,
        config: &ErasureConfig,
        key: &str,
        mut op: F,
    ) -> BResult<T>
    where
        F: FnMut(&'a dyn Backend) -> Fut,
        Fut: Future<Output = BResult<T>>,
    {
        let retry = &config.retry;
        let mut backoff = retry.initial_backoff;
        let mut attempt = 1;
        loop {
            let start = Instant::now();
            let result =
                with_timeout(op(self.child.backend.as_ref()), config.op_timeout, key).await;
            match &result {
                Ok(_) => self.health.success(start.elapsed()),
                Err(e) if is_answer(e) => self.health.success(start.elapsed()),
                Err(e) => self.health.failure(matches!(e, BError::Timeout { .. })),
            }
            match result {
                Err(e) if e.is_transient() && attempt < retry.max_attempts => {
                    Delay::new(backoff).await;
                    backoff = backoff.saturating_mul(2).min(retry.max_backoff);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Lists `prefix` on the child, failing with a timeout if it goes
    /// `op_timeout` without producing the next page: a hung child must not
    /// stall opening, backing up to or scrubbing the whole layout.
    pub(crate) async fn list_all(
        &self,
        config: &crate::ErasureConfig,
        prefix: &str,
    ) -> BResult<Vec<cairn_backends::ObjectMeta>> {
        let mut out = Vec::new();
        self.list_each(config, prefix, |meta| out.push(meta))
            .await?;
        Ok(out)
    }

    /// [`list_all`](Self::list_all), handing each entry to `each` as it
    /// arrives instead of collecting them: merging `k + m` listings this
    /// way holds one copy of the keys, not `k + m`.
    pub(crate) async fn list_each(
        &self,
        config: &crate::ErasureConfig,
        prefix: &str,
        mut each: impl FnMut(cairn_backends::ObjectMeta),
    ) -> BResult<()> {
        use futures::TryStreamExt;
        let started = std::time::Instant::now();
        let mut stream = self.child.backend.list(prefix);
        loop {
            match with_timeout(stream.try_next(), config.op_timeout, prefix).await {
                Ok(Some(meta)) => each(meta),
                Ok(None) => {
                    self.health.success(started.elapsed());
                    return Ok(());
                }
                Err(e) => {
                    self.health.failure(matches!(e, BError::Timeout { .. }));
                    return Err(e);
                }
            }
        }
    }

    /// Records that the child returned data that failed verification.
    pub(crate) fn corrupt(&self) {
        self.health.failure(false);
    }
}
