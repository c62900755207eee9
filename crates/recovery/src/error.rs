//! The one error type of `cairn-recovery`.
//!
//! Rules: one `#[non_exhaustive]` enum for the crate; repository errors are
//! wrapped whole ([`Error::Repository`], transparent) and file-system errors
//! keep the path and the `io::Error` as `source()`, so a caller can downcast
//! to e.g. `cairn_erasure::Error::NotEnoughShards` through the chain. What a
//! check or verify *finds* is not an error: it is a typed issue in the report
//! (`CheckIssue`, `Mismatch`).

use std::path::PathBuf;

/// What can go wrong selecting, restoring, verifying or checking.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The repository failed (the error names the object).
    #[error(transparent)]
    Repository(#[from] cairn_cas_core::Error),
    /// A file-system error on the restore target.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The restore was cancelled through its token; re-running it with
    /// `Overwrite::IfChanged` finishes the work.
    #[error("restore cancelled; re-run with overwrite if-changed to finish")]
    Cancelled,
    /// An include path names nothing in the snapshot.
    #[error("{} is not in the snapshot", path.display())]
    NotInSnapshot {
        /// The path asked for.
        path: PathBuf,
    },
    /// The path names a directory or a symlink where a file was asked for.
    #[error("{} is not a regular file in the snapshot", path.display())]
    NotAFile {
        /// The path asked for.
        path: PathBuf,
    },
    /// A restore finished with some files incomplete; the first error is given.
    #[error(
        "restore incomplete: {} file(s) not restored whole{}; {failed} failure(s), first: {first}",
        files.len(),
        files.first().map(|f| format!(" (e.g. {})", f.display())).unwrap_or_default()
    )]
    Incomplete {
        /// Failures: packs that could not be read, files with a blob in no index.
        failed: usize,
        /// The first failure.
        first: Box<Error>,
        /// The files left incomplete (restore paths), sorted.
        files: Vec<PathBuf>,
    },
}

impl Error {
    /// The POSIX error number a file-system server answers this error with
    /// (`ENOENT`, `EISDIR`, an I/O error's own; `EIO` for the repository's
    /// and other failures): `cairn-browse` answers FUSE with it.
    pub fn errno(&self) -> i32 {
        use rustix::io::Errno;
        let e = match self {
            Error::NotInSnapshot { .. } => Errno::NOENT,
            Error::NotAFile { .. } => Errno::ISDIR,
            Error::Io { source, .. } => return source.raw_os_error().unwrap_or(5),
            _ => Errno::IO,
        };
        e.raw_os_error()
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
