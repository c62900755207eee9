//! A handle's authority: the chain it verifies with and the signing key it
//! holds, both replaced when the chain moves (this handle's own removal of
//! an admin, or a refresh that finds a newer link).

use std::sync::Arc;

use cairn_backends::Backend;
use cairn_crypto::{AdminKey, AdminPublicKey, ExchangeSecret};

use super::{fetch, grant_context, AuthorityChain, LinkHeader};
use crate::repo::Repository;
use crate::{Error, Result};

/// The new authority's signing key from `header`'s grant to key file
/// `key_name`, if it holds one that `exchange` opens and that is the
/// seed of `expect`.
pub(crate) fn granted_admin(
    header: &LinkHeader,
    exchange: Option<&ExchangeSecret>,
    repo_id: &str,
    key_name: &str,
    expect: &AdminPublicKey,
) -> Option<AdminKey> {
    let id = key_name.trim_start_matches("keys/");
    let grant = hex::decode(header.grants.get(id)?).ok()?;
    let seed = exchange?
        .open_grant(&grant, &grant_context(repo_id, header.link, id))
        .ok()?;
    let admin = AdminKey::from_seed(seed.expose_bytes());
    (admin.public() == *expect).then_some(admin)
}

impl Repository {
    /// The current admin authority's public key (none for a handle opened
    /// with a version 1 key file): what signs every new tombstone,
    /// revocation, shred record, epoch and endorsement. It is the one the
    /// opening key file names, or a later one the chain of
    /// `authorities/` leads to ([`authority_chain`](Self::authority_chain)).
    pub fn authority(&self) -> Option<AdminPublicKey> {
        self.authority_chain().map(|c| *c.current())
    }

    /// The chain of admin authorities this handle verifies with (see the
    /// `repo::authority` module docs): a snapshot, replaced when the chain
    /// moves.
    pub fn authority_chain(&self) -> Option<Arc<AuthorityChain>> {
        self.authority
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the chain and the signing key (none: this handle can no
    /// longer sign).
    pub(crate) fn set_authority(&self, chain: AuthorityChain, admin: Option<Arc<AdminKey>>) {
        *self.authority.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(chain));
        *self.admin.write().unwrap_or_else(|e| e.into_inner()) = admin;
    }

    /// The current authority's signing key: an admin opened with a version
    /// 2 or 3 file, and granted the current authority.
    pub(crate) fn admin_key(&self, operation: &'static str) -> Result<Arc<AdminKey>> {
        self.require_admin(operation)?;
        self.admin
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(Error::NoAuthority { operation })
    }

    /// The backend `authorities/` is stored on (a tenant's view reads the
    /// repository's).
    fn root_backend(&self) -> Arc<dyn Backend> {
        match self.tenant() {
            Some(v) => v.parent().clone(),
            None => self.backend().clone(),
        }
    }

    /// Moves this handle's chain forward to the newest link (another
    /// handle or process may have removed an admin). Called wherever the
    /// key epochs are refreshed (backups, prunes, rotations). If this key
    /// file holds no grant of the new authority (it was the admin removed)
    /// the handle keeps verifying but can no longer sign.
    pub(crate) async fn refresh_authority(&self) -> Result<()> {
        let Some(chain) = self.authority_chain() else {
            return Ok(());
        };
        let backend = self.root_backend();
        let fetched = fetch(&*backend, chain.link()).await?;
        let resolved = fetched
            .advance(&*backend, &chain, &self.config().id)
            .await?;
        if resolved.chain.link() == chain.link() {
            return Ok(());
        }
        let admin = resolved.current.as_ref().and_then(|h| {
            granted_admin(
                h,
                self.exchange.as_deref(),
                &self.config().id,
                self.key_name(),
                resolved.chain.current(),
            )
        });
        self.set_authority(resolved.chain, admin.map(Arc::new));
        Ok(())
    }
}
