//! The demo's sample tree: seeded, so every run backs up the same bytes.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

const MIB: usize = 1 << 20;

const WORDS: &[&str] = &[
    "let",
    "mut",
    "fn",
    "impl",
    "struct",
    "self",
    "return",
    "match",
    "Some",
    "None",
    "Ok",
    "Err",
    "async",
    "await",
    "pub",
    "use",
    "crate",
    "backup",
    "restore",
    "chunk",
    "pack",
    "index",
    "tree",
    "snapshot",
    "blob",
    "repository",
    "backend",
    "shard",
    "parity",
    "stream",
    "buffer",
    "offset",
    "length",
    "hash",
    "key",
    "nonce",
    "seal",
    "open",
    "error",
    "result",
    "config",
    "options",
    "the",
    "a",
    "of",
    "to",
    "and",
    "is",
    "in",
];

/// What the generator made, for the report.
#[derive(Debug, Default)]
pub(crate) struct Generated {
    /// A text file the second backup appends to.
    pub(crate) text_file: PathBuf,
    /// The large file whose middle the second backup overwrites.
    pub(crate) large_file: PathBuf,
    /// A small file the second backup no longer has.
    pub(crate) doomed_file: PathBuf,
    /// The size of the large file.
    pub(crate) large_bytes: u64,
    /// How many small files.
    pub(crate) small_files: usize,
}

fn write(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(path, data).with_context(|| format!("writing {}", path.display()))
}

/// Source-like lines until `out` holds `len` more bytes.
fn text(rng: &mut StdRng, len: usize, out: &mut Vec<u8>) {
    let end = out.len() + len;
    let mut n = 0u32;
    while out.len() < end {
        let indent = rng.random_range(0..4usize) * 4;
        out.extend(std::iter::repeat_n(b' ', indent));
        let words = rng.random_range(2..10);
        for w in 0..words {
            if w > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(WORDS[rng.random_range(0..WORDS.len())].as_bytes());
        }
        if rng.random_bool(0.3) {
            n += 1;
            out.extend_from_slice(format!("({n}, {});", rng.random_range(0..65536u32)).as_bytes());
        }
        out.push(b'\n');
    }
    out.truncate(end);
}

