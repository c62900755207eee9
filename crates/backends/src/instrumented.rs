//! [`Instrumented`]: traces and metrics for every call to a backend.
//!
//! Each call runs in a `tracing` span `cairn.backend` (fields `backend`,
//! `op`, `key`, and when it ends `bytes`, `outcome`, `micros`), and records
//! through the [`metrics`] facade (whatever recorder the host installed;
//! none: free):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `cairn_backend_requests_total` | counter | `backend`, `op`, `outcome` (`ok`, `not_found`, `exists`, `transient`, `error`) |
//! | `cairn_backend_request_duration_seconds` | histogram | `backend`, `op` |
//! | `cairn_backend_bytes_total` | counter | `backend`, `direction` (`up`, `down`) |
//!
//! The names are stable; `cairn::metrics` lists every metric Cairn emits.

use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use tracing::Instrument;

use crate::{Backend, Error, ObjectMeta, PutMode, Result};

/// Requests, by backend, operation and outcome.
pub const REQUESTS_TOTAL: &str = "cairn_backend_requests_total";
/// Request latency in seconds, by backend and operation.
pub const REQUEST_DURATION_SECONDS: &str = "cairn_backend_request_duration_seconds";
/// Object bytes moved, by backend and direction.
pub const BYTES_TOTAL: &str = "cairn_backend_bytes_total";

/// A [`Backend`] that traces and counts every call to another.
#[derive(Debug, Clone)]
pub struct Instrumented<B> {
    inner: B,
    name: Arc<str>,
}

impl<B: Backend> Instrumented<B> {
    /// Wraps `inner`; `name` labels its spans and metrics (e.g. a child's
    /// name in an erasure layout, or `repository`).
    pub fn new(inner: B, name: impl Into<Arc<str>>) -> Self {
        Instrumented {
            inner,
            name: name.into(),
        }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// Runs one call: span, latency, outcome, bytes.
    async fn observe<T, F>(&self, op: &'static str, key: &str, up: u64, call: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
        T: Sized + Moved,
    {
        let span = tracing::debug_span!(
            "cairn.backend",
            backend = %self.name,
            op,
            key,
            bytes = tracing::field::Empty,
            outcome = tracing::field::Empty,
            micros = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = call.instrument(span.clone()).await;
        let elapsed = started.elapsed();
        let outcome = outcome(&result);
        let bytes = up + result.as_ref().map_or(0, Moved::bytes_down);
        span.record("bytes", bytes);
        span.record("outcome", outcome);
        span.record("micros", elapsed.as_micros() as u64);
        tracing::debug!(parent: &span, "backend call");
        let backend = self.name.to_string();
        metrics::counter!(REQUESTS_TOTAL, "backend" => backend.clone(), "op" => op, "outcome" => outcome)
            .increment(1);
        metrics::histogram!(REQUEST_DURATION_SECONDS, "backend" => backend.clone(), "op" => op)
            .record(elapsed.as_secs_f64());
        if up > 0 && result.is_ok() {
            metrics::counter!(BYTES_TOTAL, "backend" => backend.clone(), "direction" => "up")
                .increment(up);
        }
        let down = result.as_ref().map_or(0, Moved::bytes_down);
        if down > 0 {
            metrics::counter!(BYTES_TOTAL, "backend" => backend, "direction" => "down")
                .increment(down);
        }
        result
    }
}

/// How many bytes a call's answer brought down.
trait Moved {
    fn bytes_down(&self) -> u64 {
        0
    }
}
impl Moved for () {}
impl Moved for ObjectMeta {}
impl Moved for Bytes {
    fn bytes_down(&self) -> u64 {
        self.len() as u64
    }
}

fn outcome<T>(result: &Result<T>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => error_outcome(e),
    }
}

fn error_outcome(e: &Error) -> &'static str {
    if e.is_not_found() {
        "not_found"
    } else if e.is_already_exists() {
        "exists"
    } else if e.is_transient() {
        "transient"
    } else {
        "error"
    }
}

#[async_trait]
impl<B: Backend> Backend for Instrumented<B> {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        let up = data.len() as u64;
        self.observe("put", key, up, self.inner.put(key, data, mode))
            .await
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        self.observe("get", key, 0, self.inner.get(key)).await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.observe("get_range", key, 0, self.inner.get_range(key, range))
            .await
    }

    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.observe("stat", key, 0, self.inner.stat(key)).await
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        // One span and one request counted per listing, when it ends.
        let state = Listing {
            span: tracing::debug_span!(
                "cairn.backend",
                backend = %self.name,
                op = "list",
                key = prefix,
                entries = tracing::field::Empty,
                outcome = tracing::field::Empty,
            ),
            inner: self.inner.list(prefix),
            backend: self.name.clone(),
            started: Instant::now(),
            entries: 0,
            outcome: "ok",
        };
        futures::stream::unfold(Some(state), |state| async move {
            let mut s = state?;
            let span = s.span.clone();
            match s.inner.next().instrument(span).await {
                Some(item) => {
                    match &item {
                        Ok(_) => s.entries += 1,
                        Err(e) => s.outcome = error_outcome(e),
                    }
                    Some((item, Some(s)))
                }
                None => {
                    s.finish();
                    None
                }
            }
        })
        .boxed()
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.observe("delete", key, 0, self.inner.delete(key)).await
    }
}

/// A listing under way, and what it has seen.
struct Listing<'a> {
    span: tracing::Span,
    inner: BoxStream<'a, Result<ObjectMeta>>,
    backend: Arc<str>,
    started: Instant,
    entries: u64,
    outcome: &'static str,
}

impl Listing<'_> {
    fn finish(&self) {
        self.span.record("entries", self.entries);
        self.span.record("outcome", self.outcome);
        tracing::debug!(parent: &self.span, "backend listing");
        let backend = self.backend.to_string();
        metrics::counter!(REQUESTS_TOTAL, "backend" => backend.clone(), "op" => "list", "outcome" => self.outcome)
            .increment(1);
        metrics::histogram!(REQUEST_DURATION_SECONDS, "backend" => backend, "op" => "list")
            .record(self.started.elapsed().as_secs_f64());
    }
}
