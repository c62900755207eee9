//! The master key and the subkeys derived from it.
//!
//! ```text
//! master key (32 random bytes; stored only wrapped in key files)
//!  ├─ HKDF-SHA256(ikm = master, salt = none, info = "cairn/v1/chunk-id")  -> ChunkIdKey
//!  ├─ HKDF-SHA256(ikm = master, salt = none, info = "cairn/v1/data")      -> SealingKey for chunk blobs
//!  ├─ HKDF-SHA256(ikm = master, salt = none, info = "cairn/v1/metadata")  -> SealingKey for headers, indexes, trees, snapshots, config
//!  ├─ HKDF-SHA256(ikm = master, salt = none, info = "cairn/v1/journal")   -> SealingKey for audit journal entries
//!  ├─ HKDF-SHA256(ikm = master, salt = none, info = "cairn/v1/tenant-wrap") -> SealingKey wrapping tenant key objects
//!  ├─ HKDF-SHA256(ikm = master, salt = none, info = "cairn/v1/tenant-id")   -> BLAKE3 key naming tenants
//!  ├─ HKDF-SHA256(ikm = master, salt = none, info = "cairn/v1/local-cache") -> MAC key of the local metadata cache
//!  └─ HKDF-SHA256(ikm = master, salt = none, info = "cairn/v1/tenant/" || name)
//!        -> a derived tenant root, from which the same three labels derive keys
//!           (KeySet::tenant; NOT what repository tenants use, see below)
//! ```
//!
//! Repository tenants have *random* roots ([`TenantSecret`](crate::tenant_key::TenantSecret)),
//! wrapped in tenant key objects ([`crate::tenant_key`]): a derived root could
//! be derived again by any key holder and so could never be destroyed.
//!
//! # Key epochs
//!
//! A rotation starts epoch `n >= 1` with a fresh random *epoch root* (never
//! derived from the master key, so a removed holder who kept the master key
//! cannot compute it; see [`exchange`](crate::exchange) for how it reaches the
//! remaining key holders). Epoch `n`'s data, metadata and journal keys are the
//! same HKDF labels applied to its root; epoch 0 is the master key itself.
//! [`KeySet::with_epochs`] seals under the newest epoch and opens every epoch
//! it holds (sealed messages name their epoch, see [`seal`](crate::seal)).
//!
//! The chunk-id key stays epoch 0's (derived from the master key) across
//! rotations, so deduplication keeps working against data stored before a
//! rotation. The trade-off: a removed holder who kept the master key can
//! still compute chunk ids, i.e. confirm that a repository holds a plaintext
//! they already know — but can decrypt nothing sealed under a later epoch.
//!
//! The labels are part of the repository format (DO NOT CHANGE): changing one makes
//! every existing repository unreadable. Distinct labels give independent keys, so a
//! compromise of, say, the data key reveals nothing about chunk ids or metadata.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::chunk_id::{ChunkId, ChunkIdKey};
use crate::error::Result;
use crate::primitives;
use crate::seal::SealingKey;

const LABEL_CHUNK_ID: &[u8] = b"cairn/v1/chunk-id";
const LABEL_DATA: &[u8] = b"cairn/v1/data";
const LABEL_METADATA: &[u8] = b"cairn/v1/metadata";
const LABEL_TENANT: &[u8] = b"cairn/v1/tenant/";
const LABEL_JOURNAL: &[u8] = b"cairn/v1/journal";
const LABEL_TENANT_WRAP: &[u8] = b"cairn/v1/tenant-wrap";
const LABEL_TENANT_ID: &[u8] = b"cairn/v1/tenant-id";
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

    /// A master key from its bytes (e.g. an existing key, or tests). The
    /// argument's copy is zeroized; the caller's own copies are its to clear
    /// (prefer [`from_key`](Self::from_key) over a `Zeroizing` buffer).
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let key = Self::from_key(&bytes);
        bytes.zeroize();
        key
    }

    /// A master key copied from `bytes` straight into the zeroized-on-drop
    /// value (no copy of it on the stack).
    pub fn from_key(bytes: &[u8; 32]) -> Self {
        let mut key = Self([0u8; 32]);
        key.0.copy_from_slice(bytes);
        key
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
    /// Roots of the epochs after 0 this set holds (empty before a rotation).
    epochs: Vec<(u32, Root)>,
    /// The epoch new messages are sealed under.
    current: u32,
    /// Chunk-id keys of a tenant's earlier generations (empty for a
    /// repository, whose chunk ids stay epoch 0's across rotations).
    old_chunk_ids: Vec<ChunkIdKey>,
}

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct Root([u8; 32]);

