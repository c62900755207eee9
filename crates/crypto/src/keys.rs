//! The master key and the subkeys derived from it.
//!
//! ```text
//! master key (32 random bytes; stored only wrapped in key files)
//!  ├─ HKDF-SHA256(ikm = master, salt = none, info = "cairn/v1/chunk-id")  -> ChunkIdKey
//!  ├─ HKDF-SHA256(ikm = master, salt = none, info = "cairn/v1/data")      -> SealingKey for chunk blobs
//!  ├─ HKDF-SHA256(ikm = master, salt = none, info = "cairn/v1/metadata")  -> SealingKey for headers, indexes, trees, snapshots, config
//!  ├─ HKDF-SHA256(ikm = master, salt = none, info = "cairn/v1/journal")   -> SealingKey for audit journal entries
//!  ├─ HKDF-SHA256(ikm = master, salt = none, info = "cairn/v1/local-cache") -> MAC key of the local metadata cache
//!  └─ HKDF-SHA256(ikm = master, salt = none, info = "cairn/v1/tenant/" || name)
//!        -> a tenant root, from which the same three labels derive that tenant's keys
//! ```
//!
//! The labels are part of the repository format (DO NOT CHANGE): changing one makes
//! every existing repository unreadable. Distinct labels give independent keys, so a
//! compromise of, say, the data key reveals nothing about chunk ids or metadata.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::chunk_id::ChunkIdKey;
use crate::error::Result;
use crate::primitives;
use crate::seal::SealingKey;

const LABEL_CHUNK_ID: &[u8] = b"cairn/v1/chunk-id";
const LABEL_DATA: &[u8] = b"cairn/v1/data";
const LABEL_METADATA: &[u8] = b"cairn/v1/metadata";
const LABEL_TENANT: &[u8] = b"cairn/v1/tenant/";
const LABEL_JOURNAL: &[u8] = b"cairn/v1/journal";
const LABEL_LOCAL_CACHE: &[u8] = b"cairn/v1/local-cache";

/// A repository's master key: 32 random bytes from which every other key derives.
///
/// Zeroized on drop; `Debug` prints `MasterKey(..)` only. Not `Clone`, to keep the
/// number of copies in memory down.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// A new master key from the operating system's random number generator.
    ///
    /// # Errors
    /// [`Error::Random`](crate::Error::Random) if the generator fails.
    pub fn generate() -> Result<Self> {
        let mut key = Self([0u8; 32]);
        primitives::fill_random(&mut key.0)?;
        Ok(key)
    }

    /// A master key from its bytes (e.g. an existing key, or tests).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key bytes. For writing key files (see [`KeyFile`](crate::KeyFile)) and
    /// nothing else: never log, print or store them unwrapped.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// The keys a repository (or one tenant of it) works with, derived from a
/// [`MasterKey`] with HKDF-SHA256 (see the [module docs](self) for labels).
///
/// Every key is zeroized on drop; `Debug` prints `KeySet { .. }` only. `Clone` copies
/// are zeroized too; share one behind an `Arc` where possible.
#[derive(Clone)]
pub struct KeySet {
    /// The material this set was derived from (the master key, or a tenant root),
    /// kept to derive tenant sets from.
    root: Root,
    chunk_id: ChunkIdKey,
    data: SealingKey,
    metadata: SealingKey,
}

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct Root([u8; 32]);

impl KeySet {
    /// Derives the repository's keys from its master key.
    pub fn derive(master: &MasterKey) -> Self {
        Self::from_root(Root(master.0))
    }

    /// The key set of tenant `tenant`: the same three keys, derived from a tenant root
    /// `HKDF-SHA256(this set's root, info = "cairn/v1/tenant/" || tenant)`. Different
    /// names (any UTF-8, including empty) give independent key sets, all openable
    /// with the one master key; tenants can nest (`tenant("a").tenant("b")`).
    pub fn tenant(&self, tenant: &str) -> KeySet {
        let root = primitives::derive_key32(&self.root.0, &[LABEL_TENANT, tenant.as_bytes()]);
        Self::from_root(Root(*root))
    }

    /// The key for chunk ids.
    pub fn chunk_id_key(&self) -> &ChunkIdKey {
        &self.chunk_id
    }

    /// The key that seals chunk blobs.
    pub fn data_key(&self) -> &SealingKey {
        &self.data
    }

    /// The key that seals pack headers, indexes, trees, snapshots and config.
    pub fn metadata_key(&self) -> &SealingKey {
        &self.metadata
    }

    /// The key that seals audit journal entries (derived on each call: it is
    /// used once per journal read or write, and keeping it out of the struct
    /// leaves the set's layout alone). Separate from the metadata key so an
    /// entry can never be taken for another kind of document, whatever the
    /// framing around it.
    pub fn journal_key(&self) -> SealingKey {
        SealingKey::from_bytes(*primitives::derive_key32(&self.root.0, &[LABEL_JOURNAL]))
    }

    /// The key that authenticates this machine's cached copies of
    /// repository objects (a keyed BLAKE3 MAC; derived on each call like
    /// [`journal_key`](Self::journal_key)). Nothing stored in the repository
    /// uses it: it only proves a cache file was written by a holder of the
    /// keys, so a planted or edited cache file is refused.
    pub fn local_cache_key(&self) -> Zeroizing<[u8; 32]> {
        primitives::derive_key32(&self.root.0, &[LABEL_LOCAL_CACHE])
    }

    fn from_root(root: Root) -> Self {
        let derive =
            |label: &[u8]| -> Zeroizing<[u8; 32]> { primitives::derive_key32(&root.0, &[label]) };
        let chunk_id = ChunkIdKey::from_bytes(*derive(LABEL_CHUNK_ID));
        let data = SealingKey::from_bytes(*derive(LABEL_DATA));
        let metadata = SealingKey::from_bytes(*derive(LABEL_METADATA));
        Self {
            root,
            chunk_id,
            data,
            metadata,
        }
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySet { .. }")
    }
}
