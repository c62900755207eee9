//! Shredding a tenant: destroy every copy of its wrapped keys, confirm it,
//! forget its snapshots, leave its namespace to prune, sign a receipt.
//!
//! # Order, and what a crash leaves
//!
//! 1. A shred record per namespace (`tenant-shreds/<id>/<namespace>`,
//!    `CRTS`, signed by the admin authority; format in `repo/signed.rs`).
//!    From here the tenant does not open, writers into it fail before they
//!    index anything or acknowledge a snapshot, and an admin's prune
//!    deletes everything under the namespace.
//! 2. The repository journal entry (`shred`). If it cannot be written
//!    nothing is deleted (as for forget).
//! 3. Every key object under `tenant-keys/<id>/` is deleted, with its
//!    stray pieces on an erasure layout ([`ShredOptions::partial`]), and
//!    read back from the backend and from every store the caller names
//!    ([`ShredOptions::confirm_on`]: the erasure children): each must
//!    answer "not found", or the shred fails with
//!    [`Error::ShredUnconfirmed`] and can be run again.
//! 4. The tenant's snapshot records are deleted and read back.
//! 5. What remains under the namespaces is counted for the receipt.
//!
//! Running it again after a crash finds the namespaces through their shred
//! records and completes the steps (every step is idempotent).
//!
//! # A backup running into the tenant
//!
//! A writer that opened the tenant before the shred holds its keys in
//! memory. It checks for a shred record whenever it checks for its own
//! kill marker (before writing an index object, at commit, and after
//! writing its snapshot record, which it then withdraws): so no backup into
//! a shredded tenant is acknowledged after the record exists, and whatever
//! it still uploads is garbage under the namespace for the next prune.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use cairn_backends::{Backend, PartialObjects, PutMode};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::receipt::{limits, DestroyedObject, PendingGc, Receipt, RECEIPT_FORMAT};
use super::{key_prefix, namespace_prefix, shred_key, TENANT_SHREDS};
use crate::open::list_tolerant;
use crate::repo::signed::{encode_signed, SHRED_MAGIC};
use crate::{journal, Error, Repository, Result};

/// The signed record that a namespace is shredded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ShredRecord {
    /// The tenant id (hex).
    pub(crate) tenant: String,
    /// The namespace (hex).
    pub(crate) namespace: String,
    /// When (informational).
    pub(crate) time: String,
    /// The admin key file's id.
    pub(crate) key: String,
    /// The admin's host.
    pub(crate) host: String,
}

/// How to shred: where else to confirm deletions.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct ShredOptions {
    /// The store's stray pieces (an erasure layout): pieces of key objects
    /// are removed on every child, not only until the object is unreadable.
    pub partial: Option<Arc<dyn PartialObjects>>,
    /// Stores to read each deleted object back from, by name (for an
    /// erasure layout: every child, which hold shards under the same keys).
    pub confirm_on: Vec<(String, Arc<dyn Backend>)>,
}

impl ShredOptions {
    /// Sets [`partial`](Self::partial).
    pub fn partial_objects(mut self, p: Arc<dyn PartialObjects>) -> Self {
        self.partial = Some(p);
        self
    }
    /// Adds a store to [`confirm_on`](Self::confirm_on).
    pub fn confirm_on(mut self, name: impl Into<String>, store: Arc<dyn Backend>) -> Self {
        self.confirm_on.push((name.into(), store));
        self
    }
}

