//! The machine's pipeline ceiling: the same bytes, already in memory, through
//! chunk -> keyed BLAKE3 -> zstd-3 -> AES-256-GCM seal on every core, with no
//! file system, dedup lookups, packing or storage. Cairn's backup speed read
//! as a fraction of this says how much the rest of the archiver costs.

use std::cell::RefCell;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use cairn_chunking::{cut_points, ChunkerConfig};
use cairn_crypto::{ChunkIdKey, KeySet, MasterKey, SealingKey};
use rayon::prelude::*;
use serde_json::{json, Value};

use crate::dataset::list_files;

thread_local! {
    static ZSTD: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

fn compress(data: &[u8]) -> Option<Vec<u8>> {
    ZSTD.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = zstd::bulk::Compressor::new(3).ok();
        }
        slot.as_mut()?.compress(data).ok()
    })
}

/// Chunks, ids, compresses and seals one file; returns the sealed bytes.
fn pipeline(cfg: &ChunkerConfig, idk: &ChunkIdKey, seal: &SealingKey, data: &[u8]) -> u64 {
    let mut out = Vec::new();
    let mut stored = 0u64;
    for (off, len) in cut_points(cfg, data) {
        let chunk = &data[off..off + len];
        let id = idk.id(chunk);
        let packed = compress(chunk).filter(|c| c.len() < chunk.len());
        let body = packed.as_deref().unwrap_or(chunk);
        out.clear();
        if seal.seal_into(body, id.as_bytes(), &mut out).is_ok() {
            stored += out.len() as u64;
        }
    }
    stored
}

fn rate(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs.max(1e-9) / 1e6
}

/// Measures the ceiling over the files under `src`; prints per-stage
/// single-core rates too, to show which stage bounds the pipeline.
pub(crate) fn run(src: &Path) -> Result<Value> {
    let mut files: Vec<Vec<u8>> = Vec::new();
    for (path, _) in list_files(src)? {
        files.push(std::fs::read(&path).with_context(|| format!("read {}", path.display()))?);
    }
    // Largest first, so the big files do not end up alone on one core last.
    files.sort_by_key(|f| std::cmp::Reverse(f.len()));
    let total: u64 = files.iter().map(|f| f.len() as u64).sum();
    let keys = KeySet::derive(&MasterKey::generate()?);
    let cfg = ChunkerConfig::default();
    let (idk, seal) = (keys.chunk_id_key(), keys.data_key());

    // Single-core stages over all the bytes.
    let t = Instant::now();
    let mut chunks = Vec::new();
    for f in &files {
        chunks.push(cut_points(&cfg, f).collect::<Vec<_>>());
    }
    let chunk_rate = rate(total, t.elapsed().as_secs_f64());
    let n_chunks: usize = chunks.iter().map(Vec::len).sum();

    let t = Instant::now();
    let mut x = 0u8;
    for (f, cs) in files.iter().zip(&chunks) {
        for &(o, l) in cs {
            x ^= idk.id(&f[o..o + l]).as_bytes()[0];
        }
    }
    let hash_rate = rate(total, t.elapsed().as_secs_f64());

    let t = Instant::now();
    let mut compressed = 0u64;
    for (f, cs) in files.iter().zip(&chunks) {
        for &(o, l) in cs {
            compressed += compress(&f[o..o + l]).map_or(l, |c| c.len().min(l)) as u64;
        }
    }
    let zstd_rate = rate(total, t.elapsed().as_secs_f64());

    let t = Instant::now();
    let mut out = Vec::new();
    for (f, cs) in files.iter().zip(&chunks) {
        for &(o, l) in cs {
            out.clear();
            seal.seal_into(&f[o..o + l], &[x], &mut out)?;
        }
    }
    let seal_rate = rate(total, t.elapsed().as_secs_f64());
    drop(chunks);

    // The whole pipeline on every core.
    let threads = rayon::current_num_threads();
    let t = Instant::now();
    let stored: u64 = files.par_iter().map(|f| pipeline(&cfg, idk, seal, f)).sum();
    let secs = t.elapsed().as_secs_f64();
    Ok(json!({
        "bytes": total,
        "files": files.len(),
        "chunks": n_chunks,
        "threads": threads,
        "secs": secs,
        "mb_per_s": rate(total, secs),
        "stored_bytes": stored,
        "zstd3_ratio": total as f64 / compressed.max(1) as f64,
        "single_core_mb_per_s": {
            "chunk": chunk_rate,
            "keyed_blake3": hash_rate,
            "zstd3": zstd_rate,
            "aes_gcm_seal": seal_rate,
        },
    }))
}
