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
//!
//! A blob indexed in several packs is looked up at the first location
//! loaded; the others are kept aside ([`Index::contested_packs`]). Most
//! repositories have none; concurrent backups of the same data leave a few,
//! and an index object replayed after a prune moved its blobs names packs
//! that are gone. [`present_packs`] then tells which packs exist, and
//! [`Index::prefer_present`] moves each blob to a copy that does.

use std::collections::{HashMap, HashSet};

use cairn_backends::Backend;
use futures::StreamExt;

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
    /// Other copies of blobs indexed in more than one pack.
    alternates: HashMap<ChunkId, Vec<Loc>>,
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
            alternates: HashMap::new(),
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
    /// location (concurrent backups can store the same blob in two packs);
    /// a copy in another pack is kept aside for [`prefer_present`](Self::prefer_present).
    pub fn add_pack(&mut self, pack: PackId, entries: &[PackEntry]) {
        let number = self.pack_number(pack);
        for e in entries {
            let loc = Loc {
                pack: number,
                offset: e.offset,
                length: e.length,
                raw_length: e.raw_length,
                kind: e.kind,
                compression: e.compression.code(),
            };
            if let Some(first) = self.find(&e.id) {
                if first.pack != number {
                    self.alternates.entry(e.id).or_default().push(loc);
                }
                continue;
            }
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

    /// The packs holding a blob that another pack holds too (where it is
    /// looked up, and its other copies), each once, in no particular order.
    /// Empty when no blob is indexed twice.
    pub fn contested_packs(&self) -> Vec<PackId> {
        let mut numbers: Vec<u32> = Vec::new();
        for (id, others) in &self.alternates {
            numbers.extend(self.find(id).map(|l| l.pack));
            numbers.extend(others.iter().map(|l| l.pack));
        }
        numbers.sort_unstable();
        numbers.dedup();
        numbers
            .into_iter()
            .map(|n| self.packs[n as usize])
            .collect()
    }

    /// Moves every blob looked up in a pack of `gone` to one of its other
    /// copies in a pack of `present`, if it has one; returns how many blobs
    /// moved. A blob with no such copy stays where it was (reading it fails
    /// naming the missing pack).
    pub fn prefer_present(&mut self, gone: &HashSet<PackId>, present: &HashSet<PackId>) -> usize {
        let mut moved = 0;
        let packs = &self.packs;
        for (id, others) in &mut self.alternates {
            let Some(at) = loc_mut(&mut self.sorted, &mut self.recent, id) else {
                continue;
            };
            if !gone.contains(&packs[at.pack as usize]) {
                continue;
            }
            if let Some(other) = others
                .iter_mut()
                .find(|l| present.contains(&packs[l.pack as usize]))
            {
                std::mem::swap(at, other);
                moved += 1;
            }
        }
        moved
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
            + self.alternates.capacity() * (std::mem::size_of::<(ChunkId, Vec<Loc>)>() + 1)
            + self
                .alternates
                .values()
                .map(|v| v.capacity() * std::mem::size_of::<Loc>())
                .sum::<usize>()
    }
}

fn loc_mut<'a>(
    sorted: &'a mut [Slot],
    recent: &'a mut HashMap<ChunkId, Loc>,
    id: &ChunkId,
) -> Option<&'a mut Loc> {
    if let Some(l) = recent.get_mut(id) {
        return Some(l);
    }
    let i = sorted
        .binary_search_by(|s| id_cmp(&s.id, id.as_bytes()))
        .ok()?;
    Some(&mut sorted[i].loc)
}

/// Packs at most this many are looked up one by one (side by side); more
/// are found by one listing of `data/`.
const STAT_AT_MOST: usize = 64;

/// Which of `packs` are stored now, and which are known not to be: a
/// lookup of each (side by side) for a few, one listing of `data/` for
/// many. A pack whose index object was read before this call is stored
/// unless it no longer exists (packs are written before the index objects
/// naming them). A pack neither lookup nor listing could vouch for either
/// way (a store not answering, a listing that cannot be shown complete)
/// is in neither set.
pub async fn present_packs(
    backend: &dyn Backend,
    packs: &[PackId],
) -> Result<(HashSet<PackId>, HashSet<PackId>)> {
    let (mut present, mut gone) = (HashSet::new(), HashSet::new());
    if packs.len() <= STAT_AT_MOST {
        let mut stats = futures::stream::iter(packs)
            .map(|p| async move { (p, backend.stat(&p.key()).await) })
            .buffer_unordered(16);
        while let Some((p, r)) = stats.next().await {
            match r {
                Ok(_) => present.insert(*p),
                Err(e) if e.is_not_found() => gone.insert(*p),
                Err(e) if e.is_transient() => return Err(e.into()),
                Err(_) => false,
            };
        }
        return Ok((present, gone));
    }
    let wanted: HashMap<String, PackId> = packs.iter().map(|p| (p.key(), *p)).collect();
    let mut listing = backend.list("data/");
    let mut complete = true;
    while let Some(item) = listing.next().await {
        match item {
            Ok(m) => present.extend(wanted.get(&m.key).copied()),
            Err(e) if e.is_incomplete() => complete = false,
            Err(e) => return Err(e.into()),
        }
    }
    if complete {
        gone.extend(packs.iter().filter(|p| !present.contains(*p)));
    }
    Ok((present, gone))
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
    fn a_blob_in_a_gone_pack_moves_to_a_copy_in_a_present_one() {
        let (old, new, other) = (PackId([1; 32]), PackId([2; 32]), PackId([3; 32]));
        let entries: Vec<_> = (0..10).map(entry).collect();
        let mut index = Index::default();
        assert!(index.contested_packs().is_empty());
        // The replayed object (naming the pack a prune deleted) loads first.
        index.add_pack(old, &entries);
        index.compact();
        let mut moved: Vec<_> = entries[..4].to_vec();
        for e in &mut moved {
            e.offset += 1000;
        }
        index.add_pack(new, &moved);
        index.add_pack(other, &entries[9..]);
        index.add_pack(old, &entries[..1]); // the same pack again: no copy
        let mut contested = index.contested_packs();
        contested.sort();
        assert_eq!(contested, vec![old, new, other]);
        let gone = HashSet::from([old]);
        // Nothing is known present: nothing moves.
        assert_eq!(index.prefer_present(&gone, &HashSet::new()), 0);
        let present = HashSet::from([new, other]);
        assert_eq!(index.prefer_present(&gone, &present), 5);
        for e in &moved {
            assert_eq!(index.get(&e.id).map(|l| (l.pack, l.entry)), Some((new, *e)));
        }
        assert_eq!(index.get(&entries[9].id).map(|l| l.pack), Some(other));
        // Blobs only the gone pack holds stay there.
        assert_eq!(index.get(&entries[5].id).map(|l| l.pack), Some(old));
        // Done twice, nothing more moves (the gone copies are aside now).
        assert_eq!(index.prefer_present(&gone, &present), 0);
        assert_eq!(index.len(), 10);
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
