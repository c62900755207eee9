//! Tenants: key domains inside one repository, each with its own random
//! keys, that can be destroyed on their own (crypto-shredding).
//!
//! # Layout
//!
//! ```text
//! tenant-keys/<tenant id>/<BLAKE3 of the object>   tenant key object (CRTK v1, or v2 once rekeyed: cairn_crypto::tenant_key)
//! tenant-shreds/<tenant id>/<namespace>             shred record (CRTS, admin-signed; shred.rs)
//! tenants/<namespace>/…                             the tenant's whole repository:
//!                                                   data/, index/, snapshots/, tombstones/,
//!                                                   sessions/, condemned/, journal/, …
//! ```
//!
//! A tenant is a sub-repository: [`Repository::open_tenant`] returns a
//! [`Repository`] whose backend is the namespace `tenants/<namespace>/`
//! ([`cairn_backends::Prefixed`]) and whose keys are the tenant's own
//! (random, wrapped in its key object; not `KeySet::tenant`, which derives
//! keys any key holder can derive again). Everything a repository does
//! works on it unchanged, within the namespace: backup, restore, snapshots,
//! forget (tombstones signed by the same admin authority), prune, check.
//! So dedup never crosses tenants (chunk ids are keyed with the tenant's
//! chunk-id key, and the index is the tenant's), and trees and snapshot
//! records (file names are personal data) are sealed under its keys.
//!
//! The *tenant id* is a keyed hash of the name under a repository key
//! ([`cairn_crypto::KeySet::tenant_id`]); the *namespace* is 16 random
//! bytes chosen at creation and kept in the key object, so a tenant created
//! again under a shredded name gets a fresh namespace that the shredded
//! one's reclamation never touches. Neither reveals the name.
//!
//! # Journal
//!
//! The repository's journal records tenant creation and shredding (by id,
//! never by name). A tenant's own operations are journaled in its own
//! namespace, sealed under its keys: they name hosts and times of that
//! tenant's backups, and are destroyed with it. `audit verify` on a
//! tenant's view verifies that journal.
//!
//! # Roles
//!
//! Creating a tenant, listing tenants and shredding need an admin key (the
//! shred record carries the admin authority's signature; prune reclaims a
//! namespace only under a record that verifies). Backup keys can open an
//! existing tenant and back up into it. Cryptographically every key holder
//! granted the current key epoch can unwrap every tenant key object (the
//! wrapping key derives from the epoch's root; objects are re-wrapped at
//! each rotation, see `rewrap.rs` for what a removed key can still read):
//! tenants separate data for shredding and dedup, they are not an
//! access-control boundary between key holders.
//!
//! # What a removed key holder still reads
//!
//! After `key remove` and its rotation, a removed holder opens no tenant key
//! object written since, but keeps any tenant secret it unwrapped before:
//! it reads that tenant's data written before the removal, and after it,
//! until a shred (nothing) or a rekey (`cairn_lifecycle::tenant::rekey_tenant`:
//! nothing written after it; a new generation seals it and keys its chunk
//! ids). Data written before the rekey stays readable to it
//! until the tenant's next prune re-seals it (snapshot records excepted),
//! or a shred.
//!
//! # Concurrency
//!
//! If two admins create the same tenant at once, two key objects (two
//! namespaces) exist; [`Repository::open_tenant`] uses the one whose object
//! name sorts first, and a shred destroys both.

mod receipt;
mod rewrap;
mod shred;

pub use receipt::{verify_receipt, DestroyedObject, PendingGc, Receipt, RECEIPT_FORMAT};
pub(crate) use rewrap::{rewrap_tenants, signed_key_pins};
pub use shred::ShredOptions;
#[cfg(test)]
pub(crate) use shred::ShredRecord as ShredRecordForTests;

use std::sync::Arc;

use bytes::Bytes;
use cairn_backends::{Backend, Prefixed, PutMode};
use cairn_crypto::{SealingKey, TenantKeyObject, TenantKeys, TenantSecret};
use serde::Serialize;

use crate::open::{get_capped, list_tolerant};
use crate::repo::signed::{MAX_SIGNED_SIZE, SHRED_MAGIC};
use crate::{journal, Error, Repository, Result};

/// Prefix of tenant key objects.
pub const TENANT_KEYS: &str = "tenant-keys/";
/// Prefix of shred records.
pub const TENANT_SHREDS: &str = "tenant-shreds/";
/// Prefix of tenant namespaces.
pub const TENANTS: &str = "tenants/";
/// Largest tenant key object read (version 2: 109 + 49 + a 1 KiB name +
/// 32 bytes for each of at most 1024 generations, about 34 KiB).
pub(crate) const MAX_TENANT_KEY_SIZE: u64 = 64 << 10;

