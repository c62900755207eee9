//! Repairing a damaged repository: rebuild the index from the packs, and
//! rewrite snapshots that reference lost data.
//!
//! Both follow the write order of a backup (data, then index, then
//! snapshot record) and only remove an object once what replaces it is
//! stored, so a crash during a repair leaves a repository no worse than
//! before it.

mod index;
mod snapshots;

use std::collections::HashMap;

use cairn_backends::Backend;
use cairn_crypto::KeySet;
use futures::TryStreamExt;

use crate::format::open_blob;
use crate::open::get_capped;
use crate::pack::{
    parse_header, parse_trailer, read_pack_header, PackEntry, PackId, MAX_PACK_SIZE, TRAILER_LEN,
};
use crate::{Error, Result, MAX_INDEX_SIZE};

pub use index::{rebuild_index, RepairIndexOptions, RepairIndexReport};
pub(crate) use snapshots::store_tree_pack;
pub use snapshots::{
    repair_snapshots, LostFile, RepairSnapshotsOptions, RepairSnapshotsReport, RepairedSnapshot,
    Unrepairable, REPAIRED_TAG,
};

/// A pack (or an object under `data/`) that could not be used, and why.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DamagedObject {
    /// The object's name.
    pub object: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Every object under `data/` with its size, by name.
pub(crate) async fn stored_packs(backend: &dyn Backend) -> Result<HashMap<String, u64>> {
    Ok(backend
        .list("data/")
        .map_ok(|m| (m.key, m.size))
        .try_collect()
        .await?)
}

/// The pack id a `data/<2 hex>/<64 hex>` name stands for.
pub(crate) fn pack_id_of(key: &str) -> Option<PackId> {
    let rest = key.strip_prefix("data/")?;
    let (dir, hex) = rest.split_once('/')?;
    let mut id = [0u8; 32];
    hex::decode_to_slice(hex, &mut id).ok()?;
    (hex.len() >= 2 && dir == &hex[..2]).then_some(PackId(id))
}

/// Reads and authenticates the header of the pack `key` of `size` bytes
/// with two ranged reads (trailer, then header), never the whole pack.
pub(crate) async fn read_header_of(
    backend: &dyn Backend,
    keys: &KeySet,
    key: &str,
    size: u64,
) -> Result<Vec<PackEntry>> {
    if size < TRAILER_LEN as u64 {
        return Err(Error::corrupt(key, "shorter than a pack trailer"));
    }
    if size > MAX_PACK_SIZE as u64 {
        return Err(Error::TooLarge {
            object: key.to_owned(),
            max: MAX_PACK_SIZE as u64,
        });
    }
    let data_end = size - TRAILER_LEN as u64;
    let trailer = backend.get_range(key, data_end..size).await?;
    let header_len = u64::from(parse_trailer(key, &trailer)?);
    // A header lists 46 bytes per blob: it is never larger than an index
    // object could be.
    if header_len > data_end || header_len > MAX_INDEX_SIZE {
        return Err(Error::corrupt(key, "header longer than the pack"));
    }
    let sealed = backend
        .get_range(key, data_end - header_len..data_end)
        .await?;
    if sealed.len() as u64 != header_len {
        return Err(Error::corrupt(key, "short read of the header"));
    }
    parse_header(keys, key, &sealed, size)
}

/// Reads the pack `id` whole and returns the ids of the blobs in it that
/// open and match their ids; an error if the pack cannot be read, does not
/// hash to its name, or its header fails.
pub(crate) async fn verified_blobs(
    cpu: &crate::CpuPool,
    backend: &dyn Backend,
    keys: &std::sync::Arc<KeySet>,
    id: PackId,
) -> Result<std::collections::HashSet<cairn_crypto::ChunkId>> {
    let key = id.key();
    let bytes = get_capped(backend, &key, MAX_PACK_SIZE as u64).await?;
    let keys = keys.clone();
    cpu.spawn(move || {
        if PackId::of(&bytes) != id {
            return Err(Error::corrupt(&key, "contents do not match the name"));
        }
        let entries = read_pack_header(&keys, &key, &bytes)?;
        let mut good = std::collections::HashSet::new();
        for e in &entries {
            let start = e.offset as usize;
            let sealed = start
                .checked_add(e.length as usize)
                .and_then(|end| bytes.get(start..end));
            if let Some(sealed) = sealed {
                if open_blob(&keys, &key, e, sealed).is_ok() {
                    good.insert(e.id);
                }
            }
        }
        Ok(good)
    })
    .await?
}
