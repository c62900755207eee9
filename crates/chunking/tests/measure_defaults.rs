//! The measurement behind `ChunkerConfig::default()` (ignored: it takes a while).
//!
//! Run: `cargo test --release -p cairn-chunking --test measure_defaults -- --ignored --nocapture`
//!
//! A seeded corpus (source-like text files, binary files, an append-only log) goes through
//! ten versions of small edits (insertions, deletions, overwrites, new and deleted files,
//! log growth). Each version is chunked file by file with each candidate configuration,
//! as a backup would, and the unique chunks are counted: "stored" is the bytes of unique
//! chunks over the bytes of all versions, "chunks" is the number of index entries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use cairn_chunking::{ChunkerConfig, Chunking, FixedChunker};
use common::{random_bytes, text_bytes, Rng};

const KIB: u32 = 1024;
const MIB: u32 = 1024 * 1024;
const VERSIONS: usize = 10;

struct Tally {
    name: String,
    chunking: Chunking,
    seen: HashSet<(u64, usize)>,
    unique_bytes: u64,
    first_version_bytes: u64,
}

/// Sizes log-uniform-ish between `lo` and `hi`.
fn size(rng: &mut Rng, lo: usize, hi: usize) -> usize {
    let (l, h) = ((lo as f64).ln(), (hi as f64).ln());
    let u = rng.below(1 << 20) as f64 / f64::from(1 << 20);
    (l + u * (h - l)).exp() as usize
}

fn new_text_file(rng: &mut Rng) -> Vec<u8> {
    let len = size(rng, 1024, 1 << 20);
    text_bytes(rng.next_u64(), len)
}

fn edit(rng: &mut Rng, file: &mut Vec<u8>, text: bool) {
    let filler = |rng: &mut Rng, n: usize| {
        if text {
            text_bytes(rng.next_u64(), n)
        } else {
            random_bytes(rng.next_u64(), n)
        }
    };
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(file.len() as u64 + 1) as usize;
        match rng.below(3) {
            0 => {
                let n = 1 + rng.below(256) as usize;
                let ins = filler(rng, n);
                file.splice(at..at, ins);
            }
            1 => {
                let n = (1 + rng.below(256) as usize).min(file.len() - at);
                file.drain(at..at + n);
            }
            _ => {
                let n = (1 + rng.below(4096) as usize).min(file.len() - at);
                let new = filler(rng, n);
                file[at..at + n].copy_from_slice(&new);
            }
        }
    }
}

fn tallies() -> Vec<Tally> {
    let cdc = |name: &str, min, avg, max| Tally {
        name: name.to_string(),
        chunking: ChunkerConfig::new(min, avg, max).unwrap().into(),
        seen: HashSet::new(),
        unique_bytes: 0,
        first_version_bytes: 0,
    };
    vec![
        cdc("16K/64K/256K", 16 * KIB, 64 * KIB, 256 * KIB),
        cdc("64K/256K/1M", 64 * KIB, 256 * KIB, MIB),
        cdc("128K/512K/2M", 128 * KIB, 512 * KIB, 2 * MIB),
        cdc("256K/1M/4M", 256 * KIB, MIB, 4 * MIB),
        cdc("512K/1M/8M (restic)", 512 * KIB, MIB, 8 * MIB),
        cdc("512K/2M/8M", 512 * KIB, 2 * MIB, 8 * MIB),
        cdc("1M/4M/16M", MIB, 4 * MIB, 16 * MIB),
        Tally {
            name: "fixed 1M".into(),
            chunking: FixedChunker::new(MIB).unwrap().into(),
            seen: HashSet::new(),
            unique_bytes: 0,
            first_version_bytes: 0,
        },
    ]
}

