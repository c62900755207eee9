//! Tenants on the facade: each a [`Repository`] of its own (see
//! [`crate::cas::tenant`]), and shredding with an erasure receipt that,
//! on an erasure layout, confirms the key objects gone from every child.

#[cfg(feature = "erasure")]
use std::sync::Arc;

use crate::cas::tenant::{Receipt, RekeyReport, ShredOptions, TenantInfo};

use crate::{Repository, Result};

impl Repository {
    /// Creates tenant `name` and returns its view: everything this type
    /// does (backup, snapshots, restore, check) then happens in the
    /// tenant's namespace under its own keys. Admins only.
    pub async fn create_tenant(&self, name: &str) -> Result<Repository> {
        let inner = self.inner().create_tenant(name).await?;
        Ok(self.view(inner))
    }

    /// Opens tenant `name` (any key; backup hosts back up into tenants).
    pub async fn open_tenant(&self, name: &str) -> Result<Repository> {
        let inner = self.inner().open_tenant(name).await?;
        Ok(self.view(inner))
    }

    /// Every tenant (admins only).
    pub async fn tenants(&self) -> Result<Vec<TenantInfo>> {
        Ok(self.inner().tenants().await?)
    }

    /// Gives tenant `name` a fresh key generation (admins only): a key
    /// holder removed earlier reads nothing the tenant writes afterwards;
    /// existing snapshots keep restoring under their generation.
    pub async fn rekey_tenant(&self, name: &str) -> Result<RekeyReport> {
        Ok(crate::cas::tenant::rekey_tenant(self.inner(), name).await?)
    }

    /// Shreds tenant `name` (admins only): its keys destroyed and confirmed
    /// gone — on an erasure layout from every child, piece by piece — its
    /// snapshots forgotten, its namespace left for `prune`. Returns the
    /// signed receipt (print it with [`Receipt::to_json`]).
    pub async fn shred_tenant(&self, name: &str) -> Result<Receipt> {
        #[allow(unused_mut)]
        let mut opts = ShredOptions::default();
        #[cfg(feature = "erasure")]
        if let Some(store) = self.erasure() {
            opts = opts.partial_objects(store.clone() as Arc<dyn cairn_backends::PartialObjects>);
            for (i, child) in store.children().into_iter().enumerate() {
                opts = opts.confirm_on(format!("child {i} ({})", child.name), child.backend);
            }
        }
        Ok(self.inner().shred_tenant(name, &opts).await?)
    }

    /// Checks an erasure receipt against this repository's admin authority.
    pub fn verify_receipt(&self, json: &[u8]) -> Result<Receipt> {
        Ok(self.inner().verify_receipt(json)?)
    }
}
