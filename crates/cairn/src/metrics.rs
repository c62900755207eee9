//! The metrics Cairn emits, through the [`metrics`](https://docs.rs/metrics)
//! facade: install any recorder (Prometheus, OpenTelemetry, statsd…) in the
//! host service and they appear; install none and they cost nothing. The
//! names and labels below are stable.
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `cairn_backend_requests_total` | counter | `backend`, `op`, `outcome` | calls to a storage backend (`outcome`: `ok`, `not_found`, `exists`, `transient`, `error`) |
//! | `cairn_backend_request_duration_seconds` | histogram | `backend`, `op` | their latency |
//! | `cairn_backend_bytes_total` | counter | `backend`, `direction` (`up`, `down`) | object bytes moved |
//! | `cairn_operation_duration_seconds` | histogram | `operation` | backup, restore, check, scrub… from start to end |
//! | `cairn_operation_errors_total` | counter | `operation` | operations that failed |
//! | `cairn_last_success_timestamp_seconds` | gauge | `operation` | Unix time the operation last succeeded: **the metric to alert on** (e.g. no backup for 26 h) |
//! | `cairn_backup_bytes_read_total` | counter | | file bytes read (or found unchanged) |
//! | `cairn_backup_bytes_added_total` | counter | | new data, before compression |
//! | `cairn_backup_bytes_stored_total` | counter | | new data as stored (compressed, sealed) |
//! | `cairn_backup_bytes_deduplicated_total` | counter | | bytes read that were already stored |
//! | `cairn_backup_files_total` | counter | `state` (`new`, `changed`, `unchanged`) | files backed up |
//! | `cairn_backup_warnings_total` | counter | | entries skipped or possibly torn |
//! | `cairn_restore_bytes_written_total` | counter | | file bytes restored |
//! | `cairn_restore_bytes_fetched_total` | counter | | bytes downloaded for restores |
//! | `cairn_check_errors` | gauge | | problems the last check found |
//! | `cairn_erasure_under_replicated_objects` | gauge | | objects written while a child was down, not yet healed |
//! | `cairn_erasure_child_up` | gauge | `child` | 1 while a child's circuit is closed, 0 while open or probing |
//! | `cairn_erasure_child_failures_total` | gauge | `child` | failed calls to a child since the process started |
//!
//! Every operation also runs in a `tracing` span (`cairn.backup`,
//! `cairn.restore`, `cairn.check`, …) and every backend call in a
//! `cairn.backend` span; see [`backends::instrumented`](crate::backends::instrumented).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use cairn_backends::instrumented::{BYTES_TOTAL, REQUESTS_TOTAL, REQUEST_DURATION_SECONDS};

/// Operation duration, by operation.
pub const OPERATION_DURATION_SECONDS: &str = "cairn_operation_duration_seconds";
/// Failed operations, by operation.
pub const OPERATION_ERRORS_TOTAL: &str = "cairn_operation_errors_total";
/// Unix time of the last success, by operation.
pub const LAST_SUCCESS_TIMESTAMP_SECONDS: &str = "cairn_last_success_timestamp_seconds";
/// File bytes read by backups.
pub const BACKUP_BYTES_READ_TOTAL: &str = "cairn_backup_bytes_read_total";
/// New data added by backups, before compression.
pub const BACKUP_BYTES_ADDED_TOTAL: &str = "cairn_backup_bytes_added_total";
/// New data as stored.
pub const BACKUP_BYTES_STORED_TOTAL: &str = "cairn_backup_bytes_stored_total";
/// Bytes read that were already stored.
pub const BACKUP_BYTES_DEDUPLICATED_TOTAL: &str = "cairn_backup_bytes_deduplicated_total";
/// Files backed up, by state.
pub const BACKUP_FILES_TOTAL: &str = "cairn_backup_files_total";
/// Backup warnings.
pub const BACKUP_WARNINGS_TOTAL: &str = "cairn_backup_warnings_total";
/// File bytes restored.
pub const RESTORE_BYTES_WRITTEN_TOTAL: &str = "cairn_restore_bytes_written_total";
/// Bytes fetched by restores.
pub const RESTORE_BYTES_FETCHED_TOTAL: &str = "cairn_restore_bytes_fetched_total";
/// Problems the last check found.
pub const CHECK_ERRORS: &str = "cairn_check_errors";
/// Objects awaiting healing in an erasure layout.
pub const ERASURE_UNDER_REPLICATED_OBJECTS: &str = "cairn_erasure_under_replicated_objects";
/// 1 while a child's circuit is closed.
pub const ERASURE_CHILD_UP: &str = "cairn_erasure_child_up";
/// Failed calls to a child.
pub const ERASURE_CHILD_FAILURES_TOTAL: &str = "cairn_erasure_child_failures_total";