fn random(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

/// Generates about `size_mib` MiB under `root`.
pub(crate) fn generate(root: &Path, size_mib: usize, seed: u64) -> Result<Generated> {
    let mut rng = StdRng::seed_from_u64(seed);
    let total = size_mib.max(4) * MIB;
    let mut g = Generated::default();

    // Half of it: one disk-image-like file of 1 MiB blocks, some random,
    // some zero, some text (partly compressible, like real images).
    let large = total / 2;
    let mut image = Vec::with_capacity(large);
    while image.len() < large {
        let block = MIB.min(large - image.len());
        match rng.random_range(0..10) {
            0..=3 => image.extend_from_slice(&random(&mut rng, block)),
            4..=5 => image.resize(image.len() + block, 0),
            _ => text(&mut rng, block, &mut image),
        }
    }
    g.large_file = root.join("images/disk.img");
    g.large_bytes = image.len() as u64;
    write(&g.large_file, &image)?;
    drop(image);

    // An eighth: incompressible binaries.
    let per = total / 8 / 4;
    for i in 0..4 {
        write(
            &root.join(format!("assets/blob-{i}.bin")),
            &random(&mut rng, per),
        )?;
    }

    // A quarter: source files in nested modules.
    let mut budget = total / 4;
    let mut i = 0;
    while budget > 0 {
        let len = rng.random_range(2048..64 * 1024).min(budget);
        let mut buf = Vec::with_capacity(len);
        text(&mut rng, len, &mut buf);
        let ext = if i % 5 == 0 { "md" } else { "rs" };
        let path = root.join(format!("src/mod_{:02}/file_{i:04}.{ext}", i % 17));
        write(&path, &buf)?;
        if i == 0 {
            g.text_file = path;
        }
        budget -= len;
        i += 1;
    }

    // Many small files (0-4 KiB) in nested directories.
    g.small_files = (size_mib * 16).clamp(64, 2000);
    for i in 0..g.small_files {
        let len = rng.random_range(0..=4096);
        let data = if i % 3 == 0 {
            random(&mut rng, len)
        } else {
            let mut v = Vec::with_capacity(len);
            text(&mut rng, len, &mut v);
            v
        };
        let path = root.join(format!("small/d{:02}/e{}/f{i:05}.dat", i % 20, i % 5));
        write(&path, &data)?;
        if i == 7 {
            g.doomed_file = path;
        }
    }

    // The rest: a repetitive log (compresses very well).
    let used = large + per * 4 + total / 4 + g.small_files * 2048;
    let log_len = total.saturating_sub(used).max(64 * 1024);
    let mut log = Vec::with_capacity(log_len);
    let mut t = 0u64;
    while log.len() < log_len {
        t += rng.random_range(1..1000);
        let level = ["INFO", "INFO", "INFO", "WARN", "DEBUG"][rng.random_range(0..5)];
        log.extend_from_slice(
            format!(
                "2026-11-25T12:{:02}:{:02}.{:03}Z {level} backup: pack {} uploaded in {} ms\n",
                t / 60_000 % 60,
                t / 1000 % 60,
                t % 1000,
                rng.random_range(0..100_000u32),
                rng.random_range(1..500u32)
            )
            .as_bytes(),
        );
    }
    log.truncate(log_len);
    write(&root.join("logs/app.log"), &log)?;

    // Edge cases: empty files and dirs, unicode names, modes, symlinks.
    for i in 0..5 {
        write(&root.join(format!("empty/zero-{i}")), b"")?;
    }
    fs::create_dir_all(root.join("empty/nothing-here"))?;
    write(
        &root.join("docs/données/été.txt"),
        "L'été dernier, les données.\n".as_bytes(),
    )?;
    write(
        &root.join("docs/日本語.md"),
        "# バックアップ\n復元できます。\n".as_bytes(),
    )?;
    write(
        &root.join("docs/emoji-🦀.rs"),
        "fn main() { println!(\"🦀\"); }\n".as_bytes(),
    )?;
    write(
        &root.join("README.md"),
        b"# Sample project\n\nGenerated by `cairn demo`.\n",
    )?;
    let script = root.join("bin/run.sh");
    write(&script, b"#!/bin/sh\necho hello from the restored tree\n")?;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755))?;
    let secret = root.join("secret.key");
    write(&secret, &random(&mut rng, 64))?;
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600))?;
    fs::create_dir_all(root.join("links"))?;
    std::os::unix::fs::symlink("../README.md", root.join("links/readme"))?;
    std::os::unix::fs::symlink("../src", root.join("links/src-dir"))?;
    std::os::unix::fs::symlink("/nonexistent/target", root.join("links/dangling"))?;
    Ok(g)
}

/// The second backup's changes; returns a description of each.
pub(crate) fn change(root: &Path, g: &Generated, seed: u64) -> Result<Vec<String>> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let mut done = Vec::new();

    let mut more = Vec::new();
    text(&mut rng, 10 * 1024, &mut more);
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(&g.text_file)
        .with_context(|| format!("appending to {}", g.text_file.display()))?;
    f.write_all(&more)?;
    done.push(format!("appended 10 KiB to {}", rel(&g.text_file)));

    let block = (MIB as u64).min(g.large_bytes / 4);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(&g.large_file)
        .with_context(|| format!("opening {}", g.large_file.display()))?;
    f.seek(SeekFrom::Start(g.large_bytes / 2))?;
    f.write_all(&random(&mut rng, block as usize))?;
    done.push(format!(
        "overwrote {} in the middle of {}",
        crate::ui::bytes(block),
        rel(&g.large_file)
    ));

    fs::remove_file(&g.doomed_file)
        .with_context(|| format!("deleting {}", g.doomed_file.display()))?;
    done.push(format!("deleted {}", rel(&g.doomed_file)));

    let mut notes = Vec::new();
    text(&mut rng, 50 * 1024, &mut notes);
    write(&root.join("docs/new-notes.md"), &notes)?;
    done.push("added docs/new-notes.md (50 KiB)".into());
    Ok(done)
}
