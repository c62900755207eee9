//! [`Repository::rotate_keys`]: starting a new key epoch.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use cairn_backends::PutMode;
use cairn_crypto::{seal_grant, KeySet, MasterKey};

use super::{
    epoch_name, grant_context, load, recipients, seal_previous, EpochRecord, RotateOptions,
    RotateReport, EPOCH_MAGIC,
};
use crate::prune::records::delete_quiet;
use crate::repo::crypto_err;
use crate::repo::signed::encode_signed;
use crate::{journal, Error, Repository, Result};

impl Repository {
    /// Starts a new key epoch: a fresh random root, granted (sealed to its
    /// X25519 key) to every key file the admin authority endorsed and that
    /// is not revoked; from now on this handle seals under it, and so does
    /// every handle opened afterwards. Old epochs stay readable; prune's
    /// repack re-encrypts what is still under them
    /// ([`epoch_usage`](Self::epoch_usage) shows how much). Admins with an
    /// authority only. Journaled (`key_rotate`) before the epoch object is
    /// written.
    ///
    /// # Errors
    /// [`Error::RotationBlocked`] when endorsed key files of version 1 or 2
    /// cannot receive the new root (unless [`RotateOptions::drop_old_keys`]);
    /// [`Error::EpochExists`] when another rotation won the race.
    pub async fn rotate_keys(&self, opts: &RotateOptions) -> Result<RotateReport> {
        self.require_whole("key rotation")?;
        self.rotate_excluding(opts, &[]).await
    }

    /// Reloads the key epochs (another handle or process may have rotated:
    /// backups and prunes call this when they start) and returns
    /// the newest set this handle can open. Never goes back to an older
    /// epoch (epoch objects deleted meanwhile do not downgrade it); a key
    /// removed since this handle opened keeps the epochs it had.
    pub async fn refresh_keys(&self) -> Result<Arc<KeySet>> {
        // A tenant's keys are its own (random, in its key object), not the
        // repository's epochs.
        if self.tenant.is_some() {
            return Ok(self.keys());
        }
        // An admin removed elsewhere retired the authority: epochs signed
        // since are under the new one.
        self.refresh_authority().await?;
        let chain = self.authority_chain();
        let loaded = load(
            &*self.backend,
            &self.master,
            chain.as_deref(),
            self.exchange.as_deref(),
            &self.key_name,
            &self.config.id,
        )
        .await;
        match loaded {
            Ok((k, _)) if k.epoch() > self.keys().epoch() => self.set_keys(k),
            Ok(_) | Err(Error::EpochNotGranted { .. }) => {}
            Err(e) => return Err(e),
        }
        Ok(self.keys())
    }

    /// [`rotate_keys`](Self::rotate_keys) leaving out the key files `exclude`
    /// (ids): the removal of a key starts an epoch its holder never sees.
    pub(crate) async fn rotate_excluding(
        &self,
        opts: &RotateOptions,
        exclude: &[String],
    ) -> Result<RotateReport> {
        self.admin_key("rotate the key epoch")?;
        // Start from the newest epoch (another handle may have rotated) and
        // the newest authority.
        let keys = self.refresh_keys().await?;
        let admin = self.admin_key("rotate the key epoch")?;
        let chain = self.authority_chain().ok_or(Error::NoAuthority {
            operation: "rotate the key epoch",
        })?;
        let r = recipients(self, &chain, exclude).await?;
        let own = self.key_name.trim_start_matches("keys/").to_owned();
        if r.lacking.contains(&own) || (!opts.drop_old_keys && !r.lacking.is_empty()) {
            return Err(Error::RotationBlocked { keys: r.lacking });
        }
        // Past numbers taken by objects that do not verify (planted).
        let n = super::next_free(&*self.backend, keys.epoch()).await?;
        let root = MasterKey::generate().map_err(crypto_err("epoch root"))?;
        let mut grants = BTreeMap::new();
        for (id, public) in &r.grantable {
            let g = seal_grant(&root, public, &grant_context(&self.config.id, n, id))
                .map_err(crypto_err(format!("keys/{id}")))?;
            grants.insert(id.clone(), hex::encode(g));
        }
        let record = EpochRecord {
            epoch: n,
            created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            by: own,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            previous: seal_previous(&keys, &root, &self.config.id, n)?,
            grants,
            dropped: r.lacking.clone(),
        };
        let bytes = encode_signed(&admin, EPOCH_MAGIC, &self.config.id, &record)?;
        let op = journal::Operation::KeyRotate {
            epoch: n,
            dropped: r.lacking.iter().map(|id| format!("keys/{id}")).collect(),
        };
        let added = journal::counts([("epochs", 1)]);
        let removed = journal::counts([("keys", r.lacking.len() as u64)]);
        journal::record(self, op, added, removed).await?;
        let object = epoch_name(n);
        match self
            .backend
            .put(&object, Bytes::from(bytes), PutMode::CreateOnly)
            .await
        {
            Err(e) if e.is_already_exists() => return Err(Error::EpochExists { epoch: n }),
            r => r?,
        }
        let mut roots: Vec<(u32, MasterKey)> = keys
            .epochs()
            .into_iter()
            .filter_map(|e| keys.expose_epoch_root(e).map(|r| (e, r)))
            .collect();
        roots.push((n, root));
        let refs: Vec<(u32, &MasterKey)> = roots.iter().map(|(e, r)| (*e, r)).collect();
        let new = KeySet::with_epochs(&self.master, n, &refs).map_err(crypto_err(&object))?;
        self.set_keys(new);
        // Tenant key objects follow: a key left out of this epoch opens
        // none of them from now on.
        crate::tenant::rewrap_tenants(self).await?;
        for id in &r.lacking {
            self.revoke(id).await?;
            delete_quiet(self, &format!("keys/{id}")).await?;
        }
        Ok(RotateReport {
            epoch: n,
            object,
            granted: r.grantable.into_iter().map(|(id, _)| id).collect(),
            dropped: r.lacking,
            not_trusted: r.not_trusted,
        })
    }
}