/// Times one operation and records its outcome when finished: for
/// embedders who drive the layer crates themselves (the facade's own
/// methods already do this).
#[derive(Debug)]
pub struct Operation {
    name: &'static str,
    started: Instant,
}

impl Operation {
    /// Starts timing `name` (`backup`, `restore`, `check`, `prune`…).
    pub fn start(name: &'static str) -> Self {
        Operation {
            name,
            started: Instant::now(),
        }
    }

    /// Records the duration, and the error count or the success time.
    pub fn finish<T, E>(self, result: &Result<T, E>) {
        metrics::histogram!(OPERATION_DURATION_SECONDS, "operation" => self.name)
            .record(self.started.elapsed().as_secs_f64());
        match result {
            Ok(_) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                metrics::gauge!(LAST_SUCCESS_TIMESTAMP_SECONDS, "operation" => self.name).set(now);
            }
            Err(_) => {
                metrics::counter!(OPERATION_ERRORS_TOTAL, "operation" => self.name).increment(1)
            }
        }
    }
}

/// Counts what a backup did (`warnings`: how many it reported).
pub fn backup(s: &crate::cas::BackupSummary, warnings: usize) {
    metrics::counter!(BACKUP_BYTES_READ_TOTAL).increment(s.bytes_read);
    metrics::counter!(BACKUP_BYTES_ADDED_TOTAL).increment(s.bytes_added_raw);
    metrics::counter!(BACKUP_BYTES_STORED_TOTAL).increment(s.bytes_added_stored);
    metrics::counter!(BACKUP_BYTES_DEDUPLICATED_TOTAL)
        .increment(s.bytes_read.saturating_sub(s.bytes_added_raw));
    for (state, n) in [
        ("new", s.files_new),
        ("changed", s.files_changed),
        ("unchanged", s.files_unchanged),
    ] {
        metrics::counter!(BACKUP_FILES_TOTAL, "state" => state).increment(n);
    }
    metrics::counter!(BACKUP_WARNINGS_TOTAL).increment(warnings as u64);
}

/// Sets the gauges of an erasure layout's state.
#[cfg(feature = "erasure")]
pub fn erasure(store: &cairn_erasure::ErasureBackend, under_replicated: u64) {
    metrics::gauge!(ERASURE_UNDER_REPLICATED_OBJECTS).set(under_replicated as f64);
    for c in store.health_report().children {
        let up = matches!(c.state, cairn_erasure::BreakerState::Closed);
        metrics::gauge!(ERASURE_CHILD_UP, "child" => c.name.clone()).set(f64::from(u8::from(up)));
        metrics::gauge!(ERASURE_CHILD_FAILURES_TOTAL, "child" => c.name).set(c.failures as f64);
    }
}

/// Runs `fut` as operation `name` inside `span`: its duration, its
/// outcome, its error converted to the facade's.
pub(crate) async fn timed<T, E>(
    name: &'static str,
    span: tracing::Span,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> crate::Result<T>
where
    crate::Error: From<E>,
{
    use tracing::Instrument;
    let op = Operation::start(name);
    let result = fut.instrument(span).await;
    op.finish(&result);
    Ok(result?)
}
