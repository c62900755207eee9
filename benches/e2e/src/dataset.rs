//! The data backed up: a generated mix, or a copy of a real directory, and
//! the "daily changes" applied between backups. Everything is seeded, so two
//! runs with the same options see the same bytes.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

const MIB: u64 = 1 << 20;

/// A small, fast, seeded generator (SplitMix64): reproducible data without
/// depending on a crate's stream staying the same across versions.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`; modulo bias is irrelevant here).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// Random (incompressible) bytes.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        for c in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
}

/// Source-like text: indented lines of identifiers, keywords and punctuation
/// drawn from a fixed vocabulary (zstd-3 compresses it roughly 3-4x, like code).
pub(crate) struct TextGen {
    words: Vec<String>,
}

impl TextGen {
    pub(crate) fn new() -> Self {
        let mut rng = Rng::new(7);
        let mut words: Vec<String> = [
            "fn", "let", "mut", "pub", "struct", "impl", "return", "match", "if", "else", "for",
            "in", "while", "use", "self", "Self", "Ok", "Err", "Some", "None", "u64", "usize",
            "&str", "String", "Vec", "Result", "=", "==", "+", "->", "=>", "{", "}", "(", ")", ";",
            ",", ".", "::", "0", "1", "true", "false",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for _ in 0..1500 {
            let len = 3 + rng.below(10) as usize;
            let w: String = (0..len)
                .map(|i| {
                    let c = (b'a' + rng.below(26) as u8) as char;
                    if i > 0 && rng.below(6) == 0 {
                        '_'
                    } else {
                        c
                    }
                })
                .collect();
            words.push(w);
        }
        TextGen { words }
    }

    /// One line of text (with its newline).
    pub(crate) fn line(&self, rng: &mut Rng, out: &mut Vec<u8>) {
        let indent = 4 * rng.below(4) as usize;
        out.extend(std::iter::repeat_n(b' ', indent));
        let n = 2 + rng.below(10);
        for i in 0..n {
            if i > 0 {
                out.push(b' ');
            }
            // Skewed choice: a few words are very common, as in real code.
            let r = rng.below(self.words.len() as u64);
            let idx = (r * r / self.words.len() as u64) as usize;
            out.extend_from_slice(self.words[idx].as_bytes());
        }
        out.push(b'\n');
    }

    /// About `size` bytes of text.
    pub(crate) fn text(&self, rng: &mut Rng, size: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(size + 128);
        while out.len() < size {
            self.line(rng, &mut out);
        }
        out
    }
}

pub(crate) fn write(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("mkdir {}", parent.display()))?;
    }
    fs::write(path, data).with_context(|| format!("write {}", path.display()))
}

