//! Repacking: copying the used blobs of partly used packs into new packs.

use std::collections::BTreeMap;

use super::session::upload;
use cairn_crypto::SealingKey;

use crate::blob::{seal_blob, BlobKind, SealedBlob};
use crate::pack::{PackBuilder, PackEntry, PackId};
use crate::{Error, Repository, Result};

/// Copies blobs into new packs for a repack: each source pack is read once,
/// every blob verified (authenticated, decompressed, hashed to its id) and
/// its sealed bytes reused as they are (no re-compression) — unless it is
/// sealed under an older key epoch: then it is re-sealed (and re-compressed)
/// under the current one, which is how a retired epoch stops mattering.
pub async fn copy_blobs(
    repo: &Repository,
    blobs: &[(PackId, PackEntry)],
) -> Result<Vec<(PackId, Vec<PackEntry>)>> {
    let mut by_pack: BTreeMap<PackId, Vec<PackEntry>> = BTreeMap::new();
    for (p, e) in blobs {
        by_pack.entry(*p).or_default().push(*e);
    }
    let target = repo.config().pack_size as usize;
    let keys = repo.keys();
    let (mut data, mut trees) = (PackBuilder::default(), PackBuilder::default());
    let mut done = Vec::new();
    for (pack, entries) in by_pack {
        let key = pack.key();
        let whole = repo.backend().get(&key).await?;
        if PackId::of(&whole) != pack {
            return Err(Error::corrupt(&key, "contents do not match the name"));
        }
        for e in entries {
            let range = e.offset as usize..e.offset as usize + e.length as usize;
            let sealed = whole
                .get(range)
                .ok_or_else(|| Error::corrupt(&key, format!("blob {} lies outside", e.id)))?;
            let plain = crate::format::open_blob(&keys, &key, &e, sealed)?;
            let builder = match e.kind {
                BlobKind::Data => &mut data,
                BlobKind::Tree => &mut trees,
            };
            let current = SealingKey::sealed_epoch(sealed).is_ok_and(|ep| ep == keys.epoch());
            let blob = match current {
                true => SealedBlob {
                    kind: e.kind,
                    id: e.id,
                    compression: e.compression,
                    raw_length: e.raw_length,
                    bytes: sealed.to_vec(),
                },
                false => seal_blob(&keys, e.kind, e.id, &plain, repo.compression())?,
            };
            builder.add(&blob);
            if builder.len() >= target {
                done.push(upload(repo, std::mem::take(builder)).await?);
            }
        }
    }
    for b in [data, trees] {
        if !b.is_empty() {
            done.push(upload(repo, b).await?);
        }
    }
    Ok(done)
}
