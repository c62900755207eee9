//! Measures the in-memory index's resident bytes per blob.
//!
//! `cargo run --release -p cairn-cas-core --example index_memory -- 1000000 10000000`

use cairn_cas_core::{BlobKind, Compression, Index, PackEntry, PackId};
use cairn_crypto::ChunkId;

/// Builds an index of `blobs` synthetic entries, 4096 blobs per pack, the
/// way `Repository::open` does (add every pack, then compact).
fn build(blobs: usize) -> Index {
    let mut index = Index::with_capacity(blobs);
    let per_pack = 4096;
    let mut n = 0u64;
    while (n as usize) < blobs {
        let pack = PackId(*blake3::hash(&n.to_le_bytes()).as_bytes());
        let entries: Vec<PackEntry> = (0..per_pack.min(blobs - n as usize))
            .map(|i| {
                n += 1;
                PackEntry {
                    kind: BlobKind::Data,
                    compression: Compression::Zstd(3),
                    id: ChunkId::from_bytes(*blake3::hash(&n.to_le_bytes()).as_bytes()),
                    offset: (i * 4096) as u32,
                    length: 4096,
                    raw_length: 8192,
                }
            })
            .collect();
        index.add_pack(pack, &entries);
    }
    index.compact();
    index
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000_000]
    } else {
        sizes
    };
    println!("| blobs | resident bytes | bytes per blob |");
    println!("|------:|---------------:|---------------:|");
    for n in sizes {
        let index = build(n);
        let bytes = index.resident_bytes();
        println!(
            "| {n} | {bytes} | {:.1} |",
            bytes as f64 / index.len() as f64
        );
    }
}
