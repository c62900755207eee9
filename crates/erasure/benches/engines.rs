#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! The two pure-Rust Reed-Solomon engines side by side on the same shards:
//! `reed-solomon-erasure` 6 (GF(2^8), the one Cairn uses; pure Rust unless
//! the `simd-accel` feature is on) and `reed-solomon-simd` 3 (GF(2^16)
//! Leopard, runtime CPU detection), beside a memcpy of the same bytes.
//! Raw parity arithmetic only: no checksums, no headers (the codec adds
//! the same BLAKE3 work whatever the engine). Benchmarks of one group run
//! alternately in one process.
//!
//! `cargo bench -p cairn-erasure --bench engines -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use reed_solomon_erasure::galois_8::ReedSolomon;

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
    let data = seeded(LEN);
    for (k, m) in [(4usize, 2usize), (6, 3), (10, 4)] {
        // reed-solomon-simd wants an even shard size (a multiple of 2).
        let p = LEN.div_ceil(k).next_multiple_of(64);
        let shards: Vec<Vec<u8>> = (0..k)
            .map(|i| {
                let mut s = data[(i * p).min(LEN)..((i + 1) * p).min(LEN)].to_vec();
                s.resize(p, 0);
                s
            })
            .collect();
        let mut group = c.benchmark_group(format!("engine_{k}+{m}_4MiB"));
        group.throughput(Throughput::Bytes(LEN as u64));
        group.sample_size(10);
        group.bench_function("memcpy", |b| b.iter(|| black_box(data.to_vec())));

        let rse = ReedSolomon::new(k, m).unwrap();
        let mut parity = vec![vec![0u8; p]; m];
        group.bench_function("rs_erasure_encode", |b| {
            b.iter(|| {
                let mut out: Vec<&mut [u8]> = parity.iter_mut().map(|v| &mut v[..]).collect();
                rse.encode_sep(black_box(&shards), &mut out).unwrap();
            })
        });
        group.bench_function("rs_simd_encode", |b| {
            b.iter(|| black_box(reed_solomon_simd::encode(k, m, black_box(&shards)).unwrap()))
        });

        // Lose m data shards: both engines must solve for all of them.
        let rs_parity = parity.clone();
        group.bench_function("rs_erasure_reconstruct_m_lost", |b| {
            b.iter(|| {
                let mut all: Vec<Option<Vec<u8>>> = shards
                    .iter()
                    .chain(&rs_parity)
                    .enumerate()
                    .map(|(i, s)| (i >= m).then(|| s.clone()))
                    .collect();
                rse.reconstruct_data(&mut all).unwrap();
                black_box(all)
            })
        });
        let simd_parity = reed_solomon_simd::encode(k, m, &shards).unwrap();
        group.bench_function("rs_simd_reconstruct_m_lost", |b| {
            b.iter(|| {
                // The same clones as above, so both pay for the copies.
                let originals: Vec<(usize, Vec<u8>)> =
                    (m..k).map(|i| (i, shards[i].clone())).collect();
                let recovery: Vec<(usize, Vec<u8>)> =
                    simd_parity.iter().cloned().enumerate().collect();
                black_box(reed_solomon_simd::decode(k, m, originals, recovery).unwrap())
            })
        });
        // Check once that both rebuilt the same bytes.
        let got = reed_solomon_simd::decode(
            k,
            m,
            (m..k).map(|i| (i, &shards[i])),
            simd_parity.iter().enumerate(),
        )
        .unwrap();
        for i in 0..m {
            assert_eq!(got[&i], shards[i]);
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
