//! The issue-13 dataset shapes: many small files, and a versioned set of
//! large files edited in place. Both seeded, so two runs see the same bytes.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result};

use crate::dataset::{list_files, write, Rng, TextGen};

/// Smallest and largest file of the many-files set.
const MANY_MIN: f64 = 200.0;
const MANY_MAX: f64 = 16384.0;
/// The many-files set's seed (`run` and `step many-files` agree).
pub(crate) const MANY_SEED: u64 = 13;
/// Files per directory in the many-files set.
const PER_DIR: usize = 100;

/// A standard normal sample (Box–Muller).
fn normal(rng: &mut Rng) -> f64 {
    let u1 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * (u1.max(1e-300)).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// `n` files of source-like text, sizes log-normal (median 2 000 bytes,
/// σ = 0.9, so a mean near 3 KB as in the 300 000-file tree of
/// 880 MB) clipped to 200 B–16 KiB, 100 per directory, directories
/// grouped 100 to a parent (`g000/d00000/f00.rs`).
pub(crate) fn many_files(root: &Path, n: u64, seed: u64) -> Result<()> {
    let text = TextGen::new();
    let mut rng = Rng::new(seed);
    for i in 0..n as usize {
        let (d, f) = (i / PER_DIR, i % PER_DIR);
        if f == 0 {
            let dir = root.join(format!("g{:03}/d{d:05}", d / 100));
            fs::create_dir_all(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
        }
        let size = (2000.0 * (0.9 * normal(&mut rng)).exp()).clamp(MANY_MIN, MANY_MAX) as usize;
        let mut data = text.text(&mut rng, size);
        data.truncate(size);
        let path = root.join(format!("g{:03}/d{d:05}/f{f:02}.rs", d / 100));
        fs::write(&path, &data).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

/// Files and size of the versioned set.
const VERSIONED_FILES: usize = 40;
const VERSIONED_SIZE: usize = 5 << 20;

/// The versioned set's first version: 40 files of 5 MiB of random bytes
/// (VM images and databases: incompressible, edited in place).
pub(crate) fn versioned(root: &Path, seed: u64) -> Result<()> {
    let mut rng = Rng::new(seed);
    let mut data = vec![0u8; VERSIONED_SIZE];
    for i in 0..VERSIONED_FILES {
        rng.fill(&mut data);
        write(&root.join(format!("f{i:02}.img")), &data)?;
    }
    Ok(())
}

/// The next version: 6 random 4 KiB writes in every file, in place, so
/// the latest version reads scattered ranges of older packs.
pub(crate) fn versioned_edit(root: &Path, version: u64) -> Result<()> {
    let mut rng = Rng::new(5000 + version);
    let mut page = [0u8; 4096];
    for (path, size) in list_files(root)? {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .with_context(|| format!("open {}", path.display()))?;
        for _ in 0..6 {
            rng.fill(&mut page);
            f.seek(SeekFrom::Start(rng.below(size.saturating_sub(4096).max(1))))?;
            f.write_all(&page)?;
        }
    }
    Ok(())
}