/// Generates about `total` bytes under `root`: source-like text (20%, ~12 KiB
/// files in nested dirs), many small files, incompressible binaries (28%,
/// 1-7 MiB), a 4 KiB-page "database image" (25%) and a log (25%), plus
/// duplicated copies of some text files. ~5k files at 256 MiB.
pub(crate) fn generate(root: &Path, total: u64, seed: u64) -> Result<()> {
    let mut rng = Rng::new(seed);
    let text = TextGen::new();
    let scale = |share: f64| (total as f64 * share) as u64;

    // Source-like text.
    let mut written = 0u64;
    let mut n = 0u64;
    let mut texts = Vec::new();
    while written < scale(0.20) {
        let size = 512 + rng.below(24 << 10) as usize;
        let path = root.join(format!(
            "src/crate{:02}/mod{:02}/file{n:05}.rs",
            n % 37,
            (n / 37) % 13
        ));
        let data = text.text(&mut rng, size);
        written += data.len() as u64;
        write(&path, &data)?;
        texts.push(path);
        n += 1;
    }
    // Many small files (configs, metadata).
    for i in 0..(total / MIB * 4).max(10) {
        let size = 20 + rng.below(1500) as usize;
        let data = text.text(&mut rng, size);
        write(
            &root.join(format!("small/d{:02}/f{i:05}.cfg", i % 50)),
            &data,
        )?;
    }
    // Duplicates: vendored copies of some sources (dedup material).
    for (i, src) in texts.iter().step_by(50).enumerate() {
        let data = fs::read(src).with_context(|| format!("read {}", src.display()))?;
        write(&root.join(format!("vendor/copy{i:04}.rs")), &data)?;
    }
    // Incompressible binaries.
    written = 0;
    let mut i = 0;
    while written < scale(0.28) {
        let size = (MIB + rng.below(6 * MIB)) as usize;
        let mut data = vec![0u8; size];
        rng.fill(&mut data);
        write(&root.join(format!("bin/blob{i:03}.bin")), &data)?;
        written += size as u64;
        i += 1;
    }
    // A database image: 4 KiB pages, half rows of text, rest zero.
    let pages = (scale(0.25) / 4096).max(1);
    let mut db = Vec::with_capacity((pages * 4096) as usize);
    for p in 0..pages {
        db.extend_from_slice(&db_page(&text, &mut rng, p));
    }
    write(&root.join("big/db.img"), &db)?;
    drop(db);
    // A log.
    let mut log = Vec::with_capacity(scale(0.25) as usize);
    let mut t = 1_700_000_000u64;
    while (log.len() as u64) < scale(0.25) {
        log_line(&text, &mut rng, &mut t, &mut log);
    }
    write(&root.join("big/app.log"), &log)?;
    Ok(())
}

fn db_page(text: &TextGen, rng: &mut Rng, page: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(&page.to_le_bytes());
    let mut rand8 = [0u8; 8];
    rng.fill(&mut rand8);
    out.extend_from_slice(&rand8);
    let fill = 1024 + rng.below(2048) as usize;
    while out.len() < fill {
        text.line(rng, &mut out);
    }
    out.resize(4096, 0);
    out
}

fn log_line(text: &TextGen, rng: &mut Rng, t: &mut u64, out: &mut Vec<u8>) {
    *t += rng.below(3);
    let level = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"][rng.below(6) as usize];
    let _ = write!(out, "{t} {level} req={:08x} ", rng.next_u64() as u32);
    text.line(rng, out);
}

