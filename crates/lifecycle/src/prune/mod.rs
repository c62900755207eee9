//! Forgetting data safely: forget, prune and garbage collection without an
//! exclusive lock, while any number of backups run from any number of
//! machines.
//!
//! The protocol (condemn, wait for every writer that could reference the
//! condemned packs, delete) and the leases writers hold are documented in
//! `cairn_cas_core::prune`, next to the writer's side; this module is the
//! deleting side.

mod forget;
mod forget_ids;
mod gc;
mod phase2;
mod retire;
mod strays;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

// The writer's side, under the module names these files use.
use cairn_cas_core::prune::{records, repack, session};
pub(crate) use cairn_cas_core::prune::{revalidate, writer_start, WriterStart};

pub use cairn_cas_core::prune::{Lease, Session};
pub(crate) use forget::remove_records;
pub use forget::{forget, ForgetReport, SnapshotFilter};
pub use forget_ids::forget_snapshots;
pub use gc::{prune, prune_plan, PendingRecord, PruneOptions, PrunePlan, PruneReport};
pub use strays::StrayError;
