#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Golden fixtures: shard format version 2 must never change.

use bytes::Bytes;
use cairn_erasure::format::{BLOCK_SHIFT, CODEC_RS_GF8, FORMAT_V2, FORMAT_VERSION, MAGIC};
use cairn_erasure::{Codec, Shard, ShardHeader, HEADER_LEN};

const OBJECT: &[u8] = b"Cairn golden shard fixture";

/// The three shards of `OBJECT` under a 2+1 code, as format version 2 writes
/// them. If this test fails, the on-disk format changed: do not update the
/// constants, fix the code (or add a format version 3 beside this one).
const GOLDEN_2_1: [&str; 3] = [
    "43524e5302010201001000001a00000000000000e24c9a1a2ee1398d03406d142ffe3eaa0697583237218fb63a6f1b2096ddcbd22a002917e88712f18ebe33fb75d2b7c28a8c31f74f519d1fa6c74d1697e33b08f4215dac9d10abf18f7853345fa9df68c6ad4688062a8deb104a95cd170ea4ff598280badfdeffe4268fa36ad3eecd50f77d7d5d51121c18eaef333cb23ed4000d2e04f425df2997fb60c596fd3b7b8818c396fa6b2860e6979349c493a877c4436169726e20676f6c64656e20",
    "43524e5302010201011000001a00000000000000e24c9a1a2ee1398d03406d142ffe3eaa0697583237218fb63a6f1b2096ddcbd24dd064d67f34e7ef6809da68663b5b41761d4ce383b9da611efc186e0825ca67f4215dac9d10abf18f7853345fa9df68c6ad4688062a8deb104a95cd170ea4ff598280badfdeffe4268fa36ad3eecd50f77d7d5d51121c18eaef333cb23ed4000d2e04f425df2997fb60c596fd3b7b8818c396fa6b2860e6979349c493a877c473686172642066697874757265",
    "43524e5302010201021000001a00000000000000e24c9a1a2ee1398d03406d142ffe3eaa0697583237218fb63a6f1b2096ddcbd2616b93f221ac5a36cbce130f4fb38e8a217f78cc46c3f7ae9ddc7ab85e6dda56f4215dac9d10abf18f7853345fa9df68c6ad4688062a8deb104a95cd170ea4ff598280badfdeffe4268fa36ad3eecd50f77d7d5d51121c18eaef333cb23ed4000d2e04f425df2997fb60c596fd3b7b8818c396fa6b2860e6979349c493a877c4237379727a20656344444556aa",
];

/// BLAKE3 of the concatenated shards of a 300 000-byte seeded object under
/// 4+2 (two 64 KiB blocks per shard, the second short).
const GOLDEN_4_2_SEEDED: &str = "24ce47790f9196fc27f3fb96f2358de76eb4723270cea5b89387022bd18b83a1";

fn seeded(len: usize) -> Vec<u8> {
    // xorshift64*: stable across platforms and crate versions.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[test]
fn shards_match_the_golden_bytes() {
    let codec = Codec::new(2, 1).unwrap();
    let shards = codec.encode(&Bytes::from_static(OBJECT)).unwrap();
    let got: Vec<String> = shards.iter().map(hex::encode).collect();
    for (i, (g, want)) in got.iter().zip(GOLDEN_2_1).enumerate() {
        assert_eq!(g, want, "shard {i}");
    }
    let golden: Vec<Bytes> = GOLDEN_2_1
        .iter()
        .map(|h| Bytes::from(hex::decode(h).unwrap()))
        .collect();
    for lost in 0..3 {
        let mut slots: Vec<Option<Bytes>> = golden.iter().cloned().map(Some).collect();
        slots[lost] = None;
        assert_eq!(codec.decode(&slots).unwrap(), OBJECT);
    }
}

#[test]
fn header_and_table_sit_where_the_layout_says() {
    let codec = Codec::new(2, 1).unwrap();
    let shards = codec.encode(&Bytes::from_static(OBJECT)).unwrap();
    assert_eq!((FORMAT_VERSION, FORMAT_V2, BLOCK_SHIFT), (2, 2, 16));
    let s = &shards[2];
    assert_eq!(&s[0..4], b"CRNS");
    assert_eq!(MAGIC, *b"CRNS");
    assert_eq!(
        (s[4], s[5], s[6], s[7], s[8], s[9]),
        (FORMAT_V2, CODEC_RS_GF8, 2, 1, 2, 16)
    );
    assert_eq!(&s[10..12], &[0, 0]);
    assert_eq!(&s[12..20], &(OBJECT.len() as u64).to_le_bytes());
    assert_eq!(&s[20..52], blake3::hash(OBJECT).as_bytes());
    // One block per shard, three shards: a 96-byte table.
    let table = &s[HEADER_LEN..HEADER_LEN + 96];
    let mut h = blake3::Hasher::new();
    h.update(&s[..52]);
    h.update(table);
    assert_eq!(&s[52..84], h.finalize().as_bytes());
    let p = OBJECT.len().div_ceil(2);
    for (i, shard) in shards.iter().enumerate() {
        let payload = &shard[HEADER_LEN + 96..];
        assert_eq!(payload.len(), p);
        assert_eq!(
            &table[i * 32..(i + 1) * 32],
            blake3::hash(payload).as_bytes()
        );
        // Every shard carries the same table.
        assert_eq!(&shard[HEADER_LEN..HEADER_LEN + 96], table);
    }
    assert_eq!(&shards[0][HEADER_LEN + 96..], &OBJECT[..13]);
    let parsed = Shard::parse(s.clone()).unwrap();
    assert_eq!(parsed.header.version, 2);
    let header = ShardHeader::parse(s).unwrap();
    assert_eq!(header.payload_offset(), Some(HEADER_LEN + 96));
    assert_eq!(header.shard_len(), Some(s.len()));
}

#[test]
fn seeded_4_2_encoding_is_pinned() {
    let codec = Codec::new(4, 2).unwrap();
    let shards = codec.encode(&Bytes::from(seeded(300_000))).unwrap();
    let mut h = blake3::Hasher::new();
    for s in &shards {
        h.update(s);
    }
    let got = h.finalize().to_hex();
    assert_eq!(got.as_str(), GOLDEN_4_2_SEEDED);
    // 75 000-byte payloads: blocks of 65 536 and 9 464 bytes.
    assert_eq!(shards[0].len(), HEADER_LEN + 6 * 2 * 32 + 75_000);
}

/// The golden shards, stored on three children, serve range reads (the
/// block path), also with any one shard gone.
#[test]
fn golden_shards_serve_range_reads() {
    use cairn_backends::{Backend, MemoryBackend, PutMode};
    use cairn_erasure::{Child, ErasureBackend, ErasureConfig};
    use std::sync::Arc;
    futures::executor::block_on(async {
        for lost in [None, Some(0), Some(1), Some(2)] {
            let stores: Vec<MemoryBackend> = (0..3).map(|_| MemoryBackend::new()).collect();
            for (i, (store, h)) in stores.iter().zip(GOLDEN_2_1).enumerate() {
                if Some(i) != lost {
                    let b = Bytes::from(hex::decode(h).unwrap());
                    store.put("k", b, PutMode::CreateOnly).await.unwrap();
                }
            }
            let kids = stores
                .iter()
                .enumerate()
                .map(|(i, s)| Child::new(format!("c{i}"), Arc::new(s.clone())))
                .collect();
            let e = ErasureBackend::new(kids, ErasureConfig::new(2, 1)).unwrap();
            let got = e.get_range("k", 6..20).await.unwrap();
            assert_eq!(&got[..], &OBJECT[6..20], "lost {lost:?}");
        }
    });
}
