//! Chunking throughput per CPU second (ignored: a measurement, not a test).
//!
//! Run: `cargo test --release -p cairn-chunking --test measure_throughput -- --ignored --nocapture`
//!
//! The criterion bench (`benches/chunking.rs`) measures wall-clock time, which on a shared
//! machine mostly measures the neighbours. This counts the thread's own CPU time
//! (`/proc/thread-self/stat`, Linux, 10 ms ticks, so each case runs for 2+ CPU seconds)
//! to give bytes per second per core, beside a memcpy measured the same way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::hint::black_box;
use std::io::Cursor;

use cairn_chunking::{cut_points, ChunkerConfig, FixedChunker, StreamChunker};
use common::{random_bytes, text_bytes};

/// CPU seconds used by this thread so far (utime + stime, USER_HZ = 100 on Linux).
fn thread_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

fn per_cpu_second(len: usize, mut run: impl FnMut()) -> f64 {
    run(); // warm-up
    let start = thread_cpu_secs();
    let mut n = 0u64;
    while thread_cpu_secs() - start < 2.0 {
        run();
        n += 1;
    }
    (n * len as u64) as f64 / (thread_cpu_secs() - start) / 1e6
}

#[test]
#[ignore = "measurement: run with --release -- --ignored --nocapture"]
fn measure_throughput() {
    let len = 64 << 20;
    let config = ChunkerConfig::default();
    let fixed = FixedChunker::new(1 << 20).unwrap();
    let (min, avg, max) = (config.min_size(), config.avg_size(), config.max_size());
    println!("\n| data (64 MiB) | case | MB per CPU second | vs memcpy |");
    println!("|---|---|---:|---:|");
    for (name, data) in [
        ("random", random_bytes(42, len)),
        ("text", text_bytes(42, len)),
    ] {
        let mut dst = vec![0u8; len];
        let memcpy = per_cpu_second(len, || {
            dst.copy_from_slice(black_box(&data));
            black_box(&dst);
        });
        let cases: [(&str, f64); 5] = [
            ("memcpy", memcpy),
            (
                "cut_points",
                per_cpu_second(len, || {
                    black_box(cut_points(&config, black_box(&data)).count());
                }),
            ),
            (
                "fastcdc crate FastCDC iterator",
                per_cpu_second(len, || {
                    black_box(
                        fastcdc::v2020::FastCDC::new(black_box(&data), min, avg, max).count(),
                    );
                }),
            ),
            (
                "StreamChunker over Cursor",
                per_cpu_second(len, || {
                    let n: usize = StreamChunker::new(Cursor::new(black_box(&data)), config)
                        .map(|c| c.unwrap().len())
                        .sum();
                    black_box(n);
                }),
            ),
            (
                "FixedChunker (1 MiB) stream over Cursor",
                per_cpu_second(len, || {
                    let n: usize = fixed
                        .stream(Cursor::new(black_box(&data)))
                        .map(|c| c.unwrap().len())
                        .sum();
                    black_box(n);
                }),
            ),
        ];
        for (case, mbps) in cases {
            println!("| {name} | {case} | {mbps:.0} | {:.2} |", mbps / memcpy);
        }
    }
}
