//! The walker's filters and its checks on entries that change under it.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::srcfs::{self, Kind, Meta, OpenError};
use super::walker::Walker;
use super::WarningKind;

impl Walker {
    /// Whether the filter leaves this entry out (before it is opened).
    pub(crate) fn left_out(&self, path: &Path, meta: &Meta) -> bool {
        let f = &self.filter;
        f.exclude.matches(path, meta.kind == Kind::Dir)
            || (meta.kind == Kind::File && f.exclude_larger_than.is_some_and(|n| meta.size > n))
            || (meta.kind == Kind::Dir
                && f.one_file_system
                && self.fs_dev.is_some_and(|d| d != meta.dev))
    }

    /// Whether the open directory holds a name that excludes it.
    pub(crate) fn tagged(&self, dir: std::os::fd::BorrowedFd<'_>) -> bool {
        let f = &self.filter;
        f.exclude_if_present
            .iter()
            .any(|n| srcfs::exists(dir, OsStr::from_bytes(n)))
            || (f.exclude_caches
                && srcfs::read_prefix(
                    dir,
                    OsStr::new("CACHEDIR.TAG"),
                    crate::CACHEDIR_TAG_SIGNATURE.len(),
                )
                .is_some_and(|b| b == crate::CACHEDIR_TAG_SIGNATURE))
    }

    pub(crate) fn skipped(&mut self, path: &Path, e: OpenError) {
        let message = match e {
            OpenError::Replaced(why) => format!("{why}; skipped"),
            OpenError::Io(e) => e.to_string(),
        };
        self.warn(path, message);
    }

    /// Warns if the file changed while it was read: what was stored may mix
    /// old and new contents.
    pub(crate) fn torn(&mut self, path: &Path, file: &std::fs::File, before: &Meta, read: u64) {
        let Ok(after) = srcfs::fstat(file) else {
            return;
        };
        if (after.size, after.mtime, after.ctime) != (before.size, before.mtime, before.ctime)
            || read != before.size
        {
            let message = format!(
                "changed while being read ({} bytes when opened, {read} read, {} now); \
                 the copy may be inconsistent",
                before.size, after.size
            );
            self.warning(path, message, WarningKind::ChangedWhileRead);
        }
    }
}
