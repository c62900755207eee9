//! Create-only writes of content-addressed objects.

use bytes::Bytes;
use cairn_backends::{Backend, PutMode};

use crate::open::get_capped;
use crate::{Error, Result};

/// Create-only put of a content-addressed object (`key` ends in the hex
/// BLAKE3 of `bytes`: packs, index objects, snapshot records).
///
/// Finding the name already stored is success only once the stored bytes are
/// confirmed to be this content (same size, hash matching the name):
/// `AlreadyExists` alone proves nothing — a damaged or planted object, or a
/// backend that reports a conflict for a write that did not land, would
/// otherwise be acknowledged as stored. A wrong stored object is
/// [`Error::StoredObjectMismatch`]: it is not overwritten, because objects
/// are create-only (an overwrite is not atomic on every backend, and a
/// concurrent reader could see neither version); `check` names it and
/// `repair` decides what replaces it.
#[doc(hidden)]
pub async fn put_idempotent(backend: &dyn Backend, key: &str, bytes: Bytes) -> Result<()> {
    let len = bytes.len() as u64;
    let hash = blake3::hash(&bytes);
    match backend.put(key, bytes, PutMode::CreateOnly).await {
        Err(e) if e.is_already_exists() => confirm_stored(backend, key, len, &hash).await,
        r => Ok(r?),
    }
}

async fn confirm_stored(
    backend: &dyn Backend,
    key: &str,
    len: u64,
    hash: &blake3::Hash,
) -> Result<()> {
    let mismatch = |reason: String| Error::StoredObjectMismatch {
        object: key.to_owned(),
        reason,
    };
    let stored = match get_capped(backend, key, len).await {
        Ok(b) => b,
        Err(Error::TooLarge { .. }) => {
            return Err(mismatch(format!("larger than the {len} bytes expected")))
        }
        Err(Error::Backend(e)) if e.is_not_found() => {
            return Err(mismatch(
                "the backend said it exists, but it cannot be found".into(),
            ))
        }
        Err(e) => return Err(e),
    };
    if stored.len() as u64 != len {
        return Err(mismatch(format!("{} bytes instead of {len}", stored.len())));
    }
    if blake3::hash(&stored) != *hash {
        return Err(mismatch("its contents do not hash to its name".into()));
    }
    Ok(())
}
