//! Pinned cut points on seeded data: any change to chunking (which would re-chunk every
//! repository and lose deduplication against it) fails here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cairn_chunking::{cut_points, ChunkerConfig, FixedChunker};
use common::{fingerprint, random_bytes, text_bytes};

const MIB: usize = 1 << 20;

fn cuts(config: &ChunkerConfig, data: &[u8]) -> Vec<(usize, usize)> {
    cut_points(config, data).collect()
}

#[test]
fn golden_small_config_random() {
    let data = random_bytes(0xCA1E, 4 * MIB);
    let config = ChunkerConfig::new(16 * 1024, 64 * 1024, 256 * 1024).unwrap();
    let got = cuts(&config, &data);
    assert_eq!(&got[..4], GOLDEN_SMALL_HEAD, "first cut points");
    assert_eq!(
        (got.len(), fingerprint(&got)),
        GOLDEN_SMALL,
        "count and fingerprint"
    );
}

#[test]
fn golden_default_config_random() {
    let data = random_bytes(0xCA1E, 4 * MIB);
    let config = ChunkerConfig::default();
    // Changing the default re-chunks new repositories; do it deliberately.
    assert_eq!(
        config,
        ChunkerConfig::new(128 * 1024, 512 * 1024, 2 * 1024 * 1024).unwrap()
    );
    let got = cuts(&config, &data);
    assert_eq!(got, GOLDEN_DEFAULT);
}

#[test]
fn golden_small_config_text() {
    let data = text_bytes(7, 4 * MIB);
    let config = ChunkerConfig::new(16 * 1024, 64 * 1024, 256 * 1024).unwrap();
    let got = cuts(&config, &data);
    assert_eq!((got.len(), fingerprint(&got)), GOLDEN_TEXT);
}

/// Our cut loop must be exactly fastcdc's own iterator (same masks, level, gear table).
#[test]
fn matches_fastcdc_iterator() {
    let data = random_bytes(99, 3 * MIB + 12345);
    for (min, avg, max) in [(64, 256, 1024), (2048, 8192, 65536), (16384, 65536, 262144)] {
        let config = ChunkerConfig::new(min, avg, max).unwrap();
        let ours = cuts(&config, &data);
        let theirs: Vec<_> = fastcdc::v2020::FastCDC::new(&data, min, avg, max)
            .map(|c| (c.offset, c.length))
            .collect();
        assert_eq!(ours, theirs, "config {min}/{avg}/{max}");
    }
}

#[test]
fn fixed_golden() {
    let data = random_bytes(1, 10_000);
    let got: Vec<_> = FixedChunker::new(4096).unwrap().cut_points(&data).collect();
    assert_eq!(got, [(0, 4096), (4096, 4096), (8192, 1808)]);
}

const GOLDEN_SMALL_HEAD: &[(usize, usize)] =
    &[(0, 70451), (70451, 72374), (142825, 83715), (226540, 42876)];
const GOLDEN_SMALL: (usize, u64) = (57, 3770865427482047815);
const GOLDEN_TEXT: (usize, u64) = (55, 3721510238623802334);
const GOLDEN_DEFAULT: &[(usize, usize)] = &[
    (0, 840391),
    (840391, 168348),
    (1008739, 162365),
    (1171104, 699474),
    (1870578, 262708),
    (2133286, 482689),
    (2615975, 1056257),
    (3672232, 522072),
];
