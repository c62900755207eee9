#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Put and get throughput of the local and memory backends, beside a memcpy
//! of the same bytes. Local puts include two fsyncs (file and directory), so
//! their figures say more about the disk than about the code.
//!
//! `cargo bench -p cairn-backends --bench backends -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_backends::testing::pattern;
use cairn_backends::{Backend, LocalBackend, MemoryBackend, PutMode};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::executor::block_on;

const LEN: usize = 1 << 20;
const RANGE: u64 = 64 << 10;

fn bench(c: &mut Criterion) {
    let data = pattern(1, LEN);
    let dir = tempfile::tempdir().unwrap();
    let local = LocalBackend::new(dir.path()).unwrap();
    let memory = MemoryBackend::new();
    let stores: [(&str, &dyn Backend); 2] = [("local", &local), ("memory", &memory)];
    let next = AtomicU64::new(0);

    let mut group = c.benchmark_group("backend_1MiB");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(10);
    group.bench_function("memcpy", |b| b.iter(|| black_box(data.to_vec())));
    for (name, store) in stores {
        group.bench_function(format!("{name}_put_create_only"), |b| {
            b.iter(|| {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let key = format!("put/{:02x}/{n}", n % 256);
                block_on(store.put(&key, data.clone(), PutMode::CreateOnly)).unwrap();
            })
        });
        block_on(store.put("get/object", data.clone(), PutMode::Overwrite)).unwrap();
        group.bench_function(format!("{name}_get"), |b| {
            b.iter(|| black_box(block_on(store.get("get/object")).unwrap()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("backend_64KiB_range");
    group.throughput(Throughput::Bytes(RANGE));
    group.bench_function("memcpy", |b| {
        b.iter(|| black_box(data[..RANGE as usize].to_vec()))
    });
    for (name, store) in stores {
        group.bench_function(format!("{name}_get_range"), |b| {
            b.iter(|| {
                black_box(block_on(store.get_range("get/object", 4096..4096 + RANGE)).unwrap())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
