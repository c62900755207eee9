#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Encode and reconstruct throughput of the Reed-Solomon codec, beside a
//! memcpy of the same bytes.
//!
//! `cargo bench -p cairn-erasure --bench codec -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use bytes::Bytes;
use cairn_erasure::Codec;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const LEN: usize = 4 << 20;

fn seeded(len: usize) -> Vec<u8> {
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

fn bench(c: &mut Criterion) {
    let data = Bytes::from(seeded(LEN));
    for (k, m) in [(4, 2), (6, 3), (10, 4)] {
        let codec = Codec::new(k, m).unwrap();
        let mut group = c.benchmark_group(format!("rs_{k}+{m}_4MiB"));
        group.throughput(Throughput::Bytes(LEN as u64));
        group.sample_size(10);
        group.bench_function("memcpy", |b| b.iter(|| black_box(data.to_vec())));
        group.bench_function("encode", |b| {
            b.iter(|| codec.encode(black_box(&data)).unwrap())
        });
        let shards = codec.encode(&data).unwrap();
        // Lose m data shards: the worst case, all m must be solved for.
        let mut slots: Vec<Option<Bytes>> = shards.into_iter().map(Some).collect();
        for slot in slots.iter_mut().take(m) {
            *slot = None;
        }
        assert_eq!(codec.decode(&slots).unwrap(), data);
        group.bench_function("reconstruct_m_lost", |b| {
            b.iter(|| codec.decode(black_box(&slots)).unwrap())
        });
        let all: Vec<Option<Bytes>> = codec.encode(&data).unwrap().into_iter().map(Some).collect();
        group.bench_function("decode_all_present", |b| {
            b.iter(|| codec.decode(black_box(&all)).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
