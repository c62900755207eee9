//! Key files and key epochs on the facade: list, add, change a password,
//! remove, rotate, and what each epoch holds.

use crate::cas::{
    EpochReport, KeyInfo, NewKey, RemoveOptions, RemoveReport, RotateOptions, RotateReport,
};
use cairn_crypto::{AdminPublicKey, KdfParams};

use crate::metrics::timed;
use crate::{Error, Repository, Result};

impl Repository {
    /// Every key file: id, role, created, label, KDF cost, whether it is
    /// endorsed by the admin authority, and which one opened this handle.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        Ok(self.inner.list_keys().await?)
    }

    /// The current admin authority's public key: the one the opening key
    /// file names, or the newer one the chain of authority links leads to
    /// (none for a version 1 key file).
    pub fn authority(&self) -> Option<AdminPublicKey> {
        self.inner.authority()
    }

    /// The chain of admin authorities this handle verifies with: the
    /// current one and the retired ones (with the links that retired them).
    pub fn authority_chain(&self) -> Option<std::sync::Arc<crate::cas::AuthorityChain>> {
        self.inner.authority_chain()
    }

    /// Adds a key file for `password` with `new`'s role, label and KDF,
    /// endorsed by the admin authority; returns its object name. Admins
    /// only. Operation `key_add`.
    pub async fn add_key(&self, password: &[u8], new: &NewKey) -> Result<String> {
        let run = self.inner.add_key_with(password, new);
        timed("key_add", tracing::info_span!("cairn.key_add"), run).await
    }

    /// Replaces the key file this handle was opened with by one for
    /// `new_password` (same role and label; a version 1 file becomes
    /// version 2), written before the old one is removed; returns the new
    /// name. Operation `key_passwd`.
    pub async fn change_password(&mut self, new_password: &[u8], kdf: KdfParams) -> Result<String> {
        let inner = std::sync::Arc::get_mut(&mut self.inner).ok_or(Error::HandleShared {
            operation: "change the password",
        })?;
        let run = inner.change_password(new_password, kdf);
        timed("key_passwd", tracing::info_span!("cairn.key_passwd"), run).await
    }

    /// Starts a new key epoch (admins): new data is sealed under a fresh
    /// root granted to every remaining key file; [`prune`](crate::cas::prune)
    /// re-encrypts older epochs. See [`crate::cas::Repository::rotate_keys`].
    pub async fn rotate_keys(&self, opts: &RotateOptions) -> Result<RotateReport> {
        let run = self.inner.rotate_keys(opts);
        timed("key_rotate", tracing::info_span!("cairn.key_rotate"), run).await
    }

    /// Removes a key file (id or unambiguous prefix) and, by default,
    /// starts a key epoch its holder never sees. See
    /// [`crate::cas::Repository::remove_key_with`].
    pub async fn remove_key(&self, query: &str, opts: &RemoveOptions) -> Result<RemoveReport> {
        let run = self.inner.remove_key_with(query, opts);
        let span = tracing::info_span!("cairn.key_remove", key = query);
        timed("key_remove", span, run).await
    }

    /// Bytes stored under each key epoch (packs, index objects, snapshot
    /// records): after a rotation and a prune, none under older epochs but
    /// the snapshot records.
    pub async fn epoch_usage(&self) -> Result<EpochReport> {
        Ok(self.inner.epoch_usage().await?)
    }
}
