//! `cairn-audit`: the audit journal's judging side. [`verify`] walks the
//! hash DAG that `cairn_cas_core::journal` writes and checks it against the
//! repository (what it lists must exist; what it forgot must stay gone), and
//! [`checkpoint`] bounds the journal's length. The entry format, the DAG and
//! appending are documented in `cairn_cas_core::journal`, re-exported here
//! so that this crate is the whole journal (the facade's
//! `cairn::cas::journal`).
//!
//! ```
//! use std::sync::Arc;
//! use cairn_backends::MemoryBackend;
//! use cairn_cas_core::{InitOptions, Repository};
//! use cairn_crypto::KdfParams;
//!
//! # futures::executor::block_on(async {
//! let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
//! let repo = Repository::init(Arc::new(MemoryBackend::new()), b"pw", opts).await?;
//! let report = cairn_audit::verify(&repo, &[]).await?;   // `init` is journaled
//! assert!(report.is_clean(), "{report:?}");
//! assert_eq!(report.entries, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! Its failures are the repository's ([`cairn_cas_core::Error`]): reading
//! and writing entries is all it does, so it has no error type of its own.
//!
//! # What verification detects ([`verify`])
//!
//! - **Altered** entry: its bytes do not hash to its name, or it fails
//!   authentication (it was not written with a repository key).
//! - **Reordered or re-parented** entries: the order lives in the sealed
//!   `parents` and `seq` fields, so changing it means changing an entry's
//!   bytes (caught as altered); swapping two entries' objects breaks both
//!   names. A `seq` that does not follow from the parents is reported.
//! - **Deleted** entry: a present entry names it as a parent.
//! - **Deleted newest entries, rollback**: an entry with no child can be
//!   deleted without trace in the journal itself, so two more links exist.
//!   Every snapshot record names the heads its backup saw (`journal` field
//!   of [`Snapshot`](cairn_cas_core::Snapshot)), and each snapshot must be named by
//!   a journal entry: a missing head, or a snapshot no entry records, is
//!   reported. A rollback of *everything* (journal and snapshots restored
//!   from an old copy) is detected by a **pin**: the caller keeps the heads
//!   it saw last (the CLI: `audit verify --pin FILE`) and [`verify`] checks
//!   that each is still in the journal.
//!
//! # When the entry is written, and what a failure does
//!
//! - Operations that *add* (init, backup, copy, key add, repair index,
//!   repair snapshots, prune) write their entry *after* their objects
//!   (prune and repair also remove objects no snapshot needs any more, or
//!   damaged ones; their entry lists those after the fact): the
//!   entry names what exists. A backup whose snapshot is stored does **not**
//!   fail when its entry cannot be written — the snapshot is acknowledged
//!   data and must not be withdrawn or duplicated by a retry; the failure is
//!   returned in `BackupResult::journal` (the CLI
//!   warns and exits 3), and `verify` reports the snapshot as unjournaled
//!   until an operator looks. Other operations return
//!   [`Error::JournalWrite`]: their effect stands,
//!   the error says it was not recorded.
//! - Operations that *remove* history (forget, key passwd's removal of the
//!   old key file) write their entry *before* deleting: if it cannot be written nothing is deleted, so no
//!   deletion of a snapshot record goes unrecorded. A crash after the entry
//!   leaves an entry announcing a removal that may be incomplete.
//! - A crash between a backup's snapshot and its entry leaves a snapshot
//!   that `verify` reports as unjournaled — indistinguishable, from the
//!   storage alone, from an attacker deleting the entry; that is the point.
//!
//! Prune never deletes under `journal/` (it only deletes packs, index
//! objects and its own protocol records), so the journal does not interact
//! with the deletion protocol.
//!
//! # Limits
//!
//! - Entries are authenticated with a key every repository key holder
//!   derives: someone holding a key can write entries that verify, so they
//!   can replace the newest entries (those no other entry names) with
//!   forged ones of consistent `seq`; only a pin held outside the
//!   repository shows that. Per-writer signatures (the roles work) would
//!   close it. The journal defends against whoever can write the *storage*
//!   without a key.
//! - `time` is the writer's clock and proves nothing; the order is the DAG.
//! - A repository written before the journal existed has snapshots without
//!   links (`snapshots_before_journal`), which verify cannot vouch for; its
//!   first journaled operation starts the journal with a root entry.
//! - Restores change nothing and are journaled only when the caller asks
//!   ([`record_restore`]; the CLI's `restore --journal`, the recovery
//!   crate's `RestoreOptions::journal`): an entry then says which key on
//!   which host restored which snapshot, after the restore succeeded. A
//!   restore that fails is not recorded.
//! - `check` (`cairn-recovery`) runs [`verify`] but counts an unjournaled
//!   snapshot as a warning: a crash must leave a repository that checks
//!   clean (DESIGN invariant 2). `audit verify` counts it as an error.
//!
//! # Retention ([`checkpoint`])
//!
//! Every writer reads the whole journal, so its size costs one GET per entry
//! per operation. [`checkpoint`] bounds it: over a journal that verifies, it
//! writes a *checkpoint* entry (`op` kind `checkpoint`) listing the ids of
//! every non-checkpoint entry with `seq <= cut` (`cut` = the largest `seq`
//! minus the entries to keep; an ancestor-closed prefix, since parents have
//! smaller `seq`) and the snapshots those entries recorded and did not
//! remove; its parents are the current heads *and the previous
//! checkpoint(s)*; it is sealed like any entry. Only then are the covered
//! entries deleted — the one place Cairn deletes under `journal/` (prune
//! never does). [`verify`] accepts a missing parent, snapshot head or pin
//! that a present checkpoint lists, and counts the snapshots it lists as
//! journaled. Checkpoints are never deleted: they form a chain of their own,
//! so deleting one is a missing parent of the next, and the newest one is
//! linked like any entry. A crash after the checkpoint leaves covered
//! entries present, which is fine (the next run deletes them). A
//! verification that listed the journal before a concurrent checkpoint
//! was written, and read it after its deletions, reports the covered
//! entries as missing: run it again.

mod checkpoint;
mod verify;

// The entry side (format, append, load) under the same path, so that
// this crate is the whole journal.
pub use cairn_cas_core::journal::*;
pub use checkpoint::{checkpoint, CheckpointReport};
pub use verify::{verify, JournalIssue, JournalReport};

// The rooms below, under the names these files were written with.
use cairn_cas_core::{open, Error, Repository, Result, SnapshotId};
