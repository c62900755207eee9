//! Reading one blob by id: the index lookup, the ranged read (tree packs
//! fetched whole once and kept in memory), and the opening on the CPU pool.

use bytes::Bytes;
use cairn_crypto::ChunkId;

use crate::blob::{open_blob, BlobKind};
use crate::open::get_capped;
use crate::pack::PackId;
use crate::tree::Tree;
use crate::{Error, Repository, Result};

/// Bytes of whole tree packs kept in memory by [`Repository::read_blob`].
const TREE_CACHE_BYTES: usize = 64 << 20;
/// Blobs at most this large (sealed and plain) are opened on the calling
/// task rather than on the CPU pool: tens of microseconds at most.
const INLINE_OPEN_MAX: u32 = 64 << 10;
/// Tree packs larger than this are read blob by blob, not whole.
const TREE_PACK_WHOLE_MAX: u64 = 16 << 20;

impl Repository {
    /// Reads, opens and verifies one blob.
    pub async fn read_blob(&self, id: &ChunkId) -> Result<Vec<u8>> {
        let loc = self.index().get(id).ok_or(Error::MissingBlob { id: *id })?;
        let key = loc.pack.key();
        let e = loc.entry;
        let range = u64::from(e.offset)..u64::from(e.offset) + u64::from(e.length);
        let sealed = if e.kind == BlobKind::Tree {
            self.tree_pack_range(loc.pack, &key, range).await?
        } else {
            self.backend.get_range(&key, range).await?
        };
        if sealed.len() != e.length as usize {
            return Err(Error::corrupt(&key, format!("blob {id} is truncated")));
        }
        let keys = self.keys();
        let id = *id;
        let open = move || {
            open_blob(
                &keys,
                &key,
                e.kind,
                &id,
                e.compression,
                e.raw_length,
                &sealed,
            )
        };
        // A small blob (most trees) opens in microseconds: a hop to the
        // pool would cost more than the work, and every hop wakes a rayon
        // worker that spins in `sched_yield` before it sleeps again (70 000
        // calls in an unchanged backup of 12 600 files, one hop per
        // directory). Only larger blobs go to the pool.
        if e.raw_length <= INLINE_OPEN_MAX && e.length <= INLINE_OPEN_MAX {
            return open();
        }
        self.cpu.spawn(open).await?
    }

    /// Tree packs hold only trees, are small, and a walk reads many blobs
    /// from each: fetch them whole once (one request, and one decode on an
    /// erasure-coded backend) and serve later tree reads from memory.
    async fn tree_pack_range(
        &self,
        pack: PackId,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<Bytes> {
        let cached = self
            .tree_packs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&pack)
            .cloned();
        let whole = match cached {
            Some(b) => b,
            None => {
                let b = match self.cached_tree_pack(pack, TREE_PACK_WHOLE_MAX).await {
                    Some(b) => b,
                    // Tree packs are small; one that is not (damaged,
                    // planted, or a huge directory) is read by range and
                    // not cached.
                    None => match get_capped(&*self.backend, key, TREE_PACK_WHOLE_MAX).await {
                        Err(Error::TooLarge { .. }) => {
                            return Ok(self.backend.get_range(key, range).await?)
                        }
                        r => {
                            let b = r?;
                            self.cache_tree_pack(pack, &b).await;
                            b
                        }
                    },
                };
                let mut cache = self.tree_packs.lock().unwrap_or_else(|e| e.into_inner());
                let held: usize = cache.values().map(|v| v.len()).sum();
                if held + b.len() > TREE_CACHE_BYTES {
                    cache.clear();
                }
                cache.insert(pack, b.clone());
                b
            }
        };
        let end = (range.end as usize).min(whole.len());
        let start = (range.start as usize).min(end);
        Ok(whole.slice(start..end))
    }

    /// Reads a tree blob.
    pub async fn load_tree(&self, id: &ChunkId) -> Result<Tree> {
        let bytes = self.read_blob(id).await?;
        Tree::decode(&format!("tree {id}"), &bytes)
    }
}
