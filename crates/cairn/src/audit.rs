//! The audit journal on the facade (see [`cas::journal`](crate::cas::journal)):
//! every change to the repository, signed and linked; verified against
//! pinned heads to detect a rollback; old entries covered by checkpoints.

use crate::cas::journal::{CheckpointReport, JournalReport, LoadedJournal};

use crate::metrics::timed;
use crate::{Repository, Result};

impl Repository {
    /// Every journal entry, and the ones that cannot be read (with why).
    pub async fn journal(&self) -> Result<LoadedJournal> {
        Ok(crate::cas::journal::load_journal(&self.inner).await?)
    }

    /// Verifies the journal: entries intact and linked, every snapshot
    /// recorded, and each of `pins` (heads a previous verification saw,
    /// 64 hex digits each) still present — or the repository was rolled
    /// back. Operation `audit_verify`.
    pub async fn verify_journal(&self, pins: &[String]) -> Result<JournalReport> {
        let run = crate::cas::journal::verify(&self.inner, pins);
        timed(
            "audit_verify",
            tracing::info_span!("cairn.audit_verify"),
            run,
        )
        .await
    }

    /// Covers entries older than the newest `keep` generations by a
    /// checkpoint entry, then deletes them (verification stays whole).
    /// Operation `audit_checkpoint`.
    pub async fn checkpoint_journal(&self, keep: u64) -> Result<CheckpointReport> {
        let run = crate::cas::journal::checkpoint(&self.inner, keep);
        let span = tracing::info_span!("cairn.audit_checkpoint", keep);
        timed("audit_checkpoint", span, run).await
    }
}
