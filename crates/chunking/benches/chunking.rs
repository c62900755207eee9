//! Chunking throughput on 64 MiB of seeded random and text-like data, beside a memcpy of
//! the same bytes. Run:
//! `cargo bench -p cairn-chunking --bench chunking -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::io::Cursor;

use cairn_chunking::{cut_points, ChunkerConfig, FixedChunker, StreamChunker};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const LEN: usize = 64 << 20;

fn random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x1234_5678;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        // SplitMix64.
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn text(len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "fn", "let", "mut", "self", "impl", "struct", "pub", "use", "return", "match", "if",
        "else", "Result", "Option", "chunk", "offset", "len", "data", "{", "}", "(", ")", ";",
    ];
    let r = random(len / 2 + 64);
    let mut out = Vec::with_capacity(len + 16);
    let mut i = 0;
    while out.len() < len {
        let w = WORDS[r[i % r.len()] as usize % WORDS.len()];
        out.extend_from_slice(w.as_bytes());
        out.push(if r[(i + 1) % r.len()].is_multiple_of(8) {
            b'\n'
        } else {
            b' '
        });
        i += 2;
    }
    out.truncate(len);
    out
}

fn bench_data(c: &mut Criterion, name: &str, data: &[u8]) {
    let config = ChunkerConfig::default();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(10);
    let mut dst = vec![0u8; data.len()];
    group.bench_function("memcpy", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(data));
            black_box(&dst);
        })
    });
    group.bench_function("cut_points", |b| {
        b.iter(|| cut_points(&config, black_box(data)).count())
    });
    // The same cut points through the fastcdc crate's own iterator, for comparison.
    let (min, avg, max) = (config.min_size(), config.avg_size(), config.max_size());
    group.bench_function("fastcdc_crate_iter", |b| {
        b.iter(|| fastcdc::v2020::FastCDC::new(black_box(data), min, avg, max).count())
    });
    group.bench_function("stream_chunker_cursor", |b| {
        b.iter(|| {
            StreamChunker::new(Cursor::new(black_box(data)), config)
                .map(|c| c.unwrap().len())
                .sum::<usize>()
        })
    });
    let fixed = FixedChunker::new(1 << 20).unwrap();
    group.bench_function("fixed_stream_cursor", |b| {
        b.iter(|| {
            fixed
                .stream(Cursor::new(black_box(data)))
                .map(|c| c.unwrap().len())
                .sum::<usize>()
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_data(c, "chunking_random_64MiB", &random(LEN));
    bench_data(c, "chunking_text_64MiB", &text(LEN));
}

criterion_group!(chunking, benches);
criterion_main!(chunking);
