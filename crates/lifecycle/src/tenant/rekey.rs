//! `tenant rekey`: a fresh secret (a *generation*) for a tenant, going
//! forward, so that a key holder removed earlier — who may have unwrapped
//! and kept the tenant's older secrets — reads nothing the tenant writes
//! afterwards.
//!
//! The new object (version 2, `cairn_crypto::tenant_key`) carries every
//! generation: the newest seals everything written from now on (and keys its
//! chunk ids, so new data neither dedups against nor can be recognised by an
//! older generation), the older ones open what is already stored. The rekey
//! re-encrypts nothing: old snapshots keep restoring, and stay readable to
//! whoever kept an old secret until the tenant's next prune re-seals its
//! packs and index under the newest generation (as for key epochs; snapshot
//! records keep theirs), or the tenant is shredded.
//!
//! # Order (crash safety)
//!
//! 1. the new object is written create-only (wrapped under the current
//!    epoch, signed by the current authority);
//! 2. it is read back and opened: the same tenant, namespace and name, one
//!    generation more;
//! 3. the journal records the rekey;
//! 4. the older objects of the tenant's namespace are deleted.
//!
//! A crash before 1 changes nothing; after 1, both objects exist and
//! `Repository::open_tenant` takes the newest generation, whose object
//! also holds every older secret, so the repository opens, checks and reads
//! everything; a later rekey (or rotation) deletes the leftover.
//!
//! A handle that opened the tenant before the rekey keeps writing under the
//! old generation until it opens the tenant again (as with key rotation).

use bytes::Bytes;
use cairn_backends::PutMode;
use cairn_cas_core::tenant::seal_key_object;
use cairn_crypto::TenantSecret;
use serde::Serialize;

use crate::{journal, Error, Repository, Result};

/// What [`rekey_tenant`] did.
#[non_exhaustive]
#[derive(Debug, Clone, Serialize)]
pub struct RekeyReport {
    /// The tenant's id (hex).
    pub tenant: String,
    /// Its namespace (hex; unchanged).
    pub namespace: String,
    /// The new generation: everything written from now on is sealed under it.
    pub generation: u32,
    /// The new key object.
    pub object: String,
    /// The older key objects deleted.
    pub replaced: Vec<String>,
}

fn crypto(object: &str) -> impl FnOnce(cairn_crypto::Error) -> Error + '_ {
    move |source| Error::Crypto {
        object: object.to_owned(),
        source,
    }
}

/// Gives tenant `name` of `repo` a fresh key generation (admins only): data
/// written into it from now on is sealed, and its chunk ids keyed, under
/// keys no earlier key holder ever saw; older data stays readable to the
/// tenant under its older generations.
///
/// # Errors
/// [`Error::NotAdmin`] / [`Error::NoAuthority`] without an admin key that
/// can sign (a version 1 admin cannot rekey); [`Error::NotOnTenant`] on a
/// tenant's view; [`Error::TenantNotFound`]; [`Error::Crypto`] with
/// [`cairn_crypto::Error::TooManyGenerations`] once the tenant has
/// [`cairn_crypto::tenant_key::MAX_GENERATIONS`] generations.
pub async fn rekey_tenant(repo: &Repository, name: &str) -> Result<RekeyReport> {
    repo.require_admin("rekey a tenant")?;
    // The newest epoch and authority: the new object is wrapped where a
    // key removed so far cannot reach, and signed by what clients trust.
    repo.refresh_keys().await?;
    let (old, id) = repo.current_key_object(name).await?;
    let mut keys = old.keys;
    let secret = TenantSecret::generate().map_err(crypto("tenant secret"))?;
    let generation = keys.push(secret).map_err(crypto(&old.object))?;
    let ns = old.parsed.namespace();
    let (object, bytes) = seal_key_object(repo, &old.name, ns, &keys)?;
    repo.backend()
        .put(&object, Bytes::from(bytes), PutMode::CreateOnly)
        .await?;
    let back = repo.open_key_object(&object).await?;
    if back.keys.generation() != generation
        || back.parsed.namespace() != ns
        || back.name != old.name
    {
        return Err(Error::corrupt(&object, "reads back as another key object"));
    }
    let namespace = hex::encode(ns);
    let op = journal::Operation::TenantRekey {
        tenant: id.clone(),
        namespace: namespace.clone(),
        generation,
    };
    let counts = journal::counts([("tenant_keys", 1)]);
    journal::record_after(repo, op, counts.clone(), counts).await?;
    let replaced = drop_older_objects(repo, &id, &object, ns, generation).await?;
    Ok(RekeyReport {
        tenant: id,
        namespace,
        generation,
        object,
        replaced,
    })
}

/// Deletes the key objects of tenant `id` in namespace `ns` below
/// `generation` (the one just replaced, and any a crashed rekey left).
async fn drop_older_objects(
    repo: &Repository,
    id: &str,
    keep: &str,
    ns: [u8; 16],
    generation: u32,
) -> Result<Vec<String>> {
    let mut replaced = Vec::new();
    for (object, _) in repo.tenant_key_objects(id).await? {
        let older = match repo.open_key_object(&object).await {
            Ok(o) => o.parsed.namespace() == ns && o.keys.generation() < generation,
            Err(e) if e.is_backend_failure() => return Err(e),
            Err(_) => false,
        };
        if object != keep && older {
            match repo.backend().delete(&object).await {
                Err(e) if e.is_not_found() => {}
                r => r?,
            }
            replaced.push(object);
        }
    }
    Ok(replaced)
}
