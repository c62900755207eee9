//! Tenants follow key rotation: after a rotation every tenant key object is
//! wrapped again under the new epoch's wrapping key, and the old object is
//! deleted once its replacement is stored.
//!
//! What a removed key's holder can still read of a tenant: whatever it
//! unwrapped (or could have unwrapped) before the removal — a rotation
//! changes the wrapping, not the tenant's secret, so data written into the
//! tenant before *and after* the removal stays readable to someone who kept
//! that secret, until the tenant is rekeyed (`cairn-lifecycle`: nothing written
//! after the rekey) or shredded (nothing at all). Objects it did not copy in
//! time are gone: the epoch-0 (or older-epoch) wrapping it holds opens no
//! key object written after the rotation, and tenants created afterwards
//! are wrapped under an epoch it was never granted.

use bytes::Bytes;
use cairn_backends::PutMode;
use cairn_crypto::{AdminPublicKey, TenantKeyObject};

use super::{seal_key_object, MAX_TENANT_KEY_SIZE, TENANT_KEYS};
use crate::open::{get_capped, list_tolerant};
use crate::prune::records::list_names;
use crate::{Repository, Result};

/// Re-wraps every tenant key object not under the current epoch; returns
/// how many were re-wrapped. Objects that do not open (planted, damaged, or
/// under an epoch this key was not granted) are left alone.
pub(crate) async fn rewrap_tenants(repo: &Repository) -> Result<u64> {
    let (heard, incomplete) = list_tolerant(&**repo.backend(), TENANT_KEYS).await?;
    if let Some(e) = incomplete {
        return Err(e.into());
    }
    let epoch = repo.keys().epoch();
    let mut done = 0;
    for m in heard {
        let o = match repo.open_key_object(&m.key).await {
            Ok(o) => o,
            Err(e) if e.is_backend_failure() => return Err(e),
            Err(_) => continue,
        };
        if o.parsed.epoch() == epoch {
            continue;
        }
        // A rekeyed (version 2) object is signed again by the rotating
        // admin's authority: the current one after an admin's removal.
        let (object, bytes) = seal_key_object(repo, &o.name, o.parsed.namespace(), &o.keys)?;
        // The new object first: a crash between the two leaves both, which
        // open to the same tenant (same secret, same namespace).
        match repo
            .backend()
            .put(&object, Bytes::from(bytes), PutMode::CreateOnly)
            .await
        {
            Err(e) if e.is_already_exists() => {}
            r => r?,
        }
        match repo.backend().delete(&m.key).await {
            Err(e) if e.is_not_found() => {}
            r => r?,
        }
        done += 1;
    }
    Ok(done)
}

/// Hashes of the version 2 tenant key objects `authority` signed: an
/// authority rotation pins them, so they stay valid under the chain until
/// the next key rotation re-signs them.
pub(crate) async fn signed_key_pins(
    repo: &Repository,
    authority: &AdminPublicKey,
) -> Result<Vec<[u8; 32]>> {
    let mut pins = Vec::new();
    for name in list_names(repo, TENANT_KEYS).await? {
        let bytes = match get_capped(&**repo.backend(), &name, MAX_TENANT_KEY_SIZE).await {
            Ok(b) => b,
            Err(e) if e.is_backend_failure() => return Err(e),
            Err(_) => continue,
        };
        let signed = TenantKeyObject::from_bytes(&bytes)
            .is_ok_and(|o| o.verify_signature(authority).is_ok());
        if signed {
            pins.push(*blake3::hash(&bytes).as_bytes());
        }
    }
    Ok(pins)
}
