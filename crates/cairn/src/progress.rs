//! One progress trait for every long operation.

use std::path::Path;
use std::sync::Arc;

use crate::cas::{BackupProgress, Warning};
use cairn_recovery::RestoreProgress;

/// Receives progress from backups and restores (called from worker
/// threads: keep it cheap). Every method has a default that does nothing.
pub trait Progress: Send + Sync {
    /// Backup: a file is about to be read (`size` from `lstat`).
    fn backup_file(&self, _path: &Path, _size: u64) {}
    /// Backup: `n` more bytes of file contents were read (or found unchanged).
    fn backup_bytes(&self, _n: u64) {}
    /// Backup: an entry was skipped or may be torn.
    fn backup_warning(&self, _warning: &Warning) {}
    /// Restore: `n` more bytes of file contents were written.
    fn restore_bytes(&self, _n: u64) {}
    /// Restore: the file at `path` (in the target) is complete, contents and
    /// metadata; called once per restored file (files done, current path).
    fn restore_file(&self, _path: &Path) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;
impl Progress for NoProgress {}

/// Feeds a [`Progress`] from the layers' own progress traits.
pub(crate) struct Bridge(pub(crate) Arc<dyn Progress>);

impl BackupProgress for Bridge {
    fn file(&self, path: &Path, size: u64) {
        self.0.backup_file(path, size);
    }
    fn bytes(&self, n: u64) {
        self.0.backup_bytes(n);
    }
    fn warning(&self, warning: &Warning) {
        self.0.backup_warning(warning);
    }
}

impl RestoreProgress for Bridge {
    fn bytes(&self, n: u64) {
        self.0.restore_bytes(n);
    }
    fn file_done(&self, path: &Path) {
        self.0.restore_file(path);
    }
}
