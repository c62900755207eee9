//! The index: where every blob is, and the dedup filter in front of it.
//!
//! # Index object format (version 1) — do not change; add a new version instead
//!
//! ```text
//! object := seal(metadata key, plain, aad = "cairn/index/v1")
//! plain  := "CRNI" version:u8=1 pack_count:u32 pack*
//! pack   := pack_id:[u8;32] count:u32 entry*count      (entry as in a pack header, 46 bytes)
//! ```
//!
//! Index objects are named `index/<hex BLAKE3 of the object>` and written
//! create-only, after the packs they describe and before any snapshot that
//! needs them.
//!
//! # In memory
//!
//! Entries loaded at open live in one vector sorted by blob id: 52 bytes per
//! blob (32-byte id, pack number, offset, lengths, kind, compression), no
//! per-entry allocation and no hash-table slack. Blobs added since the last
//! merge sit in a small hash map. A Bloom filter (1% false positives) answers
//! most dedup lookups of *new* chunks without touching either. See
//! [`Index::resident_bytes`] for what is counted.

use std::collections::HashMap;

use bloomfilter::Bloom;
use cairn_crypto::{ChunkId, KeySet};

use crate::blob::{BlobKind, Compression};
use crate::bytes_io::{Put, Reader};
use crate::pack::{PackEntry, PackId, ENTRY_LEN};
use crate::{Error, Result};

const MAGIC: &[u8; 4] = b"CRNI";
const VERSION: u8 = 1;
const AAD: &[u8] = b"cairn/index/v1";
const BLOOM_FP: f64 = 0.01;

#[derive(Debug, Clone, Copy)]
struct Loc {
    pack: u32,
    offset: u32,
    length: u32,
    raw_length: u32,
    kind: BlobKind,
    // The code, not the enum: the enum carries a zstd level and would add 8
    // bytes to every entry.
    compression: u8,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    id: [u8; 32],
    loc: Loc,
}

/// Where one blob is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLocation {
    /// The pack holding it.
    pub pack: PackId,
    /// Its place in the pack.
    pub entry: PackEntry,
}

/// The in-memory index of a repository.
pub struct Index {
    packs: Vec<PackId>,
    pack_pos: HashMap<PackId, u32>,
    sorted: Vec<Slot>,
    recent: HashMap<ChunkId, Loc>,
    bloom: Bloom<[u8; 32]>,
    bloom_capacity: usize,
}

/// The order of ids (plain byte order), deciding on the first eight bytes
/// alone almost always: ids are keyed hashes, uniformly spread. Comparing
/// `[u8; 32]` directly calls `memcmp` for every step of a search, which was
/// a fifth of the samples of an unchanged re-backup of 300 000 files.
fn id_cmp(a: &[u8; 32], b: &[u8; 32]) -> std::cmp::Ordering {
    let head = |x: &[u8; 32]| u64::from_be_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
    head(a).cmp(&head(b)).then_with(|| a.cmp(b))
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("packs", &self.packs.len())
            .field("blobs", &self.len())
            .finish()
    }
}

impl Default for Index {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

fn new_bloom(capacity: usize) -> (Bloom<[u8; 32]>, usize) {
    let capacity = capacity.max(1 << 12);
    let bytes = Bloom::<[u8; 32]>::compute_bitmap_size(capacity, BLOOM_FP);
    // A fixed seed is fine: ids are keyed hashes an attacker cannot steer, and
    // the filter never leaves the process.
    let bloom = Bloom::new_with_seed(bytes, capacity, &[0x5a; 32])
        .unwrap_or_else(|_| unreachable!("bitmap size and capacity are positive"));
    (bloom, capacity)
}

impl Index {
    /// An empty index sized for about `blobs` entries.
    pub fn with_capacity(blobs: usize) -> Self {
        let (bloom, bloom_capacity) = new_bloom(blobs.saturating_mul(2));
        Index {
            packs: Vec::new(),
            pack_pos: HashMap::new(),
            sorted: Vec::with_capacity(blobs),
            recent: HashMap::new(),
            bloom,
            bloom_capacity,
        }
    }

    /// Number of distinct blobs indexed.
    pub fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of packs indexed.
    pub fn pack_count(&self) -> usize {
        self.packs.len()
    }

    /// Every pack the index knows.
    pub fn packs(&self) -> &[PackId] {
        &self.packs
    }

