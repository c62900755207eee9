//! What the metadata cache saves on a remote repository: `snapshots`, `ls`,
//! an unchanged re-backup and `open` (as `cat config`, which opens and
//! loads the index) against SeaweedFS, 200 snapshots, with `--no-cache` and
//! with a warm cache; medians of alternating runs of the `cairn` binary.
//!
//! A measurement, so `#[ignore]`d (a few minutes; BENCHMARKS.md has the
//! figures):
//! `cargo test -p cairn-cli --release --test cache_bench -- --ignored --nocapture`
//! (starts SeaweedFS through `s3_test_server()`, or skips). `CACHE_BENCH_SNAPSHOTS`
//! and `CACHE_BENCH_RUNS` change the size (default 200 snapshots, 7 runs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;

use common::{assert_success, PASSWORD};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `cairn ARGS` on `repo` with the cache in `cache` (or none); the
/// wall time of the whole process.
fn timed(repo: &str, cache: Option<&Path>, args: &[&str]) -> Duration {
    let mut c = common::cairn(repo, PASSWORD, args);
    match cache {
        Some(dir) => c.env("CAIRN_CACHE_DIR", dir),
        None => c.env("CAIRN_NO_CACHE", "1"),
    };
    let start = Instant::now();
    let out = c.output().unwrap();
    let took = start.elapsed();
    assert_success(args, &out);
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// 20 directories of 10 small files; version `v` changes one file.
fn write_tree(src: &Path, v: usize) {
    for d in 0..20 {
        let dir = src.join(format!("dir{d:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..10 {
            let p = dir.join(format!("file{f}.txt"));
            if v == 0 || (d * 10 + f) == v % 200 {
                let text = format!("file {d}/{f}, version {v}\n").repeat(40);
                std::fs::write(p, text).unwrap();
            }
        }
    }
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn cache_speedups_on_seaweedfs() {
    let Some(server) = cairn_backends::testing::s3_test_server() else {
        return;
    };
    let snapshots = env_or("CACHE_BENCH_SNAPSHOTS", 200);
    let runs = env_or("CACHE_BENCH_RUNS", 7);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let repo = format!(
        "s3:{}/{}/cache-bench-{}-{nanos}",
        server.endpoint,
        server.bucket,
        std::process::id()
    );
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let cache = tmp.path().join("cache");
    let src_arg = src.to_str().unwrap();
    timed(&repo, None, &["init"]);
    let start = Instant::now();
    for v in 0..snapshots {
        write_tree(&src, v);
        timed(&repo, None, &["backup", src_arg, "--quiet"]);
    }
    eprintln!(
        "{snapshots} snapshots written in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let ops: [(&str, Vec<&str>); 4] = [
        ("snapshots", vec!["snapshots"]),
        ("ls latest", vec!["ls", "latest"]),
        ("unchanged backup", vec!["backup", src_arg, "--quiet"]),
        ("open (cat config)", vec!["cat", "config"]),
    ];
    eprintln!("| operation | --no-cache | warm cache | speed-up |");
    eprintln!("|---|---|---|---|");
    for (name, args) in &ops {
        // Warm the cache once, then alternate.
        timed(&repo, Some(&cache), args);
        let (mut cold, mut warm) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            cold.push(timed(&repo, None, args));
            warm.push(timed(&repo, Some(&cache), args));
        }
        let (c, w) = (median(cold), median(warm));
        eprintln!(
            "| `{name}` | {:.0} ms | {:.0} ms | {:.1}× |",
            c.as_secs_f64() * 1e3,
            w.as_secs_f64() * 1e3,
            c.as_secs_f64() / w.as_secs_f64()
        );
    }
}
