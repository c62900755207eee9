//! The repository layer, under the paths it had when it was one crate:
//! formats, packs, index, trees and snapshots (`cairn-format`,
//! `cairn-cas-core`), the archiver and diff (`cairn-archiver`), and
//! retention, forget, prune, repair and copy (`cairn-lifecycle`).

pub use cairn_archiver::{
    backup, backup_stream, diff_snapshots, diff_trees, find, BackupOptions, BackupProgress,
    BackupResult, Change, Diff, DiffEntry, Match, NoProgress, Warning, WarningKind,
};
pub use cairn_cas_core::*;
pub use cairn_lifecycle::{copy, hold, repair, retention, rewrite, tag};

/// Forget and prune (`cairn-lifecycle`) with the writer's side of the
/// deletion protocol, session leases (`cairn-cas-core`).
pub mod prune {
    pub use cairn_cas_core::prune::*;
    pub use cairn_lifecycle::prune::*;
}

/// The audit journal: entries and appending (`cairn-cas-core`),
/// verification and checkpoints (`cairn-audit`).
pub use cairn_audit as journal;

/// Tenants (`cairn-cas-core`) and what a prune reclaims from shredded ones
/// (`cairn-lifecycle`).
pub mod tenant {
    pub use cairn_cas_core::tenant::*;
    pub use cairn_lifecycle::tenant::*;
}