    fn pack_number(&mut self, pack: PackId) -> u32 {
        *self.pack_pos.entry(pack).or_insert_with(|| {
            self.packs.push(pack);
            (self.packs.len() - 1) as u32
        })
    }

    /// Records the blobs of `pack`. A blob already indexed keeps its first
    /// location (a crash can leave the same blob in two packs).
    pub fn add_pack(&mut self, pack: PackId, entries: &[PackEntry]) {
        let number = self.pack_number(pack);
        for e in entries {
            if self.contains(&e.id) {
                continue;
            }
            let loc = Loc {
                pack: number,
                offset: e.offset,
                length: e.length,
                raw_length: e.raw_length,
                kind: e.kind,
                compression: e.compression.code(),
            };
            self.recent.insert(e.id, loc);
            self.bloom.set(e.id.as_bytes());
        }
        if self.len() > self.bloom_capacity {
            self.rebuild_bloom();
        }
    }

    fn rebuild_bloom(&mut self) {
        let (bloom, cap) = new_bloom(self.len().saturating_mul(2));
        self.bloom = bloom;
        self.bloom_capacity = cap;
        for s in &self.sorted {
            self.bloom.set(&s.id);
        }
        for id in self.recent.keys() {
            self.bloom.set(id.as_bytes());
        }
    }

    /// Folds recently added blobs into the sorted table (after a backup, or
    /// after loading), keeping memory per blob at its floor.
    pub fn compact(&mut self) {
        if self.recent.is_empty() {
            return;
        }
        self.sorted.reserve_exact(self.recent.len());
        self.sorted
            .extend(self.recent.drain().map(|(id, loc)| Slot {
                id: *id.as_bytes(),
                loc,
            }));
        self.sorted.sort_unstable_by(|a, b| id_cmp(&a.id, &b.id));
        self.sorted.dedup_by(|a, b| a.id == b.id);
        self.sorted.shrink_to_fit();
        self.recent.shrink_to_fit();
    }

    fn find(&self, id: &ChunkId) -> Option<Loc> {
        if !self.bloom.check(id.as_bytes()) {
            return None;
        }
        if let Some(loc) = self.recent.get(id) {
            return Some(*loc);
        }
        self.sorted
            .binary_search_by(|s| id_cmp(&s.id, id.as_bytes()))
            .ok()
            .map(|i| self.sorted[i].loc)
    }

    /// Whether the blob is indexed.
    pub fn contains(&self, id: &ChunkId) -> bool {
        self.find(id).is_some()
    }

    /// Where the blob is stored.
    pub fn get(&self, id: &ChunkId) -> Option<BlobLocation> {
        self.find(id).map(|l| BlobLocation {
            pack: self.packs[l.pack as usize],
            entry: PackEntry {
                kind: l.kind,
                compression: Compression::from_code(l.compression).unwrap_or(Compression::None),
                id: *id,
                offset: l.offset,
                length: l.length,
                raw_length: l.raw_length,
            },
        })
    }

    /// Every blob, grouped by nothing in particular.
    pub fn iter(&self) -> impl Iterator<Item = BlobLocation> + '_ {
        let sorted = self
            .sorted
            .iter()
            .map(|s| (ChunkId::from_bytes(s.id), s.loc));
        let recent = self.recent.iter().map(|(id, l)| (*id, *l));
        sorted.chain(recent).map(|(id, l)| BlobLocation {
            pack: self.packs[l.pack as usize],
            entry: PackEntry {
                kind: l.kind,
                compression: Compression::from_code(l.compression).unwrap_or(Compression::None),
                id,
                offset: l.offset,
                length: l.length,
                raw_length: l.raw_length,
            },
        })
    }

    /// Bytes this index holds in memory: the tables at their capacity, the
    /// hash map of recent entries (entry plus one control byte, at capacity),
    /// the pack table and the Bloom filter. Divide by [`len`](Self::len) for
    /// bytes per blob.
    pub fn resident_bytes(&self) -> usize {
        let slot = std::mem::size_of::<Slot>();
        let recent = std::mem::size_of::<(ChunkId, Loc)>() + 1;
        let pack = std::mem::size_of::<PackId>();
        self.sorted.capacity() * slot
            + self.recent.capacity() * recent
            + self.packs.capacity() * pack
            + self.pack_pos.capacity() * (pack + 4 + 1)
            + self.bloom.as_slice().len()
    }
}

