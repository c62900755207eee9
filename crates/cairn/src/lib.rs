#![doc = include_str!("../README.md")]

mod error;
mod hooks;
mod location;
pub mod metrics;
#[cfg(feature = "erasure")]
mod missing;
mod progress;
mod repository;
mod tenant;

pub use error::{Error, Result};
pub use hooks::{BackupOutcome, HookError, Hooks, NoHooks};
pub use location::{Location, LocationWarning, OpenedLocation};
pub use progress::{NoProgress, Progress};
pub use repository::Repository;

pub use cairn_cas_core::copy::{CopyOptions, CopyReport};
pub use cairn_cas_core::tenant::{Receipt, TenantInfo};
pub use cairn_cas_core::{
    jiff, BackupOptions, BackupResult, BackupSummary, CacheOptions, Compression, IdPrefix,
    InitOptions, KeyInfo, NewKey, OpenOptions, Role, Snapshot, SnapshotId, SnapshotQuery, TreeId,
    Warning,
};
pub use cairn_chunking::ChunkerConfig;
pub use cairn_crypto::KdfParams;
pub use cairn_recovery::{
    CheckIssue, CheckOptions, CheckReport, Mismatch, RestoreOptions, RestorePlan, RestoreSummary,
    VerifyReport,
};

/// Runs a future to completion on the current thread: for programs without
/// an async runtime of their own (Cairn needs none; under tokio or smol,
/// just `.await`).
pub use futures::executor::block_on;

/// The storage layer: the `Backend` trait, local, memory and S3 backends,
/// retries, and (feature `testing`) the conformance suite and fault wrappers.
pub use cairn_backends as backends;
/// The repository layer: packs, index, trees, snapshots, the archiver.
pub use cairn_cas_core as cas;
/// Content-defined chunking.
pub use cairn_chunking as chunking;
/// Keys, sealing, key files.
pub use cairn_crypto as crypto;
/// Erasure coding across backends (feature `erasure`).
#[cfg(feature = "erasure")]
pub use cairn_erasure as erasure;
/// Point-in-time selection, restore plans, restore, verify, check.
pub use cairn_recovery as recovery;

/// The workspace README's example, compiled as a doctest too.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct WorkspaceReadme;
