//! Reading a repository from the outside: the API a restore, a verify or a
//! check is built on, so that they need neither the keys, nor the index's
//! lock, nor the pack format.
//!
//! - [`Repository::locate`] says where blobs are (pack, offset, lengths),
//!   for a batch of ids under one short lock of the index;
//!   [`Repository::indexed_packs`] and [`Repository::indexed_entries`] list
//!   what the index holds, pack by pack.
//! - [`Repository::read_blobs`] fetches a run of blobs of one pack with one
//!   ranged read and hands each blob's plaintext, verified (AEAD tag, then
//!   the chunk id of the plaintext), to the caller's closure on the CPU
//!   pool: a restore decrypts and writes in one task, without a copy.
//! - [`Repository::stored_packs`] lists the pack objects the storage
//!   holds, with their sizes; [`Repository::verify_pack`] reads a whole pack back: its name, its
//!   header and every blob in it.
//! - [`Repository::walk_trees`] walks a snapshot's tree as a `Stream` of
//!   directories, descending only where the caller says;
//!   [`Repository::walk_nodes`] flattens it into `(path, node)` pairs.
//! - [`Repository::chunk_hasher`] computes chunk ids of local data, to
//!   compare a file on disk with a snapshot without fetching anything.
//! - [`Repository::spawn_blocking`] runs a caller's blocking work (a
//!   restore's file writes, hashing files to compare) on the CPU pool the
//!   repository's own work runs on.
//!
//! Every byte handed out has been verified; a blob that fails is an error
//! naming its pack ([`Error::Authentication`](crate::Error::Authentication),
//! [`Error::ChunkIdMismatch`](crate::Error::ChunkIdMismatch) or
//! [`Error::Corrupt`](crate::Error::Corrupt)), never data.

mod blobs;
mod walk;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use cairn_crypto::{ChunkId, ChunkIdKey};

use crate::{BlobLocation, PackEntry, PackId, Repository};

pub use walk::WalkedTree;

/// Computes the chunk ids of this repository (keyed BLAKE3) for local data.
/// Cheap to clone; holds no key but the chunk-id key's, and `Debug` prints
/// none of it.
#[derive(Clone)]
pub struct ChunkHasher(Arc<Vec<ChunkIdKey>>);

impl ChunkHasher {
    /// The id `data` gets when written now.
    pub fn id(&self, data: &[u8]) -> ChunkId {
        self.0[0].id(data)
    }

    /// Whether `data` has id `id` under any chunk-id key of this
    /// repository: a rekeyed tenant's older snapshots name ids keyed by
    /// older generations.
    pub fn matches(&self, data: &[u8], id: &ChunkId) -> bool {
        self.0.iter().any(|k| k.id(data) == *id)
    }
}

impl std::fmt::Debug for ChunkHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChunkHasher(..)")
    }
}

impl Repository {
    /// Where each of `ids` is stored (`None`: in no index), in the same
    /// order. The index is locked once for the batch and not held after.
    pub fn locate(&self, ids: &[ChunkId]) -> Vec<Option<BlobLocation>> {
        let index = self.index();
        ids.iter().map(|id| index.get(id)).collect()
    }

    /// Every pack the index names.
    pub fn indexed_packs(&self) -> Vec<PackId> {
        self.index().packs().to_vec()
    }

    /// The index's entries of `packs`, grouped by pack, in one pass over
    /// the index (a pack the index does not name is absent).
    pub fn indexed_entries(&self, packs: &HashSet<PackId>) -> HashMap<PackId, Vec<PackEntry>> {
        let mut out: HashMap<PackId, Vec<PackEntry>> = HashMap::new();
        for l in self.index().iter().filter(|l| packs.contains(&l.pack)) {
            out.entry(l.pack).or_default().push(l.entry);
        }
        out
    }

    /// Every object the storage holds where packs go (`data/`), by key,
    /// with its listed size: what `check` compares with the index. Objects
    /// whose name is no pack id are listed too (the storage may hold
    /// planted ones).
    pub async fn stored_packs(&self) -> crate::Result<HashMap<String, u64>> {
        use futures::TryStreamExt;
        Ok(self
            .backend()
            .list("data/")
            .map_ok(|m| (m.key, m.size))
            .try_collect()
            .await?)
    }

    /// A hasher giving the ids chunks have in this repository.
    pub fn chunk_hasher(&self) -> ChunkHasher {
        // Only the chunk-id key leaves the key set: a hasher handed to file
        // work must not carry the keys that decrypt.
        ChunkHasher(Arc::new(self.keys().chunk_id_keys()))
    }

    /// Runs `f` on the CPU pool that this repository's own CPU-heavy work
    /// (chunking, sealing, opening blobs) runs on, and resolves to its
    /// result: for a caller's blocking work (file system calls, hashing),
    /// which must not run on its async executor. No runtime is assumed: the
    /// result comes back through a channel any executor can await. A panic
    /// in `f` becomes [`Error::Internal`](crate::Error::Internal).
    ///
    /// The pool is the handle's [`CpuPool`](crate::CpuPool): rayon's global
    /// pool unless the host handed over its own
    /// ([`OpenOptions::cpu_pool`](crate::OpenOptions::cpu_pool)).
    pub fn spawn_blocking<T, F>(&self, f: F) -> impl Future<Output = crate::Result<T>> + Send
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.cpu().spawn(f)
    }
}
