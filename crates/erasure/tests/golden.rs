#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Golden fixtures: shard format version 1 must never change (version 2
//! is pinned in `golden_v2.rs`).

use bytes::Bytes;
use cairn_erasure::format::{CODEC_RS_GF8, FORMAT_V1, MAGIC};
use cairn_erasure::{Codec, Shard, ShardFormat, HEADER_LEN};

const OBJECT: &[u8] = b"Cairn golden shard fixture";

/// The three shards of `OBJECT` under a 2+1 code, as format version 1 writes
/// them. If this test fails, the on-disk format changed: do not update the
/// constants, fix the code (or add format version 2 beside version 1).
const GOLDEN_2_1: [&str; 3] = [
    "43524e5301010201000000001a00000000000000e24c9a1a2ee1398d03406d142ffe3eaa0697583237218fb63a6f1b2096ddcbd290d376df7f7ef91e162a51bb0b9a7883c346bd8ce89d4572491e19f20cbc180d436169726e20676f6c64656e20",
    "43524e5301010201010000001a00000000000000e24c9a1a2ee1398d03406d142ffe3eaa0697583237218fb63a6f1b2096ddcbd2908eba84e3ddbf5252f9312e3054e65a0d429f7f103a749df6a2081b99e74c6173686172642066697874757265",
    "43524e5301010201020000001a00000000000000e24c9a1a2ee1398d03406d142ffe3eaa0697583237218fb63a6f1b2096ddcbd28b2aea4f577e792ab0e72860d48ed644b6f9cbbbcd72dda7b5139419f5194519237379727a20656344444556aa",
];

/// BLAKE3 of the concatenated shards of a 64 KiB seeded object under 4+2.
const GOLDEN_4_2_SEEDED: &str = "6ad5429160f10f2ec9692ade2bfad91dabc1e1efe5713574f508f933b22e5fb9";

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
    let shards = codec
        .encode_format(&Bytes::from_static(OBJECT), ShardFormat::V1)
        .unwrap();
    let got: Vec<String> = shards.iter().map(hex::encode).collect();
    for (i, (g, want)) in got.iter().zip(GOLDEN_2_1).enumerate() {
        assert_eq!(g, want, "shard {i}");
    }
    // The golden bytes decode, also with any one shard lost.
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
fn header_fields_sit_where_the_layout_says() {
    let codec = Codec::new(2, 1).unwrap();
    let shards = codec
        .encode_format(&Bytes::from_static(OBJECT), ShardFormat::V1)
        .unwrap();
    let s = &shards[2];
    assert_eq!(HEADER_LEN, 84);
    assert_eq!(&s[0..4], b"CRNS");
    assert_eq!(MAGIC, *b"CRNS");
    assert_eq!(
        (s[4], s[5], s[6], s[7], s[8]),
        (FORMAT_V1, CODEC_RS_GF8, 2, 1, 2)
    );
    assert_eq!((FORMAT_V1, CODEC_RS_GF8), (1, 1));
    assert_eq!(&s[9..12], &[0, 0, 0]);
    assert_eq!(&s[12..20], &(OBJECT.len() as u64).to_le_bytes());
    assert_eq!(&s[20..52], blake3::hash(OBJECT).as_bytes());
    let mut h = blake3::Hasher::new();
    h.update(&s[..52]);
    h.update(&s[HEADER_LEN..]);
    assert_eq!(&s[52..84], h.finalize().as_bytes());
    assert_eq!(s.len(), HEADER_LEN + OBJECT.len().div_ceil(2));
    // Data shards hold the object in order, the last zero-padded.
    assert_eq!(&shards[0][HEADER_LEN..], &OBJECT[..13]);
    assert_eq!(&shards[1][HEADER_LEN..], &OBJECT[13..]);
    let parsed = Shard::parse(s.clone()).unwrap();
    assert_eq!(parsed.header.object_len, OBJECT.len() as u64);
}

#[test]
fn seeded_4_2_encoding_is_pinned() {
    let codec = Codec::new(4, 2).unwrap();
    let shards = codec
        .encode_format(&Bytes::from(seeded(65536)), ShardFormat::V1)
        .unwrap();
    let mut h = blake3::Hasher::new();
    for s in &shards {
        h.update(s);
    }
    assert_eq!(h.finalize().to_hex().as_str(), GOLDEN_4_2_SEEDED);
}
