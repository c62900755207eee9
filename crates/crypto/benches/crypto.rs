//! Throughput of chunk ids and sealing beside memcpy, and the cost of one default
//! Argon2id key-file derivation.
//!
//! `cargo bench -p cairn-crypto --bench crypto -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use cairn_crypto::{KdfParams, KeyFile, KeySet, MasterKey, SealingKey};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Seeded pseudo-random bytes (xorshift64), so runs are comparable.
fn data(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

const SIZES: [(&str, usize); 3] = [("256B", 256), ("64KiB", 64 << 10), ("1MiB", 1 << 20)];

fn memcpy(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    input: &[u8],
) {
    let mut out = Vec::with_capacity(input.len() + SealingKey::OVERHEAD);
    c.bench_with_input(BenchmarkId::new("memcpy", name), input, |b, input| {
        b.iter(|| {
            out.clear();
            out.extend_from_slice(black_box(input));
            black_box(&out);
        })
    });
}

fn chunk_id(c: &mut Criterion) {
    let keys = KeySet::derive(&MasterKey::from_bytes([1; 32]));
    let mut group = c.benchmark_group("chunk_id");
    for (name, len) in &SIZES[1..] {
        let input = data(*len);
        group.throughput(Throughput::Bytes(*len as u64));
        memcpy(&mut group, name, &input);
        group.bench_with_input(
            BenchmarkId::new("keyed_blake3", name),
            &input,
            |b, input| b.iter(|| keys.chunk_id_key().id(black_box(input))),
        );
    }
    group.finish();
}

fn seal(c: &mut Criterion) {
    let keys = KeySet::derive(&MasterKey::from_bytes([1; 32]));
    let key = keys.data_key();
    let mut group = c.benchmark_group("seal");
    for (name, len) in SIZES {
        let input = data(len);
        group.throughput(Throughput::Bytes(len as u64));
        memcpy(&mut group, name, &input);
        let mut out = Vec::with_capacity(len + SealingKey::OVERHEAD);
        group.bench_with_input(BenchmarkId::new("seal_into", name), &input, |b, input| {
            b.iter(|| {
                out.clear();
                key.seal_into(black_box(input), b"aad", &mut out).unwrap();
            })
        });
        let sealed = key.seal(&input, b"aad").unwrap();
        let mut plain = Vec::with_capacity(len);
        group.bench_with_input(BenchmarkId::new("open_into", name), &sealed, |b, sealed| {
            b.iter(|| {
                plain.clear();
                key.open_into(black_box(sealed), b"aad", &mut plain)
                    .unwrap();
            })
        });
    }
    group.finish();
}

fn argon2(c: &mut Criterion) {
    let master = MasterKey::from_bytes([1; 32]);
    let file = KeyFile::create(&master, b"password", KdfParams::default()).unwrap();
    let mut group = c.benchmark_group("argon2");
    group.sample_size(10);
    // 64 MiB, 3 passes, 1 lane: the time a user waits to open a repository.
    group.bench_function("default_open", |b| {
        b.iter(|| file.open(black_box(b"password")).unwrap())
    });
    group.finish();
}

criterion_group!(benches, chunk_id, seal, argon2);
criterion_main!(benches);
