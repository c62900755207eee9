//! The metadata cache measured at the library level on SeaweedFS, without
//! process start-up: `Repository::open_with`, `snapshots()`, a walk of the
//! latest snapshot's trees (`ls`) and an unchanged re-backup, each on a
//! fresh handle, with no cache and with a warm one; 200 snapshots; medians
//! of alternating runs. Run once on the server as it is (localhost, about a
//! millisecond per request) and once with 20 ms added to every request
//! (`cairn_backends::testing::Latency`), the round trip of a remote store.
//!
//! A measurement, so `#[ignore]`d (BENCHMARKS.md has the figures):
//! `cargo test -p cairn-cli --test cache_bench_lib -- --ignored --nocapture`
//! (starts SeaweedFS through `s3_test_server()`, or skips).
//! `CACHE_BENCH_SNAPSHOTS`, `CACHE_BENCH_RUNS` (default 200, 7) and
//! `CACHE_BENCH_LATENCY_MS` (default 20) change it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_testkit::backup_dir;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cairn::cas::{
    backup, BackupOptions, CacheOptions, InitOptions, NoProgress, NodeKind, OpenOptions, Repository,
};
use cairn::KdfParams;
use cairn_backends::testing::Latency;
use cairn_backends::Backend;
use futures::executor::block_on;

const PW: &[u8] = b"cache bench";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// 20 directories of 10 small files; version `v` changes one file.
fn write_tree(src: &Path, v: u64) {
    for d in 0..20u64 {
        let dir = src.join(format!("dir{d:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..10u64 {
            if v == 0 || d * 10 + f == v % 200 {
                let text = format!("file {d}/{f}, version {v}\n").repeat(40);
                std::fs::write(dir.join(format!("file{f}.txt")), text).unwrap();
            }
        }
    }
}

/// One run of the four operations on fresh handles; their times.
async fn one_run(store: &Arc<dyn Backend>, cache: Option<&Path>, src: &Path) -> [Duration; 4] {
    let opts = match cache {
        Some(dir) => OpenOptions::default().cache(CacheOptions::default().dir(dir)),
        None => OpenOptions::default(),
    };
    let t = Instant::now();
    let repo = Repository::open_with(store.clone(), PW, opts.clone())
        .await
        .unwrap();
    let open = t.elapsed();
    let t = Instant::now();
    let snaps = repo.snapshots().await.unwrap();
    let list = t.elapsed();
    // `ls` on a handle whose in-memory tree cache is cold, as a new process.
    let repo = Repository::open_with(store.clone(), PW, opts)
        .await
        .unwrap();
    let t = Instant::now();
    let mut stack = vec![*snaps.last().unwrap().1.tree];
    let mut nodes = 0;
    while let Some(id) = stack.pop() {
        for node in repo.load_tree(&id).await.unwrap().nodes {
            nodes += 1;
            if let NodeKind::Dir { subtree } = node.kind {
                stack.push(subtree);
            }
        }
    }
    let ls = t.elapsed();
    assert!(nodes > 200, "{nodes}");
    let t = Instant::now();
    backup_dir(&repo, src, &BackupOptions::default()).await;
    [open, list, ls, t.elapsed()]
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

async fn measure(label: &str, store: Arc<dyn Backend>, src: &Path, cache: &Path, runs: u64) {
    one_run(&store, Some(cache), src).await; // warm the cache
    let (mut cold, mut warm) = (vec![Vec::new(); 4], vec![Vec::new(); 4]);
    for _ in 0..runs {
        for (i, d) in one_run(&store, None, src).await.into_iter().enumerate() {
            cold[i].push(d);
        }
        for (i, d) in one_run(&store, Some(cache), src)
            .await
            .into_iter()
            .enumerate()
        {
            warm[i].push(d);
        }
    }
    let names = ["open", "snapshots()", "ls latest", "unchanged backup"];
    eprintln!("\n{label}\n| operation | no cache | warm cache | speed-up |\n|---|---|---|---|");
    for (i, name) in names.iter().enumerate() {
        let (c, w) = (median(cold[i].clone()), median(warm[i].clone()));
        eprintln!("| {name} | {c:.1} ms | {w:.1} ms | {:.1}× |", c / w);
    }
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn cache_speedups_in_the_library() {
    let Some(server) = cairn_backends::testing::s3_test_server() else {
        return;
    };
    let snapshots = env_or("CACHE_BENCH_SNAPSHOTS", 200);
    let runs = env_or("CACHE_BENCH_RUNS", 7);
    let latency = Duration::from_millis(env_or("CACHE_BENCH_LATENCY_MS", 20));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let loc = format!(
        "s3:{}/{}/cache-bench-lib-{}-{nanos}",
        server.endpoint,
        server.bucket,
        std::process::id()
    );
    let store = cairn::Location::parse(&loc)
        .unwrap()
        .open()
        .unwrap()
        .backend;
    let tmp = tempfile::tempdir().unwrap();
    let src: PathBuf = tmp.path().join("src");
    block_on(async {
        let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
        let repo = Repository::init(store.clone(), PW, opts).await.unwrap();
        let t = Instant::now();
        for v in 0..snapshots {
            write_tree(&src, v);
            let paths = [src.clone()];
            backup(
                &repo,
                &paths,
                &BackupOptions::default(),
                Arc::new(NoProgress),
            )
            .await
            .unwrap();
        }
        eprintln!(
            "{snapshots} snapshots written in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let direct = format!("SeaweedFS on localhost, {snapshots} snapshots");
        measure(&direct, store.clone(), &src, &tmp.path().join("c1"), runs).await;
        let slow: Arc<dyn Backend> = Arc::new(Latency::new(store.clone(), latency));
        let label = format!("the same + {} ms per request", latency.as_millis());
        measure(&label, slow, &src, &tmp.path().join("c2"), runs).await;
    });
}