/// Regular files under `root`, sorted, with their sizes.
pub(crate) fn list_files(root: &Path) -> Result<Vec<(PathBuf, u64)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).with_context(|| format!("read dir {}", dir.display()))? {
            let e = e.with_context(|| format!("read dir {}", dir.display()))?;
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push((e.path(), e.metadata()?.len()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Copies regular files and directories (no symlinks or specials) from `src`
/// to `dst`, in sorted order, until `cap` bytes are copied.
pub(crate) fn copy_capped(src: &Path, dst: &Path, cap: u64) -> Result<()> {
    let mut copied = 0u64;
    for (path, size) in list_files(src)? {
        if copied + size > cap {
            continue;
        }
        let rel = path.strip_prefix(src)?;
        let to = dst.join(rel);
        if let Some(p) = to.parent() {
            fs::create_dir_all(p)?;
        }
        // Unreadable files are skipped, as a backup tool would warn and skip.
        if fs::copy(&path, &to).is_ok() {
            copied += size;
        }
    }
    Ok(())
}

/// One day of changes: 2% of files edited (a few lines inserted in text, a
/// 4 KiB block overwritten in binary), 20 files added, 10 deleted; for the
/// generated set also a log append, 200 database pages rewritten in place and
/// one binary replaced.
pub(crate) fn mutate(root: &Path, day: u64) -> Result<()> {
    let mut rng = Rng::new(1000 + day);
    let text = TextGen::new();
    let files = list_files(root)?;
    let mut small: Vec<&(PathBuf, u64)> = files.iter().filter(|(_, s)| *s < (1 << 20)).collect();
    for _ in 0..(files.len() / 50).max(1) {
        if small.is_empty() {
            break;
        }
        let (path, _) = small.swap_remove(rng.below(small.len() as u64) as usize);
        let mut data = fs::read(path).with_context(|| format!("read {}", path.display()))?;
        if data.len() < 16 {
            data.extend_from_slice(b"changed\n");
        } else if data[..data.len().min(1024)].contains(&0) {
            let at = rng.below(data.len() as u64 - 8) as usize;
            let end = (at + 4096).min(data.len());
            rng.fill(&mut data[at..end]);
        } else {
            let at = rng.below(data.len() as u64) as usize;
            let mut lines = Vec::new();
            for _ in 0..3 {
                text.line(&mut rng, &mut lines);
            }
            data.splice(at..at, lines);
        }
        write(path, &data)?;
    }
    for i in 0..20 {
        let size = 200 + rng.below(16 << 10) as usize;
        let data = text.text(&mut rng, size);
        write(&root.join(format!("new/day{day:02}/file{i:02}.rs")), &data)?;
    }
    for _ in 0..10 {
        if small.is_empty() {
            break;
        }
        let (path, _) = small.swap_remove(rng.below(small.len() as u64) as usize);
        fs::remove_file(path).with_context(|| format!("remove {}", path.display()))?;
    }
    mutate_generated(root, &text, &mut rng)
}

fn mutate_generated(root: &Path, text: &TextGen, rng: &mut Rng) -> Result<()> {
    let log = root.join("big/app.log");
    if log.exists() {
        let mut add = Vec::new();
        let mut t = 1_800_000_000u64;
        while add.len() < (1 << 20) {
            log_line(text, rng, &mut t, &mut add);
        }
        let mut f = fs::OpenOptions::new().append(true).open(&log)?;
        f.write_all(&add)?;
    }
    let db = root.join("big/db.img");
    if let Ok(meta) = fs::metadata(&db) {
        let pages = meta.len() / 4096;
        let mut f = fs::OpenOptions::new().write(true).open(&db)?;
        for _ in 0..200 {
            let p = rng.below(pages);
            f.seek(SeekFrom::Start(p * 4096))?;
            f.write_all(&db_page(text, rng, p))?;
        }
    }
    let bins: Vec<(PathBuf, u64)> = list_files(&root.join("bin")).unwrap_or_default();
    if !bins.is_empty() {
        let (path, size) = &bins[rng.below(bins.len() as u64) as usize];
        let mut data = vec![0u8; *size as usize];
        rng.fill(&mut data);
        write(path, &data)?;
    }
    Ok(())
}

/// Reads every file once so timed steps start with a warm page cache.
/// Returns (files, bytes).
pub(crate) fn warm(root: &Path) -> Result<(u64, u64)> {
    let files = list_files(root)?;
    let mut bytes = 0;
    let mut buf = vec![0u8; 1 << 20];
    for (path, _) in &files {
        let mut f = fs::File::open(path)?;
        loop {
            let n = std::io::Read::read(&mut f, &mut buf)?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
        }
    }
    Ok((files.len() as u64, bytes))
}

/// Apparent size of everything under `root` (like `du -sb`).
pub(crate) fn du(root: &Path) -> Result<u64> {
    Ok(list_files(root)?.iter().map(|(_, s)| s).sum())
}

/// Compares the restored tree `restored` with `src` file by file (BLAKE3 of
/// contents); returns a description of the first few differences.
pub(crate) fn compare(src: &Path, restored: &Path) -> Result<Vec<String>> {
    let a = list_files(src)?;
    let b = list_files(restored)?;
    let mut diffs = Vec::new();
    if a.len() != b.len() {
        diffs.push(format!("{} files in source, {} restored", a.len(), b.len()));
    }
    for (path, _) in &a {
        let rel = path.strip_prefix(src)?;
        let other = restored.join(rel);
        let same = match (fs::read(path), fs::read(&other)) {
            (Ok(x), Ok(y)) => blake3::hash(&x) == blake3::hash(&y),
            _ => false,
        };
        if !same && diffs.len() < 5 {
            diffs.push(format!("{} differs or is missing", rel.display()));
        }
    }
    Ok(diffs)
}