/// Encodes an index object for these packs (sealed with the metadata key).
pub fn encode_index(keys: &KeySet, packs: &[(PackId, Vec<PackEntry>)]) -> Result<Vec<u8>> {
    let blobs: usize = packs.iter().map(|(_, e)| e.len()).sum();
    let mut plain = Vec::with_capacity(9 + packs.len() * 36 + blobs * ENTRY_LEN);
    plain.extend_from_slice(MAGIC);
    plain.put_u8(VERSION);
    plain.put_u32(packs.len() as u32);
    for (id, entries) in packs {
        plain.extend_from_slice(&id.0);
        plain.put_u32(entries.len() as u32);
        for e in entries {
            e.encode(&mut plain);
        }
    }
    keys.metadata_key()
        .seal(&plain, AAD)
        .map_err(|source| Error::Crypto {
            object: "index".into(),
            source,
        })
}

/// Decodes the index object `object`.
pub fn decode_index(
    keys: &KeySet,
    object: &str,
    sealed: &[u8],
) -> Result<Vec<(PackId, Vec<PackEntry>)>> {
    let plain = keys
        .metadata_key()
        .open(sealed, AAD)
        .map_err(|_| Error::Authentication {
            object: object.to_owned(),
        })?;
    let mut r = Reader::new(object, &plain);
    r.header(MAGIC, &[VERSION])?;
    let n = r.count(36)?;
    let mut packs = Vec::with_capacity(n);
    for _ in 0..n {
        let id = PackId(r.array()?);
        let count = r.count(ENTRY_LEN)?;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            entries.push(PackEntry::decode(&mut r)?);
        }
        packs.push((id, entries));
    }
    r.finish()?;
    Ok(packs)
}

/// The backend key of the index object with these bytes.
pub fn index_key(bytes: &[u8]) -> String {
    format!("index/{}", blake3::hash(bytes).to_hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u64) -> PackEntry {
        PackEntry {
            kind: BlobKind::Data,
            compression: Compression::Zstd(3),
            id: ChunkId::from_bytes(*blake3::hash(&n.to_le_bytes()).as_bytes()),
            offset: n as u32,
            length: 10,
            raw_length: 20,
        }
    }

    #[test]
    fn lookups_before_and_after_compaction() {
        let mut index = Index::default();
        let pack = PackId([7; 32]);
        let entries: Vec<_> = (0..1000).map(entry).collect();
        index.add_pack(pack, &entries);
        for e in &entries {
            assert_eq!(index.get(&e.id).map(|l| l.entry), Some(*e));
        }
        index.compact();
        for e in &entries {
            assert_eq!(
                index.get(&e.id).map(|l| (l.pack, l.entry)),
                Some((pack, *e))
            );
        }
        assert!(!index.contains(&entry(5000).id));
        // A blob already indexed keeps its first location.
        index.add_pack(PackId([8; 32]), &entries[..1]);
        assert_eq!(index.get(&entries[0].id).map(|l| l.pack), Some(pack));
        assert_eq!(index.len(), 1000);
    }

    #[test]
    fn a_million_blobs_cost_under_56_bytes_each() {
        let n = 1_000_000u64;
        let mut index = Index::with_capacity(n as usize);
        let entries: Vec<_> = (0..n).map(entry).collect();
        for (i, chunk) in entries.chunks(4096).enumerate() {
            index.add_pack(PackId([i as u8; 32]), chunk);
        }
        index.compact();
        assert_eq!(index.len(), n as usize);
        let per_blob = index.resident_bytes() as f64 / n as f64;
        assert!(per_blob < 56.0, "{per_blob} bytes per blob");
    }

    #[test]
    fn index_objects_round_trip_and_reject_tampering() {
        let keys = KeySet::derive(&cairn_crypto::MasterKey::from_bytes([1; 32]));
        let packs = vec![(PackId([3; 32]), (0..10).map(entry).collect::<Vec<_>>())];
        let bytes = encode_index(&keys, &packs).unwrap();
        assert_eq!(decode_index(&keys, "index/x", &bytes).unwrap(), packs);
        let mut bad = bytes.clone();
        bad[20] ^= 1;
        assert!(matches!(
            decode_index(&keys, "index/x", &bad),
            Err(Error::Authentication { object }) if object == "index/x"
        ));
    }
}