/// What a tenant's view knows about its tenant.
#[derive(Debug, Clone)]
pub struct TenantView {
    name: String,
    id: String,
    namespace: String,
    parent: Arc<dyn Backend>,
}

impl TenantView {
    /// The tenant's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its id (hex of the keyed hash of the name).
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Its namespace (hex): its objects live under `tenants/<namespace>/`.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
    /// The whole repository's backend (where `authorities/` is).
    pub(crate) fn parent(&self) -> &Arc<dyn Backend> {
        &self.parent
    }
}

/// A tenant as [`Repository::tenants`] lists it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantInfo {
    /// The name.
    pub name: String,
    /// The id (hex).
    pub id: String,
    /// The namespace (hex).
    pub namespace: String,
    /// The key epoch its key object is wrapped under.
    pub epoch: u32,
    /// Its newest key generation (0 until the tenant is rekeyed).
    pub generation: u32,
    /// The key object.
    pub object: String,
}

/// The one place the key that wraps tenant key objects of `epoch` comes
/// from (key rotation re-wraps tenant secrets under a new epoch here).
///
/// Epoch 0 is the repository key set's `"cairn/v1/tenant-wrap"` key; epoch
/// `n >= 1` is the same derivation from epoch `n`'s root
/// (`KeySet::derive(root).tenant_wrapping_key()`), so only key files
/// granted epoch `n` can unwrap what is wrapped under it. Tenant *ids* stay
/// derived from the epoch-0 set (`"cairn/v1/tenant-id"`), or tenants created
/// before a rotation would no longer be found by name.
pub(crate) fn wrapping_key(repo: &Repository, epoch: u32, object: &str) -> Result<SealingKey> {
    let keys = repo.keys();
    match epoch {
        0 => Ok(keys.tenant_wrapping_key()),
        e => match keys.expose_epoch_root(e) {
            Some(root) => Ok(cairn_crypto::KeySet::derive(&root).tenant_wrapping_key()),
            None => Err(Error::corrupt(
                object,
                format!("wrapped under key epoch {e}, which this key was not granted"),
            )),
        },
    }
}

/// Seals tenant `name`'s keys in `namespace` under the current key
/// epoch's wrapping key; returns the object name and bytes. A tenant never
/// rekeyed stays a version 1 object (older builds keep reading it); one
/// with generations is version 2, signed by this admin's authority.
#[doc(hidden)]
pub fn seal_key_object(
    repo: &Repository,
    name: &str,
    namespace: [u8; 16],
    tenant: &TenantKeys,
) -> Result<(String, Vec<u8>)> {
    let keys = repo.keys();
    let epoch = keys.epoch();
    let tid = keys.tenant_id(name);
    let wrap = wrapping_key(repo, epoch, "")?;
    let obj = if tenant.generation() == 0 {
        TenantKeyObject::seal(&wrap, epoch, tid, namespace, tenant.newest(), name)
    } else {
        let admin = repo.admin_key("write a rekeyed tenant's key object")?;
        TenantKeyObject::seal_generations(&wrap, epoch, tid, namespace, tenant, name, &admin)
    }
    .map_err(crypto("tenant key object"))?;
    let bytes = obj.to_bytes();
    let object = format!(
        "{}{}",
        key_prefix(&hex::encode(tid)),
        blake3::hash(&bytes).to_hex()
    );
    Ok((object, bytes))
}

pub(crate) fn key_prefix(tenant_id: &str) -> String {
    format!("{TENANT_KEYS}{tenant_id}/")
}

pub(crate) fn shred_key(tenant_id: &str, namespace: &str) -> String {
    format!("{TENANT_SHREDS}{tenant_id}/{namespace}")
}

#[doc(hidden)]
pub fn namespace_prefix(namespace: &str) -> String {
    format!("{TENANTS}{namespace}/")
}

/// A key object read and opened.
#[doc(hidden)]
pub struct Opened {
    pub object: String,
    pub parsed: TenantKeyObject,
    pub keys: TenantKeys,
    pub name: String,
}

