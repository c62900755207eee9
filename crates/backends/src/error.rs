//! The one error type of `cairn-backends`.
//!
//! Rules: one `#[non_exhaustive]` enum for the crate; every variant names the
//! key concerned; an error from below (I/O, `object_store`, a decorator such
//! as erasure) is kept as the variant's `source()` so callers can downcast to
//! it, never flattened into a message; [`Error::is_transient`] says whether
//! retrying may help, and the typed predicates (`is_not_found`, …) replace
//! matching on messages.

/// What can go wrong talking to a [`Backend`](crate::Backend).
///
/// Every variant names the key concerned. [`Error::is_transient`] says whether
/// the same call may succeed if tried again.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No object is stored under the key.
    #[error("object not found: {key}")]
    NotFound {
        /// The key asked for.
        key: String,
    },
    /// A create-only put found an object already stored under the key.
    #[error("object already exists: {key}")]
    AlreadyExists {
        /// The key written.
        key: String,
    },
    /// The key is not one a backend accepts (see [`validate_key`](crate::validate_key)).
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The key cannot be stored because of another key: a store that keeps
    /// objects as files (like [`LocalBackend`](crate::LocalBackend)) cannot
    /// hold both `a` and `a/b`, since `a` would be both a file and a directory.
    #[error("key {key} conflicts with an existing key: {reason}")]
    KeyConflict {
        /// The key written.
        key: String,
        /// Which way the keys collide.
        reason: &'static str,
    },
    /// A byte range that does not fit the object.
    #[error("invalid range {start}..{end} of {key} ({size} bytes)")]
    InvalidRange {
        /// The object's key.
        key: String,
        /// Range start.
        start: u64,
        /// Range end (exclusive).
        end: u64,
        /// The object's size.
        size: u64,
    },
    /// An I/O error from the operating system.
    #[error("I/O error on {key}: {source}")]
    Io {
        /// The key concerned (or the prefix, for listings).
        key: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An error reported by a remote store or a wrapped backend.
    #[error("backend error on {key}: {message}")]
    Backend {
        /// The key concerned.
        key: String,
        /// What the store said.
        message: String,
        /// Whether trying again may succeed.
        transient: bool,
    },
    /// The error of a backend that wraps others (an erasure layout's
    /// `NotEnoughShards`, say), kept whole: its message is the wrapped
    /// error's, and `source()` gives it for downcasting.
    #[error("{source}")]
    Wrapped {
        /// The key concerned.
        key: String,
        /// Whether trying again may succeed.
        transient: bool,
        /// The wrapped backend's own error.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The operation did not finish in time.
    #[error("timed out on {key} after {millis} ms")]
    Timeout {
        /// The key concerned.
        key: String,
        /// The time allowed.
        millis: u64,
    },
    /// A listing that cannot be shown to be complete: stores behind the
    /// backend (children of an erasure layout) did not answer, and objects
    /// could be stored on them alone. The keys already received are not all
    /// there are; a caller that deletes what a listing does not show (prune)
    /// must stop.
    #[error("incomplete listing of {key:?}: {message}")]
    Incomplete {
        /// The prefix listed.
        key: String,
        /// Which stores failed, and why.
        message: String,
    },
    /// The backend refuses the operation by policy: an
    /// [`AppendOnly`](crate::AppendOnly) store refuses deletes and
    /// overwrites. Not transient: trying again will not help.
    #[error("{operation} of {key} not permitted: {reason}")]
    NotPermitted {
        /// The key concerned.
        key: String,
        /// The operation refused (`delete`, `overwrite`).
        operation: &'static str,
        /// Which policy refused it.
        reason: &'static str,
    },
    /// The backend does not support the operation.
    #[error("unsupported operation on {key}: {what}")]
    Unsupported {
        /// The key concerned.
        key: String,
        /// What is unsupported.
        what: &'static str,
    },
}

impl Error {
    /// Whether the same call may succeed if tried again (network blips,
    /// timeouts, throttling, injected transient faults).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::Backend { transient, .. } | Error::Wrapped { transient, .. } => *transient,
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
            ),
            _ => false,
        }
    }

    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Whether this is [`Error::AlreadyExists`].
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Error::AlreadyExists { .. })
    }

    /// Whether this is [`Error::NotPermitted`]: the store refuses deletes
    /// or overwrites (an append-only store).
    pub fn is_not_permitted(&self) -> bool {
        matches!(self, Error::NotPermitted { .. })
    }

    /// Whether this is [`Error::Incomplete`]: a listing that may have
    /// left objects out.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, Error::Incomplete { .. })
    }

    /// The key the error is about.
    pub fn key(&self) -> &str {
        match self {
            Error::NotFound { key }
            | Error::AlreadyExists { key }
            | Error::InvalidKey { key, .. }
            | Error::KeyConflict { key, .. }
            | Error::InvalidRange { key, .. }
            | Error::Io { key, .. }
            | Error::Backend { key, .. }
            | Error::Wrapped { key, .. }
            | Error::Timeout { key, .. }
            | Error::Incomplete { key, .. }
            | Error::NotPermitted { key, .. }
            | Error::Unsupported { key, .. } => key,
        }
    }

    /// The same error about `key` without its leading `prefix` (a
    /// namespaced view reports the keys its caller used).
    pub(crate) fn strip_key_prefix(mut self, prefix: &str) -> Self {
        let key = match &mut self {
            Error::NotFound { key }
            | Error::AlreadyExists { key }
            | Error::InvalidKey { key, .. }
            | Error::KeyConflict { key, .. }
            | Error::InvalidRange { key, .. }
            | Error::Io { key, .. }
            | Error::Backend { key, .. }
            | Error::Wrapped { key, .. }
            | Error::Timeout { key, .. }
            | Error::Incomplete { key, .. }
            | Error::NotPermitted { key, .. }
            | Error::Unsupported { key, .. } => key,
        };
        if let Some(rest) = key.strip_prefix(prefix) {
            *key = rest.to_owned();
        }
        self
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
