//! Retiring old key epochs: prune repacks every used pack sealed under an
//! epoch older than the current one, re-encrypting its blobs, and rewrites
//! index objects sealed under an old epoch (the consolidation in phase 2).
//! Once done, a removed key's holder — who may know the master key and so
//! every epoch before their removal — can decrypt no pack or index object.
//! Snapshot records keep their epoch (see the `repo::epochs` docs).

use std::collections::{HashMap, HashSet};

use cairn_crypto::SealingKey;
use futures::StreamExt;

use crate::pack::PackId;
use crate::repo::LOAD_CONCURRENCY;
use crate::{Repository, Result};

/// The listed packs sealed under an epoch older than the current one (none
/// before any rotation). One 5-byte ranged read per pack: the first blob's
/// sealed header names its epoch, and every blob of a pack shares it.
/// Packs whose epoch cannot be read are left alone (`check` reports them).
pub(crate) async fn old_epoch_packs(
    repo: &Repository,
    listed: &HashMap<PackId, u64>,
) -> Result<HashSet<PackId>> {
    let current = repo.keys().epoch();
    if current == 0 {
        return Ok(HashSet::new());
    }
    let mut reads = futures::stream::iter(listed.keys().copied())
        .map(|p| async move { (p, repo.backend().get_range(&p.key(), 0..5).await) })
        .buffer_unordered(LOAD_CONCURRENCY);
    let mut old = HashSet::new();
    while let Some((p, r)) = reads.next().await {
        let bytes = match r {
            Ok(b) => b,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        if SealingKey::sealed_epoch(&bytes).is_ok_and(|e| e < current) {
            old.insert(p);
        }
    }
    Ok(old)
}

/// Whether the sealed message `bytes` (an index object) is under an epoch
/// older than `current`.
pub(crate) fn is_old(bytes: &[u8], current: u32) -> bool {
    SealingKey::sealed_epoch(bytes).is_ok_and(|e| e < current)
}
