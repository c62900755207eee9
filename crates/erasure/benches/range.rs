#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Range reads of a 16 MiB pack, as a restore does them (coalesced ranges
//! of 256 KiB and of 4 KiB): a plain memory backend, a healthy 4+2 erasure
//! layout, the layout with two data shards gone, and the same object
//! written in shard format 1 (whole-object reads: the old path).
//!
//! `cargo bench -p cairn-erasure --bench range -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_erasure::{Child, Codec, ErasureBackend, ErasureConfig, ShardFormat};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::executor::block_on;

const LEN: usize = 16 << 20;
const KEY: &str = "data/00/pack";

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

fn layout(data: &Bytes, format: ShardFormat, lost: &[usize]) -> ErasureBackend {
    let stores: Vec<MemoryBackend> = (0..6).map(|_| MemoryBackend::new()).collect();
    let shards = Codec::new(4, 2)
        .unwrap()
        .encode_format(data, format)
        .unwrap();
    block_on(async {
        for (i, (s, shard)) in stores.iter().zip(shards).enumerate() {
            if !lost.contains(&i) {
                s.put(KEY, shard, PutMode::CreateOnly).await.unwrap();
            }
        }
    });
    let kids = stores
        .iter()
        .enumerate()
        .map(|(i, s)| Child::new(format!("m{i}"), Arc::new(s.clone())))
        .collect();
    ErasureBackend::new(kids, ErasureConfig::new(4, 2)).unwrap()
}

fn bench(c: &mut Criterion) {
    let data = Bytes::from(seeded(LEN));
    let plain = MemoryBackend::new();
    block_on(plain.put(KEY, data.clone(), PutMode::CreateOnly)).unwrap();
    let stores: Vec<(&str, Box<dyn Backend>)> = vec![
        ("plain_memory", Box::new(plain)),
        (
            "rs4+2_v2_healthy",
            Box::new(layout(&data, ShardFormat::V2, &[])),
        ),
        (
            "rs4+2_v2_2data_lost",
            Box::new(layout(&data, ShardFormat::V2, &[0, 1])),
        ),
        (
            "rs4+2_v1_healthy",
            Box::new(layout(&data, ShardFormat::V1, &[])),
        ),
    ];
    // Ranges spread over the pack; 8 of them per iteration.
    for size in [256 * 1024usize, 4 * 1024] {
        let mut group = c.benchmark_group(format!("range_{}KiB_of_16MiB", size / 1024));
        group.throughput(Throughput::Bytes((8 * size) as u64));
        group.sample_size(10);
        for (name, store) in &stores {
            group.bench_function(*name, |b| {
                b.iter(|| {
                    block_on(async {
                        for i in 0..8u64 {
                            let at = i * (LEN as u64 / 8) + 12_345;
                            let r = store.get_range(KEY, at..at + size as u64).await.unwrap();
                            black_box(r);
                        }
                    })
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