/// Chunks `VERSIONS` versions of `files` (each produced from the last by `mutate`) with
/// every candidate and prints the table.
fn measure(
    title: &str,
    mut files: Vec<(Vec<u8>, bool)>,
    mut mutate: impl FnMut(&mut Vec<(Vec<u8>, bool)>),
) {
    let mut tallies = tallies();
    let mut total_bytes = 0u64;
    let mut total_files = 0usize;
    for version in 0..VERSIONS {
        if version > 0 {
            mutate(&mut files);
        }
        for (data, _) in &files {
            total_bytes += data.len() as u64;
            total_files += 1;
            for t in &mut tallies {
                for (o, l) in t.chunking.cut_points(data) {
                    let mut h = DefaultHasher::new();
                    data[o..o + l].hash(&mut h);
                    if t.seen.insert((h.finish(), l)) {
                        t.unique_bytes += l as u64;
                    }
                }
            }
        }
        if version == 0 {
            for t in &mut tallies {
                t.first_version_bytes = t.unique_bytes;
            }
        }
    }

    let mib = |b: u64| b as f64 / f64::from(MIB);
    println!(
        "\n{title}: {VERSIONS} versions, {total_files} files, {:.1} MiB in all; last version {} files, {:.1} MiB",
        mib(total_bytes),
        files.len(),
        mib(files.iter().map(|(d, _)| d.len() as u64).sum()),
    );
    println!("| config (min/avg/max) | stored MiB | stored / total | new MiB per later version | unique chunks | mean chunk KiB |");
    println!("|---|---:|---:|---:|---:|---:|");
    for t in &tallies {
        println!(
            "| {} | {:.1} | {:.2}% | {:.2} | {} | {:.0} |",
            t.name,
            mib(t.unique_bytes),
            100.0 * t.unique_bytes as f64 / total_bytes as f64,
            mib(t.unique_bytes - t.first_version_bytes) / (VERSIONS - 1) as f64,
            t.seen.len(),
            t.unique_bytes as f64 / t.seen.len() as f64 / 1024.0,
        );
    }
}

/// A source tree: 300 text files (1 KiB..1 MiB), 12 binary files (256 KiB..16 MiB), a
/// growing log. Per version: 10% of files get 1..4 edits, 3 new files, 1 deleted, the log
/// grows by 512 KiB.
#[test]
#[ignore = "measurement: run with --release -- --ignored --nocapture"]
fn measure_tree() {
    let mut rng = Rng(0xDEFA_0175);
    let mut files: Vec<(Vec<u8>, bool)> = Vec::new();
    for _ in 0..300 {
        files.push((new_text_file(&mut rng), true));
    }
    for _ in 0..12 {
        let len = size(&mut rng, 256 << 10, 16 << 20);
        files.push((random_bytes(rng.next_u64(), len), false));
    }
    files.push((random_bytes(rng.next_u64(), 4 << 20), false));
    measure("tree", files, |files| {
        for (data, text) in files.iter_mut() {
            if rng.below(10) == 0 && !data.is_empty() {
                edit(&mut rng, data, *text);
            }
        }
        let log = random_bytes(rng.next_u64(), 512 << 10);
        files.last_mut().unwrap().0.extend_from_slice(&log);
        for _ in 0..3 {
            let f = new_text_file(&mut rng);
            let at = rng.below(files.len() as u64 - 1) as usize;
            files.insert(at, (f, true));
        }
        let gone = rng.below(files.len() as u64 - 1) as usize;
        files.remove(gone);
    });
}

/// Large files (dumps, archives, images): 3 text files of 8..32 MiB and 3 binary files of
/// 16..48 MiB; per version each file gets 1..4 edits (insert/delete/overwrite) at random
/// places.
#[test]
#[ignore = "measurement: run with --release -- --ignored --nocapture"]
fn measure_large_files() {
    let mut rng = Rng(0x1A56_E000);
    let mut files: Vec<(Vec<u8>, bool)> = Vec::new();
    for _ in 0..3 {
        let len = size(&mut rng, 8 << 20, 32 << 20);
        files.push((text_bytes(rng.next_u64(), len), true));
    }
    for _ in 0..3 {
        let len = size(&mut rng, 16 << 20, 48 << 20);
        files.push((random_bytes(rng.next_u64(), len), false));
    }
    measure("large files", files, |files| {
        for (data, text) in files.iter_mut() {
            edit(&mut rng, data, *text);
        }
    });
}
