//! Repacking: copying the used blobs of partly used packs into new packs.

use std::collections::BTreeMap;

use super::session::upload;
use crate::blob::{BlobKind, SealedBlob};
use crate::pack::{PackBuilder, PackEntry, PackId};
use crate::{Error, Repository, Result};

/// Copies blobs into new packs for a repack: each source pack is read once,
/// every blob verified (authenticated, decompressed, hashed to its id) and
/// its sealed bytes reused as they are (no re-compression).
pub(crate) async fn copy_blobs(
    repo: &Repository,
    blobs: &[(PackId, PackEntry)],
) -> Result<Vec<(PackId, Vec<PackEntry>)>> {
    let mut by_pack: BTreeMap<PackId, Vec<PackEntry>> = BTreeMap::new();
    for (p, e) in blobs {
        by_pack.entry(*p).or_default().push(*e);
    }
    let target = repo.config().pack_size as usize;
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
            crate::open_blob(repo.keys(), &key, &e, sealed)?;
            let builder = match e.kind {
                BlobKind::Data => &mut data,
                BlobKind::Tree => &mut trees,
            };
            builder.add(&SealedBlob {
                kind: e.kind,
                id: e.id,
                compression: e.compression,
                raw_length: e.raw_length,
                bytes: sealed.to_vec(),
            });
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