impl Root {
    fn from_key(bytes: &[u8; 32]) -> Self {
        let mut r = Root([0u8; 32]);
        r.0.copy_from_slice(bytes);
        r
    }
}

impl KeySet {
    /// Derives the repository's keys from its master key.
    pub fn derive(master: &MasterKey) -> Self {
        Self::from_root(Root(master.0))
    }

    /// The repository's keys with key epochs: chunk ids from `master`
    /// (epoch 0), data, metadata and journal keys of epoch 0 and of every
    /// epoch in `roots`, sealing under `current`.
    ///
    /// # Errors
    /// [`Error::UnknownEpoch`](crate::Error::UnknownEpoch) if `current` is
    /// neither 0 nor in `roots`.
    pub fn with_epochs(
        master: &MasterKey,
        current: u32,
        roots: &[(u32, &MasterKey)],
    ) -> Result<Self> {
        let mut set = Self::derive(master);
        set.epochs = roots
            .iter()
            .filter(|(e, _)| *e != 0)
            .map(|(e, r)| (*e, Root(r.0)))
            .collect();
        set.current = current;
        set.data = set.ring(current, LABEL_DATA)?;
        set.metadata = set.ring(current, LABEL_METADATA)?;
        Ok(set)
    }

    /// The epoch new messages are sealed under (0 before any rotation).
    pub fn epoch(&self) -> u32 {
        self.current
    }

    /// The epochs this set can open (0 first, then ascending as given).
    pub fn epochs(&self) -> Vec<u32> {
        std::iter::once(0)
            .chain(self.epochs.iter().map(|(e, _)| *e))
            .collect()
    }

    /// The root of epoch `epoch` (>= 1), if held: for a rotating admin to
    /// pass the earlier roots on to the next epoch. Never store it unsealed.
    pub fn expose_epoch_root(&self, epoch: u32) -> Option<MasterKey> {
        self.epochs
            .iter()
            .find(|(e, _)| *e == epoch)
            .map(|(_, r)| MasterKey::from_key(&r.0))
    }

    /// A sealing key over every held epoch for `label`, sealing under `current`.
    fn ring(&self, current: u32, label: &[u8]) -> Result<SealingKey> {
        let roots =
            std::iter::once((0, &self.root)).chain(self.epochs.iter().map(|(e, r)| (*e, r)));
        let keys: Vec<(u32, Zeroizing<[u8; 32]>)> = roots
            .map(|(e, r)| (e, primitives::derive_key32(&r.0, &[label])))
            .collect();
        SealingKey::from_epoch_keys(current, keys.iter().map(|(e, k)| (*e, &**k)))
    }

    /// The key set of tenant `tenant`: the same three keys, derived from a tenant root
    /// `HKDF-SHA256(this set's root, info = "cairn/v1/tenant/" || tenant)`. Different
    /// names (any UTF-8, including empty) give independent key sets, all openable
    /// with the one master key; tenants can nest (`tenant("a").tenant("b")`).
    ///
    /// Not what a repository's tenants use: a derived set can be derived
    /// again by every key holder, so it cannot be crypto-shredded. They get
    /// random keys ([`crate::tenant_key`]).
    pub fn tenant(&self, tenant: &str) -> KeySet {
        let root = primitives::derive_key32(&self.root.0, &[LABEL_TENANT, tenant.as_bytes()]);
        Self::from_root(Root::from_key(&root))
    }

    /// The key that wraps tenant key objects
    /// ([`TenantKeyObject`](crate::tenant_key::TenantKeyObject)), derived
    /// from this set's root with `"cairn/v1/tenant-wrap"`.
    pub fn tenant_wrapping_key(&self) -> SealingKey {
        SealingKey::from_key(&primitives::derive_key32(
            &self.root.0,
            &[LABEL_TENANT_WRAP],
        ))
    }

