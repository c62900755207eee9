//! Recovery: choose a point in time, plan a restore, run it, verify it, and
//! check a repository.
//!
//! # Restoring into a target that may be hostile
//!
//! A restore reaches everything below its target through directory handles
//! opened one component at a time with `O_NOFOLLOW`; files are created with
//! `O_CREAT | O_EXCL`, written and given their metadata through the one
//! handle each is opened with, and replace an existing entry by a temporary
//! file renamed over it. A symlink or hard link planted in the target, before
//! or during the restore, is replaced or refused, never followed: nothing
//! outside the target is created, written, chmod'ed or chown'ed. Files are
//! `0600` and directories `0700` until they are complete, so a private file is
//! never readable by others in between. An entry whose metadata cannot be set
//! becomes a [`RestoreWarning`]; the others still get theirs.
//!
//! # Modes and resume
//!
//! [`Overwrite`] says what happens to what is already in the target
//! (`Always`, `IfChanged` — compare contents chunk by chunk and write only
//! what differs —, `IfNewer`, `Never`); `delete` removes what the snapshot does
//! not have. The plan is a diff ([`RestorePlan::diff`]) before anything is
//! done. An interrupted restore run again with `IfChanged` fetches only what
//! is missing.
//!
//! # Memory
//!
//! A [`RestorePlan`] holds every entry of the restore (~600 bytes a file).
//! [`restore_snapshot`] with [`RestoreOptions::window`] plans and restores
//! that many files at a time instead, so a restore's memory is bounded by the
//! window, not by the snapshot's file count (directories and hard-link groups
//! still cost one small entry each until the end).
//!
//! ```
//! use std::sync::Arc;
//! use cairn_backends::MemoryBackend;
//! use cairn_archiver::{backup, BackupOptions, NoProgress};
//! use cairn_cas_core::{InitOptions, Repository, SnapshotQuery};
//! use cairn_crypto::KdfParams;
//! use cairn_recovery::{plan_restore, restore, verify, RestoreOptions};
//!
//! # futures::executor::block_on(async {
//! let src = tempfile::tempdir()?;
//! std::fs::write(src.path().join("notes.txt"), b"remember the milk")?;
//! let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
//! let repo = Repository::init(Arc::new(MemoryBackend::new()), b"pw", opts).await?;
//! backup(&repo, &[src.path().to_owned()], &BackupOptions::default(), Arc::new(NoProgress)).await?;
//!
//! let (_, snap) = repo.find_snapshot(&SnapshotQuery::latest()).await?;
//! let target = tempfile::tempdir()?;
//! let ropts = RestoreOptions::new(target.path());
//! let plan = plan_restore(&repo, &snap, &ropts).await?;   // inspect before running
//! assert_eq!(plan.total_bytes(), 17);
//! restore(&repo, &plan, &ropts, Arc::new(cairn_recovery::NoProgress)).await?;
//! let restored = target.path().join(src.path().strip_prefix("/")?).join("notes.txt");
//! assert_eq!(std::fs::read(restored)?, b"remember the milk");
//! assert!(verify(&repo, &snap, target.path(), &[]).await?.is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

// This crate restores through directory descriptors (`openat`, `O_NOFOLLOW`,
// `fchown`, `fchmod`): Unix only, said here in one line rather than by a page
// of unresolved imports.
#[cfg(not(unix))]
compile_error!("cairn-recovery supports Unix targets only (it restores through directory descriptors); the repository crates below it build on other targets: see ARCHITECTURE.md, Platforms");

mod check;
mod check_report;
mod error;
mod inspect;
mod list;
mod meta;
mod options;
mod plan;
mod reader;
mod restore;
mod stream;
mod target;
mod update;
mod verify;
mod walk;
mod writer;

pub use cairn_cas_core::SnapshotQuery;
pub use check::{check, CheckOptions};
pub use check_report::{CheckIssue, CheckReport};
pub use error::{Error, Result};
pub use list::{list, Depth};
pub use options::DEFAULT_MAX_READ;
pub use plan::{
    plan_restore, Action, BlobRead, Overwrite, PackRead, PlanDiff, PlannedEntry, RestoreOptions,
    RestorePlan,
};
pub use reader::{node_at, root_node, BlockingFileReader, FileReader, ReaderOptions};
pub use restore::{
    restore, restore_owned, NoProgress, RestoreProgress, RestoreSummary, RestoreWarning,
};
pub use stream::restore_snapshot;
pub use verify::{verify, Mismatch, VerifyReport};