impl Repository {
    /// Creates tenant `name` (random keys, a fresh namespace) and returns
    /// its view. Admins only; fails with [`Error::TenantExists`] if a key
    /// object for the name is stored.
    pub async fn create_tenant(&self, name: &str) -> Result<Repository> {
        self.require_whole("create a tenant")?;
        self.admin_key("create a tenant")?;
        let id = hex::encode(self.keys().tenant_id(name));
        if !self.tenant_key_objects(&id).await?.is_empty() {
            return Err(Error::TenantExists {
                tenant: name.to_owned(),
            });
        }
        let secret = TenantKeys::new(TenantSecret::generate().map_err(crypto("tenant secret"))?);
        let mut ns = [0u8; 16];
        getrandom::fill(&mut ns).map_err(|e| Error::Internal {
            what: format!("no randomness from the operating system: {e}"),
        })?;
        // Under the current epoch: a key removed before now (left out of
        // that epoch) cannot unwrap it.
        self.refresh_keys().await?;
        let (object, bytes) = seal_key_object(self, name, ns, &secret)?;
        self.backend()
            .put(&object, Bytes::from(bytes), PutMode::CreateOnly)
            .await?;
        let namespace = hex::encode(ns);
        let op = journal::Operation::TenantCreate {
            tenant: id.clone(),
            namespace: namespace.clone(),
        };
        journal::record_after(
            self,
            op,
            journal::counts([("tenant_keys", 1)]),
            Default::default(),
        )
        .await?;
        self.view(name.to_owned(), id, namespace, secret).await
    }

    /// Opens tenant `name`: its view, through which everything a repository
    /// does happens in its namespace under its keys. Any key may open a
    /// tenant (backup hosts back up into existing tenants).
    pub async fn open_tenant(&self, name: &str) -> Result<Repository> {
        let (o, id) = self.current_key_object(name).await?;
        let namespace = hex::encode(o.parsed.namespace());
        self.view(o.name, id, namespace, o.keys).await
    }

    /// Tenant `name`'s key object in use, and the tenant's id: of those that
    /// open (and, version 2, verify under the authority) and are not
    /// shredded, the newest generation, then the first by object name.
    ///
    /// Newest generation first: after a rekey (or a crash in the middle of
    /// one) the object with the fresh secret wins, and a version 1 object a
    /// removed key holder seals under an old epoch (generation 0) never
    /// outranks it.
    #[doc(hidden)]
    pub async fn current_key_object(&self, name: &str) -> Result<(Opened, String)> {
        self.require_whole("open a tenant")?;
        let id = hex::encode(self.keys().tenant_id(name));
        let mut best: Option<Opened> = None;
        for (object, _) in self.tenant_key_objects(&id).await? {
            let o = match self.open_key_object(&object).await {
                Ok(o) => o,
                Err(e) if e.is_backend_failure() => return Err(e),
                // Damaged or planted: another copy may be good.
                Err(_) => continue,
            };
            let namespace = hex::encode(o.parsed.namespace());
            if o.name != name || self.shred_recorded(&id, &namespace).await? {
                continue;
            }
            if best
                .as_ref()
                .is_none_or(|b| o.keys.generation() > b.keys.generation())
            {
                best = Some(o);
            }
        }
        let best = best.ok_or_else(|| Error::TenantNotFound {
            tenant: name.to_owned(),
        })?;
        Ok((best, id))
    }

