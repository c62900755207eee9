//! Content-defined chunking localises edits: a small change re-chunks only around it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;

use cairn_chunking::{cut_points, ChunkerConfig};
use common::{random_bytes, text_bytes};

/// Chunks of `edited` whose bytes are not a chunk of `original`.
fn new_chunks(config: &ChunkerConfig, original: &[u8], edited: &[u8]) -> (usize, usize) {
    let old: HashSet<&[u8]> = cut_points(config, original)
        .map(|(o, l)| &original[o..o + l])
        .collect();
    let cuts: Vec<_> = cut_points(config, edited).collect();
    let fresh = cuts
        .iter()
        .filter(|&&(o, l)| !old.contains(&edited[o..o + l]))
        .count();
    (fresh, cuts.len())
}

#[test]
fn one_byte_insertion_changes_few_chunks() {
    let original = random_bytes(2024, 16 << 20);
    for (min, avg, max) in [(8192, 32768, 131072), (256 << 10, 1 << 20, 4 << 20)] {
        let config = ChunkerConfig::new(min, avg, max).unwrap();
        for at in [0, 1 << 20, 8 << 20, (16 << 20) - 5] {
            let mut edited = original.clone();
            edited.insert(at, 0xA5);
            let (fresh, total) = new_chunks(&config, &original, &edited);
            assert!(total >= 8, "input spans many chunks ({total})");
            // The edited chunk, perhaps its successor (cut moved within the window).
            assert!(
                (1..=2).contains(&fresh),
                "{min}/{avg}/{max} insert at {at}: {fresh} of {total} new"
            );
        }
    }
}

#[test]
fn deletion_and_overwrite_in_text_change_few_chunks() {
    let original = text_bytes(5, 8 << 20);
    let config = ChunkerConfig::new(8192, 32768, 131072).unwrap();
    let mut deleted = original.clone();
    deleted.drain(3_000_000..3_000_100);
    let (fresh, total) = new_chunks(&config, &original, &deleted);
    assert!((1..=2).contains(&fresh), "deletion: {fresh} of {total} new");

    let mut overwritten = original.clone();
    overwritten[5_000_000..5_000_010].copy_from_slice(b"0123456789");
    let (fresh, total) = new_chunks(&config, &original, &overwritten);
    assert!(
        (1..=2).contains(&fresh),
        "overwrite: {fresh} of {total} new"
    );
}
