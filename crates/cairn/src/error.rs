//! The facade's error: every crate's error, kept whole as the source.
//!
//! Rules: each variant keeps the error it wraps as its `source()`, so a
//! caller can walk the chain and downcast to the crate-level type it cares
//! about (e.g. `cairn::erasure::Error::NotEnoughShards` from a failed
//! restore); messages name the object, path or location concerned;
//! [`Error::is_transient`] says whether trying again may help.

use std::path::PathBuf;

/// What went wrong in a facade call.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A location string that names nothing Cairn can open.
    #[error("invalid repository location {location:?}: {reason}")]
    InvalidLocation {
        /// The location as given.
        location: String,
        /// Why it is refused.
        reason: String,
    },
    /// A directory repository (or a layout's child directory) that does not
    /// exist, opened without creating it.
    #[error("{} does not exist (only init creates a repository directory)", path.display())]
    MissingDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// A layout file that cannot be read.
    #[error("reading erasure layout {}: {source}", path.display())]
    LayoutFile {
        /// The layout file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Support for this kind of location was not compiled in.
    #[error("{location}: {feature} support is not compiled in (enable the `{feature}` feature of `cairn`)")]
    FeatureDisabled {
        /// The location.
        location: String,
        /// The cargo feature that would enable it.
        feature: &'static str,
    },
    /// Another backup runs on this [`Repository`](crate::Repository) value.
    #[error("a backup is already running on this repository handle; run one at a time per handle")]
    BackupRunning,
    /// A scrub or health report asked of a location that is not an
    /// erasure layout.
    #[error("not an erasure layout (*.toml): nothing to scrub")]
    NotErasure,
    /// An operation that needs this handle to itself (changing its
    /// password) found it shared.
    #[error("cannot {operation}: this repository handle is in use elsewhere")]
    HandleShared {
        /// What was refused.
        operation: &'static str,
    },
    /// A storage backend failed.
    #[error("{source}")]
    Backend {
        /// The backend's error.
        #[from]
        source: cairn_backends::Error,
    },
    /// An erasure layout failed as a whole (configuration, quorum, shards).
    #[cfg(feature = "erasure")]
    #[error("{source}")]
    Erasure {
        /// The erasure layer's error.
        #[from]
        source: cairn_erasure::Error,
    },
    /// A durability model or simulation could not be built (`layout plan`).
    #[cfg(feature = "erasure")]
    #[error("{source}")]
    Durability {
        /// The durability planner's error.
        #[from]
        source: cairn_durability::Error,
    },
    /// The repository layer failed (keys, packs, index, snapshots, backup).
    #[error("{source}")]
    Repository {
        /// The repository's error.
        #[from]
        source: crate::cas::Error,
    },
    /// The recovery layer failed (selection, plan, restore, verify, check).
    #[error("{source}")]
    Recovery {
        /// The recovery layer's error.
        #[from]
        source: cairn_recovery::Error,
    },
    /// The snapshot file system view failed (`cairn-browse`: lookup,
    /// listing, read); [`cairn_browse::Error::errno`] maps it for a server.
    #[error("{source}")]
    Browse {
        /// The view's error.
        #[from]
        source: cairn_browse::Error,
    },
    /// An application hook refused (see [`Hooks`](crate::Hooks)).
    #[error("{stage} hook failed: {source}")]
    Hook {
        /// `before backup`, `after backup` or `after restore`.
        stage: &'static str,
        /// The hook's error.
        #[source]
        source: crate::HookError,
    },
}

impl Error {
    /// Whether the operation stopped because its cancel token fired
    /// ([`BackupOptions::cancel`](crate::BackupOptions),
    /// [`RestoreOptions`](crate::RestoreOptions)'s): nothing is wrong, the
    /// caller asked for it.
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            Error::Repository {
                source: crate::cas::Error::Cancelled
            } | Error::Recovery {
                source: cairn_recovery::Error::Cancelled
            }
        )
    }

    /// Whether the same call may succeed if tried again later.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Backend { source } => source.is_transient(),
            #[cfg(feature = "erasure")]
            Error::Erasure { source } => source.is_transient(),
            _ => false,
        }
    }

    /// The error of the layer that failed, for variants that only wrap one
    /// (their message is that error's), else this error itself. For
    /// printing a chain (anyhow's `{:#}`, `Report`s): the wrapped error's
    /// message would otherwise appear twice.
    pub fn into_layer(self) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        match self {
            Error::Backend { source } => Box::new(source),
            #[cfg(feature = "erasure")]
            Error::Erasure { source } => Box::new(source),
            #[cfg(feature = "erasure")]
            Error::Durability { source } => Box::new(source),
            Error::Repository { source } => Box::new(source),
            Error::Recovery { source } => Box::new(source),
            Error::Browse { source } => Box::new(source),
            other => Box::new(other),
        }
    }

    /// The first error of type `E` in this error's source chain (this error
    /// included): e.g. `err.find::<cairn::erasure::Error>()`.
    pub fn find<E: std::error::Error + 'static>(&self) -> Option<&E> {
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = next {
            if let Some(hit) = e.downcast_ref::<E>() {
                return Some(hit);
            }
            next = wrapped(e).or_else(|| e.source());
        }
        None
    }
}

/// The error a layer's `#[error(transparent)]` variant wraps: its
/// `source()` is the wrapped error's source, so a walk of `source()` alone
/// would skip the wrapped error itself (e.g. the storage's `NotPermitted`
/// inside a repository error).
fn wrapped<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    if let Some(cairn_recovery::Error::Repository(inner)) = e.downcast_ref() {
        return Some(inner);
    }
    match e.downcast_ref() {
        Some(cairn_browse::Error::Repository(inner)) => return Some(inner),
        Some(cairn_browse::Error::Recovery(inner)) => return Some(inner),
        _ => {}
    }
    if let Some(crate::cas::Error::Backend(inner)) = e.downcast_ref() {
        return Some(inner);
    }
    #[cfg(feature = "erasure")]
    if let Some(cairn_erasure::Error::Backend { source }) = e.downcast_ref() {
        return Some(source);
    }
    None
}

/// `Result` with the facade's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