impl Repository {
    /// Shreds tenant `name` (admins only; see the module docs) and returns
    /// the signed erasure receipt.
    pub async fn shred_tenant(&self, name: &str, opts: &ShredOptions) -> Result<Receipt> {
        self.require_whole("shred a tenant")?;
        self.refresh_authority().await?;
        let admin = self.admin_key("shred a tenant")?;
        let id = hex::encode(self.keys().tenant_id(name));
        let objects = self.tenant_key_objects(&id).await?;
        let mut namespaces = BTreeSet::new();
        for (object, _) in &objects {
            match self.open_key_object(object).await {
                Ok(o) if o.name == name => {
                    namespaces.insert(hex::encode(o.parsed.namespace()));
                }
                Err(e) if e.is_backend_failure() => return Err(e),
                // Damaged, planted, or another name: destroyed all the same
                // (it sits under this tenant's id).
                _ => {}
            }
        }
        let mut recorded = BTreeSet::new();
        let shreds = format!("{TENANT_SHREDS}{id}/");
        for m in list_tolerant(&**self.backend(), &shreds).await?.0 {
            let ns = m.key.trim_start_matches(&shreds).to_owned();
            if self.shred_recorded(&id, &ns).await? {
                recorded.insert(ns.clone());
                namespaces.insert(ns);
            }
        }
        // A namespace another tenant's key object claims is not this
        // tenant's to shred (a key object planted under this tenant's id
        // naming it): never signed away, nor its snapshots deleted.
        let mut foreign = BTreeSet::new();
        for ns in &namespaces {
            if self.namespace_claimed_elsewhere(&id, ns).await?.is_some() {
                foreign.insert(ns.clone());
            }
        }
        namespaces.retain(|ns| !foreign.contains(ns));
        if namespaces.is_empty() && objects.is_empty() {
            return Err(Error::TenantNotFound {
                tenant: name.to_owned(),
            });
        }
        let mut shred_records = Vec::new();
        for ns in namespaces.difference(&recorded) {
            shred_records.push(self.write_shred_record(&admin, &id, ns).await?);
        }
        let op = journal::Operation::Shred {
            tenant: id.clone(),
            namespaces: namespaces.iter().cloned().collect(),
        };
        let added = journal::counts([("tenant_shreds", shred_records.len() as u64)]);
        let removed = journal::counts([("tenant_keys", objects.len() as u64)]);
        let journal_entry = journal::record(self, op, added, removed).await?;

        let mut destroyed = Vec::new();
        for (object, size) in &objects {
            destroyed.push(self.destroy(opts, object, *size).await?);
        }
        if let Some(p) = &opts.partial {
            for key in p.partial_keys(&key_prefix(&id)).await? {
                destroyed.push(self.destroy(opts, &key, 0).await?);
            }
        }
        let mut snapshots_forgotten = Vec::new();
        let mut pending_gc = Vec::new();
        for ns in &namespaces {
            let prefix = namespace_prefix(ns);
            let records = format!("{prefix}snapshots/");
            let listed: Vec<_> = self.backend().list(&records).try_collect().await?;
            for m in listed {
                delete_confirmed(&**self.backend(), "repository", &m.key).await?;
                snapshots_forgotten.push(m.key.trim_start_matches(&records).to_owned());
            }
            let (left, _) = list_tolerant(&**self.backend(), &prefix).await?;
            pending_gc.push(PendingGc {
                prefix,
                objects: left.len() as u64,
                bytes: left.iter().map(|m| m.size).sum(),
            });
        }
        Receipt {
            format: RECEIPT_FORMAT.into(),
            repository: self.config().id.clone(),
            tenant: name.to_owned(),
            tenant_id: id,
            namespaces: namespaces.into_iter().collect(),
            time: now(),
            key: self.key_name().trim_start_matches("keys/").to_owned(),
            host: host(),
            authority: String::new(),
            destroyed,
            snapshots_forgotten,
            shred_records,
            journal_entry,
            pending_gc,
            limits: limits(),
            signature: String::new(),
        }
        .sign(&admin)
    }

    async fn write_shred_record(
        &self,
        admin: &cairn_crypto::AdminKey,
        id: &str,
        namespace: &str,
    ) -> Result<String> {
        let record = ShredRecord {
            tenant: id.to_owned(),
            namespace: namespace.to_owned(),
            time: now(),
            key: self.key_name().trim_start_matches("keys/").to_owned(),
            host: host(),
        };
        let bytes = encode_signed(admin, SHRED_MAGIC, &self.config().id, &record)?;
        let key = shred_key(id, namespace);
        // Overwrite: a record planted under this name that does not verify
        // (it was not recorded) is replaced by a valid one.
        self.backend()
            .put(&key, Bytes::from(bytes), PutMode::Overwrite)
            .await?;
        Ok(key)
    }

    /// Deletes one key object (every piece of it) and confirms it is gone
    /// from the backend and from every store in `opts.confirm_on`.
    async fn destroy(
        &self,
        opts: &ShredOptions,
        object: &str,
        bytes: u64,
    ) -> Result<DestroyedObject> {
        if let Some(p) = &opts.partial {
            // Child by child: a plain delete succeeds once the object is
            // unreadable and may leave shards behind.
            p.delete_pieces(object).await?;
        }
        delete_confirmed(&**self.backend(), "repository", object).await?;
        let mut confirmed_absent_on = vec!["repository".to_owned()];
        for (name, store) in &opts.confirm_on {
            delete_confirmed(&**store, name, object).await?;
            confirmed_absent_on.push(name.clone());
        }
        Ok(DestroyedObject {
            object: object.to_owned(),
            bytes,
            confirmed_absent_on,
        })
    }
}

/// Deletes `key` from `store` (absent is fine) and reads it back: only
/// "not found" confirms.
async fn delete_confirmed(store: &dyn Backend, name: &str, key: &str) -> Result<()> {
    let unconfirmed = |reason: String| Error::ShredUnconfirmed {
        object: key.to_owned(),
        store: name.to_owned(),
        reason,
    };
    match store.delete(key).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(unconfirmed(format!("delete failed: {e}"))),
    }
    match store.get(key).await {
        Err(e) if e.is_not_found() => Ok(()),
        Ok(_) => Err(unconfirmed("still readable after the delete".into())),
        Err(e) => Err(unconfirmed(format!("read-back failed: {e}"))),
    }
}

fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

fn host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}
