//! The life cycle of a Cairn repository's data: what to keep ([`retention`]),
//! forgetting snapshots and deleting what nothing references ([`prune`]),
//! repairing damage ([`repair`]) and copying snapshots to another
//! repository ([`copy`]).
//!
//! ```
//! use std::sync::Arc;
//! use cairn_backends::MemoryBackend;
//! use cairn_cas_core::{InitOptions, Repository};
//! use cairn_crypto::KdfParams;
//! use cairn_lifecycle::prune::{prune, prune_plan, PruneOptions};
//!
//! # futures::executor::block_on(async {
//! let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
//! let repo = Repository::init(Arc::new(MemoryBackend::new()), b"secret", opts).await?;
//! let opts = PruneOptions::default();
//! let plan = prune_plan(&repo, &opts).await?;
//! let report = prune(&repo, &opts, plan).await?;
//! assert_eq!(report.packs_deleted, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! Everything here destroys or rewrites history, so it needs an admin key
//! (`cairn_cas_core::Error::NotAdmin` otherwise) and follows the deletion
//! protocol whose writer side (session leases, re-validation at commit)
//! lives in `cairn_cas_core::prune`. Repair and copy write like a backup:
//! packs, then index, then snapshot records, create-only.

pub mod copy;
pub mod hold;
pub mod prune;
pub mod repair;
pub mod retention;
pub mod rewrite;
pub mod tag;
pub mod tenant;

// The rooms below, under the module names these files were written with.
use cairn_cas_core::{
    format, journal, open, repo, snapshot_key, CpuPool, Error, Index, PackEntry, Repository,
    Result, Snapshot, SnapshotId, SnapshotQuery, MAX_INDEX_SIZE,
};
use cairn_format::{blob, index, pack, snapshot, tree};
