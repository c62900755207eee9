//! The one error type of `cairn-browse`.
//!
//! Every failure maps to the POSIX error number a file-system server
//! answers with ([`Error::errno`]): the view's own (no such entry, a
//! forgotten inode, the wrong kind of entry) and those of the layers below,
//! kept whole as the source so a caller can still downcast through the
//! chain (e.g. to `cairn_erasure::Error::NotEnoughShards`).

use crate::EntryKind;

/// What can go wrong looking up, listing or reading in a [`SnapshotFs`](crate::SnapshotFs).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A directory has no entry of that name.
    #[error("no entry {name:?} in directory inode {parent}")]
    NoEntry {
        /// The directory's inode.
        parent: u64,
        /// The name asked for (lossy UTF-8).
        name: String,
    },
    /// An inode that is not (or no longer) known: it was never given out,
    /// or was forgotten and evicted.
    #[error("inode {ino} is unknown or was forgotten")]
    StaleInode {
        /// The inode asked for.
        ino: u64,
    },
    /// An entry of another kind than the operation needs (reading a
    /// directory, listing a file…).
    #[error("inode {ino} is a {is:?}, not a {wanted:?}")]
    WrongKind {
        /// The inode asked for.
        ino: u64,
        /// What it is.
        is: EntryKind,
        /// What the operation needs.
        wanted: EntryKind,
    },
    /// Reading a file's bytes failed (the reader's error, which carries
    /// the repository's as its source).
    #[error("{what}: {source}")]
    Read {
        /// What was being read (`inode N`).
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Opening a file's reader failed.
    #[error(transparent)]
    Recovery(#[from] cairn_recovery::Error),
    /// The repository failed (a tree or snapshot could not be read; the
    /// error names the object).
    #[error(transparent)]
    Repository(#[from] cairn_cas_core::Error),
}

impl Error {
    /// The POSIX error number a file-system server answers this error with
    /// (`ENOENT`, `ESTALE`, `ENOTDIR`, `EISDIR`, `EINVAL`; `EIO` for the
    /// repository's and other failures).
    pub fn errno(&self) -> i32 {
        use rustix::io::Errno;
        use EntryKind::{Dir, File};
        let e = match self {
            Error::NoEntry { .. } => Errno::NOENT,
            Error::StaleInode { .. } => Errno::STALE,
            Error::WrongKind { is, wanted, .. } => match (is, wanted) {
                (_, Dir) => Errno::NOTDIR,
                (Dir, File) => Errno::ISDIR,
                _ => Errno::INVAL,
            },
            Error::Read { source, .. } => return source.raw_os_error().unwrap_or(5),
            Error::Recovery(e) => return e.errno(),
            Error::Repository(_) => Errno::IO,
        };
        e.raw_os_error()
    }

    pub(crate) fn io(what: String, source: std::io::Error) -> Self {
        Error::Read { what, source }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
