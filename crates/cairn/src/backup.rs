//! Backups on the facade: of paths, or of one stream (standard input).

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::cas::{BackupOptions, BackupResult, WarningKind};
use futures::AsyncRead;
use tracing::Instrument;

use crate::hooks::BackupOutcome;
use crate::metrics::{self as m, Operation};
use crate::progress::{Bridge, Progress};
use crate::{Error, Repository, Result};

/// Clears the one-backup-per-handle flag however the backup ends
/// (completion, error, or the future dropped).
struct Running<'a>(&'a AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Whether a stored backup is whole: nothing skipped (torn files are
/// stored, only flagged) and its journal entry written. A backup that is
/// not counts as failed in the metrics, so that
/// `cairn_last_success_timestamp_seconds{operation="backup"}` means a
/// complete backup.
fn complete(done: &BackupResult) -> bool {
    let skipped = done
        .warnings
        .iter()
        .any(|w| w.kind != WarningKind::ChangedWhileRead);
    done.snapshot.summary.errors == 0 && !skipped && !matches!(done.journal, Some(Err(_)))
}

impl Repository {
    /// Backs `paths` up into a new snapshot.
    ///
    /// Metrics: operation `backup` (`backup_dry_run` for a dry run, which
    /// adds to no byte counter); a backup that skipped unreadable entries or
    /// could not write its journal entry returns `Ok` but counts as failed.
    pub async fn backup(
        &self,
        paths: &[PathBuf],
        opts: &BackupOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<BackupResult> {
        let span =
            tracing::info_span!("cairn.backup", paths = ?paths, snapshot = tracing::field::Empty);
        let progress = Arc::new(Bridge(progress));
        let run = crate::cas::backup(&self.inner, paths, opts, progress);
        self.guarded_backup(paths, opts, span, run).await
    }

    /// Backs up what `reader` yields as one file called `name` (e.g.
    /// standard input, or a database dump piped in), like
    /// [`backup`](Self::backup).
    pub async fn backup_stream<R>(
        &self,
        reader: R,
        name: &str,
        opts: &BackupOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<BackupResult>
    where
        R: AsyncRead + Unpin + Send,
    {
        let span = tracing::info_span!(
            "cairn.backup",
            stream = name,
            snapshot = tracing::field::Empty
        );
        let progress = Arc::new(Bridge(progress));
        let run = crate::cas::backup_stream(&self.inner, reader, name, opts, progress);
        self.guarded_backup(&[PathBuf::from(name)], opts, span, run)
            .await
    }

    /// One backup at a time, the hooks around it, its span and metrics.
    async fn guarded_backup(
        &self,
        paths: &[PathBuf],
        opts: &BackupOptions,
        span: tracing::Span,
        run: impl Future<Output = crate::cas::Result<BackupResult>>,
    ) -> Result<BackupResult> {
        if self.backing_up.swap(true, Ordering::AcqRel) {
            return Err(Error::BackupRunning);
        }
        let _running = Running(&self.backing_up);
        let hooks = self.hooks();
        hooks
            .before_backup(paths)
            .await
            .map_err(|source| Error::Hook {
                stage: "before backup",
                source,
            })?;
        let op = Operation::start(match opts.dry_run {
            true => "backup_dry_run",
            false => "backup",
        });
        let result = run.instrument(span.clone()).await;
        match &result {
            Ok(done) => {
                if let Some(id) = &done.snapshot_id {
                    span.record("snapshot", id.as_str());
                }
                if !opts.dry_run {
                    m::backup(&done.snapshot.summary, done.warnings.len());
                }
                op.finish(&if complete(done) { Ok(()) } else { Err(()) });
            }
            Err(_) => op.finish(&result),
        }
        if !opts.dry_run {
            self.record_erasure_metrics().await;
        }
        let result = result.map_err(Error::from);
        let outcome = match &result {
            Ok(done) => BackupOutcome::Stored(done),
            Err(e) => BackupOutcome::Failed(e),
        };
        let after = hooks.after_backup(paths, outcome).await;
        let done = result?;
        after.map_err(|source| Error::Hook {
            stage: "after backup",
            source,
        })?;
        Ok(done)
    }

    /// Sets the erasure gauges (under-replicated objects, child states):
    /// after every backup, and whenever a service wants fresh values.
    pub async fn record_erasure_metrics(&self) {
        #[cfg(feature = "erasure")]
        if let Some(store) = &self.erasure {
            let degraded = store.degraded().await;
            m::erasure(store, degraded.objects);
        }
    }
}
