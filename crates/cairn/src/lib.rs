#![doc = include_str!("../README.md")]

mod audit;
mod backup;
mod browse;
#[cfg(feature = "erasure")]
mod erasure_ops;
mod error;
mod history;
mod hooks;
mod inspect;
mod keys;
#[cfg(feature = "erasure")]
mod layout_plan;
mod lifecycle;
mod location;
mod maintenance;
pub mod metrics;
#[cfg(feature = "erasure")]
mod missing;
mod options;
mod progress;
mod repository;
mod restore;
mod tenant;

pub use error::{Error, Result};
pub use hooks::{BackupOutcome, HookError, Hooks, NoHooks};
pub use inspect::{RepositoryStats, SnapshotStats};
pub use location::{Location, LocationWarning, OpenedLocation};
pub use options::OpenOptions;
pub use progress::{NoProgress, Progress};
pub use repository::Repository;

#[cfg(feature = "erasure")]
pub use cairn_erasure::{Degraded, HealReport, HealthReport, ScrubOptions, ScrubReport};
#[cfg(feature = "erasure")]
pub use erasure_ops::Redundancy;
#[cfg(feature = "erasure")]
pub use layout_plan::{plan_layout, round_robin_regions, LayoutPlanOptions, LayoutToPlan};

pub use crate::cas::journal::{
    CheckpointReport, Entry as JournalEntry, JournalReport, LoadedJournal,
    Operation as JournalOperation,
};
pub use crate::cas::prune::{ForgetReport, PruneOptions, PrunePlan, PruneReport, StrayError};
pub use crate::cas::repair::{
    RepairIndexOptions, RepairIndexReport, RepairSnapshotsOptions, RepairSnapshotsReport,
    Unrepairable,
};
pub use crate::cas::retention::{
    Bucket, GroupBy, KeepPolicy, PlanOptions, RetentionDuration, RetentionPlan,
};
pub use crate::cas::{
    parse_size, AuthorityChain, AuthorityReport, CancelToken, Change, Diff, DiffEntry, EpochReport,
    Filter, Match, Node, NodeKind, OpenWarning, PackId, Patterns, RemoveOptions, RemoveReport,
    RepoConfig, RotateOptions, RotateReport, WarningKind,
};
pub use cairn_backends::RateLimits;
/// The snapshots as a read-only file system (`cairn mount`'s view).
pub use cairn_browse::{
    Attr, DirEntry, EntryKind, FsOptions, FsStats, SnapshotFs, SnapshotNames, ROOT_INODE,
};
pub use cairn_crypto::AdminPublicKey;
pub use cairn_recovery::{Action, BlockingFileReader, FileReader, Overwrite, ReaderOptions};

pub use crate::cas::copy::{CopyOptions, CopyReport};
pub use crate::cas::hold::{Hold, Holds};
pub use crate::cas::rewrite::{RewriteOptions, RewriteReport, Rewritten};
pub use crate::cas::tag::{Retagged, TagChange, TagReport};
pub use crate::cas::tenant::{Receipt, RekeyReport, TenantInfo};
pub use crate::cas::{
    jiff, rayon, BackupOptions, BackupResult, BackupSummary, CacheOptions, Compression, CpuPool,
    IdPrefix, InitOptions, KeyInfo, NewKey, Role, Snapshot, SnapshotId, SnapshotQuery, TreeId,
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
pub mod cas;
/// Content-defined chunking.
pub use cairn_chunking as chunking;
/// Keys, sealing, key files.
pub use cairn_crypto as crypto;
/// Erasure coding across backends (feature `erasure`): `cairn-erasure`,
/// with its planner `cairn-durability` at [`erasure::durability`].
#[cfg(feature = "erasure")]
pub mod erasure {
    pub use cairn_durability as durability;
    pub use cairn_erasure::*;
}
/// Point-in-time selection, restore plans, restore, verify, check; and
/// (from `cairn-browse`) the snapshots as a read-only file system.
pub mod recovery {
    pub use cairn_browse::{
        Attr, DirEntry, EntryKind, FsOptions, FsStats, SnapshotFs, SnapshotNames, MAX_READ_LEN,
        ROOT_INODE,
    };
    pub use cairn_recovery::*;
}

/// The workspace README's example, compiled as a doctest too.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct WorkspaceReadme;