    /// A tenant's id: the first 16 bytes of BLAKE3 keyed with
    /// `HKDF(root, "cairn/v1/tenant-id")` over the name. Object names carry
    /// this id, never the name (names are personal data); without a
    /// repository key the id says nothing about the name.
    pub fn tenant_id(&self, name: &str) -> [u8; 16] {
        let key = primitives::derive_key32(&self.root.0, &[LABEL_TENANT_ID]);
        let hash = blake3::keyed_hash(&key, name.as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&hash.as_bytes()[..16]);
        id
    }

    /// A set from a random tenant root (see [`crate::tenant_key`]).
    pub(crate) fn from_root_bytes(root: &[u8; 32]) -> Self {
        Self::from_root(Root::from_key(root))
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
        match self.ring(self.current, LABEL_JOURNAL) {
            Ok(k) => k,
            // Unreachable: `current` was checked when the set was built.
            Err(_) => {
                SealingKey::from_key(&primitives::derive_key32(&self.root.0, &[LABEL_JOURNAL]))
            }
        }
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
        let chunk_id = ChunkIdKey::from_key(&derive(LABEL_CHUNK_ID));
        let data = SealingKey::from_key(&derive(LABEL_DATA));
        let metadata = SealingKey::from_key(&derive(LABEL_METADATA));
        Self {
            root,
            chunk_id,
            data,
            metadata,
            epochs: Vec::new(),
            current: 0,
            old_chunk_ids: Vec::new(),
        }
    }

    /// A tenant's keys over its generations (`roots[g]` is generation
    /// `g`'s secret, see [`crate::tenant_key::TenantKeys`]): data, metadata
    /// and journal keys of every generation, sealing under the newest (a
    /// generation is sealed as the epoch of the same number, so a sealed
    /// message names its generation); chunk ids under the newest
    /// generation's key, the older ones kept to verify old blobs
    /// ([`verifies_chunk_id`](Self::verifies_chunk_id)).
    ///
    /// # Errors
    /// [`Error::UnknownEpoch`](crate::Error::UnknownEpoch) if `roots` is empty.
    pub(crate) fn from_generations(roots: &[&[u8; 32]]) -> Result<Self> {
        let (first, last) = match (roots.first(), roots.last()) {
            (Some(f), Some(l)) => (f, l),
            _ => return Err(crate::Error::UnknownEpoch { epoch: 0 }),
        };
        let mut set = Self::from_root(Root::from_key(first));
        let current = (roots.len() - 1) as u32;
        set.epochs = (1..)
            .zip(&roots[1..])
            .map(|(g, r)| (g, Root::from_key(r)))
            .collect();
        set.current = current;
        set.data = set.ring(current, LABEL_DATA)?;
        set.metadata = set.ring(current, LABEL_METADATA)?;
        set.chunk_id = ChunkIdKey::from_key(&primitives::derive_key32(last, &[LABEL_CHUNK_ID]));
        set.old_chunk_ids = roots[..roots.len() - 1]
            .iter()
            .rev()
            .map(|r| ChunkIdKey::from_key(&primitives::derive_key32(r, &[LABEL_CHUNK_ID])))
            .collect();
        Ok(set)
    }

    /// Whether `id` is the chunk id of `data` under this set's chunk-id key
    /// or, for a rekeyed tenant, under an earlier generation's. Not by the
    /// generation a blob's seal names: prune re-seals old blobs under the
    /// newest generation and keeps their ids.
    pub fn verifies_chunk_id(&self, data: &[u8], id: &ChunkId) -> bool {
        self.chunk_id.id(data) == *id || self.old_chunk_ids.iter().any(|k| k.id(data) == *id)
    }

    /// Every chunk-id key this set verifies ids under, the writing one
    /// first (one but for a tenant after a rekey).
    pub fn chunk_id_keys(&self) -> Vec<ChunkIdKey> {
        std::iter::once(&self.chunk_id)
            .chain(self.old_chunk_ids.iter())
            .cloned()
            .collect()
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySet { .. }")
    }
}
