//! What a backup reports about entries it could not take as they were.

use std::path::PathBuf;

/// What a [`Warning`] is about.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// The entry could not be backed up; the backup went on without it.
    Skipped,
    /// The file changed while it was read (size, mtime or ctime differ after
    /// reading): it was stored, but the copy may be torn.
    ChangedWhileRead,
}

/// An entry the backup could not take as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The path concerned.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
    /// Whether the entry was skipped or stored with a caveat.
    pub kind: WarningKind,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}
