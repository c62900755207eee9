//! Application-consistency callbacks around backups and restores.
//!
//! A database is frozen (or flushed, or snapshotted at the volume level)
//! before its files are read, and thawed afterwards whatever happened; a
//! restored tree is validated by the application before it is used. These
//! are the library's hooks for that: set them with
//! [`Repository::set_hooks`](crate::Repository::set_hooks). The CLI's
//! `--pre-hook`/`--post-hook` options are the shell-command form of the same
//! idea.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::{BackupResult, RestoreSummary};

/// What a hook returns when it refuses: any error, kept as the source of
/// [`Error::Hook`](crate::Error::Hook).
pub type HookError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How a backup ended, as [`Hooks::after_backup`] sees it.
#[derive(Debug)]
#[non_exhaustive]
pub enum BackupOutcome<'a> {
    /// The snapshot is stored.
    Stored(&'a BackupResult),
    /// The backup failed or was cancelled: no snapshot (the error follows
    /// the hook's return).
    Failed(&'a crate::Error),
}

/// Callbacks around [`Repository::backup`](crate::Repository::backup) and
/// [`Repository::restore`](crate::Repository::restore). Every method has a
/// default that does nothing.
#[async_trait]
pub trait Hooks: Send + Sync {
    /// Before anything is read. An error aborts the backup before it starts
    /// ([`Error::Hook`](crate::Error::Hook), stage `before backup`);
    /// [`after_backup`](Self::after_backup) is not called then.
    async fn before_backup(&self, _paths: &[PathBuf]) -> Result<(), HookError> {
        Ok(())
    }

    /// After every backup that `before_backup` let start — stored, failed or
    /// cancelled — so a thaw always follows a freeze. An error here after a
    /// stored snapshot is [`Error::Hook`](crate::Error::Hook) (stage `after
    /// backup`): the snapshot stays stored (its id was passed to this hook).
    async fn after_backup(
        &self,
        _paths: &[PathBuf],
        _outcome: BackupOutcome<'_>,
    ) -> Result<(), HookError> {
        Ok(())
    }

    /// After a restore completed into `target`: the application's own
    /// validation of what was restored. An error is
    /// [`Error::Hook`](crate::Error::Hook) (stage `after restore`); the
    /// files stay where they are.
    async fn after_restore(
        &self,
        _target: &Path,
        _summary: &RestoreSummary,
    ) -> Result<(), HookError> {
        Ok(())
    }
}

/// No hooks.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;
impl Hooks for NoHooks {}