    /// Every tenant whose key object opens (admins only).
    pub async fn tenants(&self) -> Result<Vec<TenantInfo>> {
        self.require_whole("list tenants")?;
        self.require_admin("list tenants")?;
        let (heard, incomplete) = list_tolerant(&**self.backend(), TENANT_KEYS).await?;
        if let Some(e) = incomplete {
            return Err(e.into());
        }
        let mut out = Vec::new();
        for m in heard {
            let o = match self.open_key_object(&m.key).await {
                Ok(o) => o,
                Err(e) if e.is_backend_failure() => return Err(e),
                Err(_) => continue,
            };
            out.push(TenantInfo {
                name: o.name,
                id: hex::encode(o.parsed.tenant_id()),
                namespace: hex::encode(o.parsed.namespace()),
                epoch: o.parsed.epoch(),
                generation: o.keys.generation(),
                object: o.object,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.object.cmp(&b.object)));
        Ok(out)
    }

    async fn view(
        &self,
        name: String,
        id: String,
        namespace: String,
        tenant: TenantKeys,
    ) -> Result<Repository> {
        let backend: Arc<dyn Backend> = Arc::new(Prefixed::new(
            self.backend().clone(),
            namespace_prefix(&namespace),
        )?);
        let view = TenantView {
            name,
            id,
            namespace,
            parent: self.backend().clone(),
        };
        self.tenant_view(backend, tenant.keys(), view).await
    }

    /// Names and sizes of the key objects of tenant `id` (a complete
    /// listing, or an error).
    #[doc(hidden)]
    pub async fn tenant_key_objects(&self, id: &str) -> Result<Vec<(String, u64)>> {
        let (heard, incomplete) = list_tolerant(&**self.backend(), &key_prefix(id)).await?;
        if let Some(e) = incomplete {
            return Err(e.into());
        }
        let mut out: Vec<_> = heard.into_iter().map(|m| (m.key, m.size)).collect();
        out.sort();
        Ok(out)
    }

    #[doc(hidden)]
    pub async fn open_key_object(&self, object: &str) -> Result<Opened> {
        let bytes = get_capped(&**self.backend(), object, MAX_TENANT_KEY_SIZE).await?;
        let parsed = TenantKeyObject::from_bytes(&bytes).map_err(crypto(object))?;
        if parsed.is_signed() {
            self.verify_tenant_key(object, &parsed, &bytes)?;
        }
        let wrap = wrapping_key(self, parsed.epoch(), object)?;
        let (keys, name) = parsed.open(&wrap).map_err(crypto(object))?;
        // The id is authenticated (it is associated data), but bound to the
        // name only here: an object filed under another tenant's id is not
        // that tenant's.
        let id = self.keys().tenant_id(&name);
        if !object.starts_with(&key_prefix(&hex::encode(id))) {
            return Err(Error::corrupt(object, "filed under another tenant's id"));
        }
        if parsed.tenant_id() != id {
            return Err(Error::corrupt(object, "names another tenant's id"));
        }
        Ok(Opened {
            object: object.to_owned(),
            parsed,
            keys,
            name,
        })
    }

    /// A version 2 object must carry the admin authority's signature (the
    /// current one's, or a retired one's on bytes its link pinned): anyone
    /// holding an epoch's wrapping key could otherwise seal one.
    fn verify_tenant_key(
        &self,
        object: &str,
        parsed: &TenantKeyObject,
        bytes: &[u8],
    ) -> Result<()> {
        let chain = self.authority_chain();
        let ok = chain.is_some_and(|c| c.accepts(bytes, |k| parsed.verify_signature(k).is_ok()));
        if !ok {
            return Err(Error::NotAuthorised {
                object: object.to_owned(),
            });
        }
        Ok(())
    }

    /// A key object of a tenant other than `id` that names `namespace`, if
    /// any (from a complete listing, or an error).
    ///
    /// A namespace belongs to the tenant whose key object chose it. Anyone
    /// with the master key (a backup host) can seal a key object for tenant
    /// A that names tenant B's namespace; shredding A must then neither sign
    /// B's namespace away nor let prune delete it. Refusing a namespace
    /// another tenant claims is the safe direction: a planted claim can
    /// only keep a namespace from being reclaimed, never get one deleted.
    #[doc(hidden)]
    pub async fn namespace_claimed_elsewhere(
        &self,
        id: &str,
        namespace: &str,
    ) -> Result<Option<String>> {
        let (heard, incomplete) = list_tolerant(&**self.backend(), TENANT_KEYS).await?;
        if let Some(e) = incomplete {
            return Err(e.into());
        }
        let own = key_prefix(id);
        for m in heard.into_iter().filter(|m| !m.key.starts_with(&own)) {
            match self.open_key_object(&m.key).await {
                Ok(o) if hex::encode(o.parsed.namespace()) == namespace => return Ok(Some(m.key)),
                Err(e) if e.is_backend_failure() => return Err(e),
                _ => {}
            }
        }
        Ok(None)
    }

    /// Whether a shred record that verifies under this handle's authority
    /// exists for `namespace` (a planted one is ignored).
    #[doc(hidden)]
    pub async fn shred_recorded(&self, id: &str, namespace: &str) -> Result<bool> {
        let backend = match &self.tenant() {
            Some(v) => &v.parent,
            None => self.backend(),
        };
        shred_recorded_in(&**backend, self, id, namespace).await
    }

    /// On a tenant's view: fails with [`Error::TenantShredded`] once the
    /// tenant was shredded (a writer that opened it before must not
    /// acknowledge anything into a destroyed namespace).
    pub(crate) async fn ensure_tenant_live(&self) -> Result<()> {
        if let Some(v) = &self.tenant() {
            if self.shred_recorded(&v.id, &v.namespace).await? {
                return Err(Error::TenantShredded {
                    namespace: v.namespace.clone(),
                });
            }
        }
        Ok(())
    }
}

async fn shred_recorded_in(
    backend: &dyn Backend,
    repo: &Repository,
    id: &str,
    namespace: &str,
) -> Result<bool> {
    let key = shred_key(id, namespace);
    let bytes = match get_capped(backend, &key, MAX_SIGNED_SIZE).await {
        Err(Error::Backend(e)) if e.is_not_found() => return Ok(false),
        r => r?,
    };
    let Some(authority) = repo.authority_chain() else {
        // Without an authority nothing can be verified: treat the tenant
        // as shredded (the safe direction for a writer).
        return Ok(true);
    };
    Ok(authority
        .decode::<shred::ShredRecord>(SHRED_MAGIC, &repo.config().id, &key, &bytes)
        .is_ok_and(|r| r.namespace == namespace && r.tenant == id))
}

pub(crate) fn crypto(object: impl Into<String>) -> impl FnOnce(cairn_crypto::Error) -> Error {
    let object = object.into();
    move |source| Error::Crypto { object, source }
}
