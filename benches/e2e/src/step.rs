//! Steps run in a child process (`cairn-bench step ...`), so each has its own
//! peak RSS. Each prints one JSON object on stdout.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use cairn_archiver::{backup, BackupOptions, NoProgress};
use cairn_backends::{Backend, LocalBackend};
use cairn_cas_core::{InitOptions, Repository};
use cairn_erasure::{Child, ErasureBackend, ErasureConfig};
use cairn_recovery::{plan_restore, restore, restore_snapshot, RestoreOptions, SnapshotQuery};
use serde_json::{json, Value};

/// The password every benchmark repository uses (for every tool).
pub(crate) const PASSWORD: &str = "cairn-bench-password";

/// Erasure layout: 4 data + 2 parity shards over six local directories.
pub(crate) const EC_K: usize = 4;
/// Parity shards.
pub(crate) const EC_M: usize = 2;

/// The directory of erasure child `i` inside an erasure repository dir.
pub(crate) fn ec_child(repo: &Path, i: usize) -> PathBuf {
    repo.join(format!("shard{i}"))
}

fn store(repo: &Path, erasure: bool) -> Result<Arc<dyn Backend>> {
    if !erasure {
        return Ok(Arc::new(LocalBackend::new(repo)?));
    }
    let mut children = Vec::new();
    for i in 0..EC_K + EC_M {
        let b: Arc<dyn Backend> = Arc::new(LocalBackend::new(ec_child(repo, i))?);
        children.push(Child::new(format!("local{i}"), b));
    }
    let mut config = ErasureConfig::new(EC_K, EC_M);
    // For measuring the memory/speed trade-off by hand; the benchmark
    // itself runs the library's default.
    if let Some(n) = std::env::var("CAIRN_BENCH_ENCODE_BUFFERS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config = config.encode_buffers(n);
    }
    Ok(Arc::new(ErasureBackend::new(children, config)?))
}

/// Peak resident set of this process so far (VmHWM), in KiB.
pub(crate) fn vmhwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `init`: creates a repository (default chunker, zstd-3, default KDF).
pub(crate) fn init(repo: &Path, erasure: bool) -> Result<Value> {
    let backend = store(repo, erasure)?;
    futures::executor::block_on(async {
        Repository::init(backend, PASSWORD.as_bytes(), InitOptions::default()).await
    })?;
    Ok(json!({}))
}

/// `backup`: backs up `src` (the parent is found by host and path).
pub(crate) fn run_backup(repo: &Path, src: &Path, erasure: bool) -> Result<Value> {
    let backend = store(repo, erasure)?;
    futures::executor::block_on(async {
        let t = Instant::now();
        let repo = Repository::open(backend, PASSWORD.as_bytes()).await?;
        let open_secs = t.elapsed().as_secs_f64();
        let opts = BackupOptions::default().host("bench");
        let done = backup(&repo, &[src.to_owned()], &opts, Arc::new(NoProgress)).await?;
        if !done.warnings.is_empty() {
            bail!("backup warnings: {:?}", done.warnings);
        }
        let index = repo.index();
        let per_chunk = index.resident_bytes() as f64 / index.len().max(1) as f64;
        let s = &done.snapshot.summary;
        Ok(json!({
            "open_secs": open_secs,
            "internal_secs": s.duration_secs,
            "files_new": s.files_new,
            "files_changed": s.files_changed,
            "files_unchanged": s.files_unchanged,
            "bytes_read": s.bytes_read,
            "bytes_added_stored": s.bytes_added_stored,
            "index_blobs": index.len(),
            "index_resident_bytes": index.resident_bytes(),
            "index_bytes_per_chunk": per_chunk,
        }))
    })
}

/// `restore`: restores the latest snapshot into `target`, `window` files
/// at a time (`restore_snapshot`, as `cairn restore --window FILES`; 0: one
/// plan of the whole snapshot, `plan_restore` then `restore`).
pub(crate) fn run_restore(
    repo: &Path,
    target: &Path,
    erasure: bool,
    window: usize,
) -> Result<Value> {
    let backend = store(repo, erasure)?;
    futures::executor::block_on(async {
        let t = Instant::now();
        let repo = Repository::open(backend, PASSWORD.as_bytes()).await?;
        let open_secs = t.elapsed().as_secs_f64();
        let (_, snap) = repo.find_snapshot(&SnapshotQuery::latest()).await?;
        let opts = RestoreOptions::new(target).window(window);
        let progress = Arc::new(cairn_recovery::NoProgress);
        let (done, plan_secs) = if window == 0 {
            let plan = plan_restore(&repo, &snap, &opts).await?;
            let plan_secs = t.elapsed().as_secs_f64() - open_secs;
            let done = restore(&repo, &plan, &opts, progress).await;
            (done, Some(plan_secs))
        } else {
            // Each window is planned as it comes: no separate plan time.
            (restore_snapshot(&repo, &snap, &opts, progress).await, None)
        };
        let done = done.context("restore")?;
        Ok(json!({
            "open_secs": open_secs,
            "plan_secs": plan_secs,
            "internal_secs": done.duration.as_secs_f64(),
            "bytes_written": done.bytes_written,
            "bytes_fetched": done.bytes_fetched,
            "packs_read": done.packs_read,
            "window": window,
            "windows": done.windows,
            "largest_window": done.largest_window,
        }))
    })
}

/// Median of `xs` (not empty).
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// `open`: opens the repository `rounds` times and derives a key file's
/// wrapping key (Argon2id, the key file's own parameters) as often: the
/// fixed cost of a process, split into the KDF and the rest (issue 23:
/// `open` should cost the KDF plus at most 15 ms locally).
pub(crate) fn run_open(repo: &Path, erasure: bool, rounds: usize) -> Result<Value> {
    use futures::TryStreamExt;
    let backend = store(repo, erasure)?;
    let rounds = rounds.max(1);
    futures::executor::block_on(async {
        let mut opens = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            Repository::open(backend.clone(), PASSWORD.as_bytes()).await?;
            opens.push(t.elapsed().as_secs_f64());
        }
        // The key file the password opens, derived alone.
        let names: Vec<_> = backend
            .list("keys/")
            .map_ok(|m| m.key)
            .try_collect()
            .await?;
        let mut kdf = Vec::new();
        for name in names {
            let file = cairn_crypto::AnyKeyFile::from_bytes(&backend.get(&name).await?)?;
            let t = Instant::now();
            if file.open(PASSWORD.as_bytes()).is_err() {
                continue;
            }
            kdf.push(t.elapsed().as_secs_f64());
            for _ in 1..rounds {
                let t = Instant::now();
                let _ = file.open(PASSWORD.as_bytes());
                kdf.push(t.elapsed().as_secs_f64());
            }
            break;
        }
        if kdf.is_empty() {
            bail!("no key file under keys/ opens with the benchmark's password");
        }
        // The first of each is what a process pays (the CPU pool starts,
        // the KDF's memory is faulted in); the medians are the steady cost.
        let (first_open_secs, first_kdf_secs) = (opens[0], kdf[0]);
        let (open_secs, kdf_secs) = (median(opens), median(kdf));
        Ok(json!({
            "rounds": rounds,
            "first_open_secs": first_open_secs,
            "first_kdf_secs": first_kdf_secs,
            "open_secs": open_secs,
            "kdf_secs": kdf_secs,
            "rest_secs": open_secs - kdf_secs,
        }))
    })
}
