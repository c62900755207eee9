//! The file-system floor: walk the tree and read every file, with no
//! processing, on every core. No archiver can back a tree up faster than
//! this on this machine, so for trees of small files (where the kernel's
//! per-file costs dominate) "% of the limit" is measured against the floor
//! plus the in-memory pipeline, not the pipeline alone.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Result;
use serde_json::{json, Value};

#[derive(Default)]
struct Counts {
    files: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
}

/// Reads one directory: subdirectories become tasks of their own, the
/// files are read here (a directory is a natural batch of small files).
fn visit<'s>(s: &rayon::Scope<'s>, dir: PathBuf, c: &'s Counts) {
    let Ok(entries) = fs::read_dir(&dir) else {
        c.errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let mut buf = vec![0u8; 64 << 10];
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            s.spawn(move |s| visit(s, e.path(), c));
        } else if ft.is_file() {
            match read_all(&e.path(), &mut buf) {
                Ok(n) => {
                    c.files.fetch_add(1, Ordering::Relaxed);
                    c.bytes.fetch_add(n, Ordering::Relaxed);
                }
                Err(_) => {
                    c.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// What a backup must do per file at the least: open, learn its
/// metadata (one `statx`), read it to the end.
fn read_all(path: &Path, buf: &mut [u8]) -> std::io::Result<u64> {
    let mut f = File::open(path)?;
    let _meta = f.metadata()?;
    let mut n = 0u64;
    loop {
        let r = f.read(buf)?;
        if r == 0 {
            return Ok(n);
        }
        n += r as u64;
    }
}

/// What an unchanged re-backup must do per entry at the least: learn its
/// metadata without following links (one `statx`), no open, no read.
fn stat_visit<'s>(s: &rayon::Scope<'s>, dir: PathBuf, c: &'s Counts) {
    let Ok(entries) = fs::read_dir(&dir) else {
        c.errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    for e in entries.flatten() {
        match fs::symlink_metadata(e.path()) {
            Ok(m) if m.is_dir() => s.spawn(move |s| stat_visit(s, e.path(), c)),
            Ok(m) => {
                c.files.fetch_add(1, Ordering::Relaxed);
                c.bytes.fetch_add(m.len(), Ordering::Relaxed);
            }
            Err(_) => {
                c.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

type Visit = for<'s> fn(&rayon::Scope<'s>, PathBuf, &'s Counts);

fn once(src: &Path, visit: Visit) -> (f64, u64, u64, u64) {
    let c = Counts::default();
    let t = Instant::now();
    rayon::scope(|s| visit(s, src.to_owned(), &c));
    (
        t.elapsed().as_secs_f64(),
        c.files.into_inner(),
        c.bytes.into_inner(),
        c.errors.into_inner(),
    )
}

/// The fastest of three passes of `visit` over `src`: (seconds, every
/// pass, and the counts of the last).
fn best_of_three(src: &Path, visit: Visit) -> (f64, Vec<f64>, (u64, u64, u64)) {
    let mut runs = Vec::new();
    let mut last = (0, 0, 0);
    for _ in 0..3 {
        let (secs, files, bytes, errors) = once(src, visit);
        runs.push(secs);
        last = (files, bytes, errors);
    }
    (
        runs.iter().copied().fold(f64::INFINITY, f64::min),
        runs,
        last,
    )
}

/// The floor over `src`, warm page cache: the fastest of three passes; and
/// the metadata floor (`stat_secs`: walk and `statx` every entry, the
/// least an unchanged re-backup does), likewise.
pub(crate) fn run(src: &Path) -> Result<Value> {
    let (best, runs, last) = best_of_three(src, visit);
    let (stat_best, stat_runs, _) = best_of_three(src, stat_visit);
    Ok(json!({
        "stat_secs": stat_best,
        "stat_runs": stat_runs,
        "secs": best,
        "runs": runs,
        "files": last.0,
        "bytes": last.1,
        "errors": last.2,
        "threads": rayon::current_num_threads(),
        "mb_per_s": last.1 as f64 / best.max(1e-9) / 1e6,
        "files_per_s": last.0 as f64 / best.max(1e-9),
    }))
}
