//! A record of a tree (contents hash, mode, mtime, link target per path), to
//! compare a restored tree with the source as it was at backup time — by
//! the CLI's own reading of the files, independent of the library's verify.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    File {
        hash: [u8; 32],
        size: u64,
        mtime: (i64, i64),
    },
    Dir,
    Symlink(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) kind: Kind,
    /// Permission bits.
    pub(crate) mode: u32,
}

/// Every path under a root (relative), with what it is.
#[derive(Debug, Default)]
pub(crate) struct Manifest {
    pub(crate) entries: BTreeMap<PathBuf, Entry>,
}

impl Manifest {
    pub(crate) fn of(root: &Path) -> Result<Manifest> {
        let mut m = Manifest::default();
        let mut stack = vec![root.to_owned()];
        while let Some(dir) = stack.pop() {
            let listing =
                fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?;
            for e in listing {
                let e = e.with_context(|| format!("listing {}", dir.display()))?;
                let path = e.path();
                let meta = fs::symlink_metadata(&path)
                    .with_context(|| format!("stat {}", path.display()))?;
                let kind = if meta.file_type().is_symlink() {
                    Kind::Symlink(fs::read_link(&path)?)
                } else if meta.is_dir() {
                    stack.push(path.clone());
                    Kind::Dir
                } else {
                    Kind::File {
                        hash: hash_file(&path)?,
                        size: meta.len(),
                        mtime: (meta.mtime(), meta.mtime_nsec()),
                    }
                };
                let rel = path.strip_prefix(root).unwrap_or(&path).to_owned();
                m.entries.insert(
                    rel,
                    Entry {
                        kind,
                        mode: meta.mode() & 0o7777,
                    },
                );
            }
        }
        Ok(m)
    }

    pub(crate) fn files(&self) -> usize {
        self.count(|k| matches!(k, Kind::File { .. }))
    }
    pub(crate) fn dirs(&self) -> usize {
        self.count(|k| matches!(k, Kind::Dir))
    }
    pub(crate) fn symlinks(&self) -> usize {
        self.count(|k| matches!(k, Kind::Symlink(_)))
    }
    pub(crate) fn bytes(&self) -> u64 {
        self.entries
            .values()
            .map(|e| match e.kind {
                Kind::File { size, .. } => size,
                _ => 0,
            })
            .sum()
    }
    fn count(&self, f: impl Fn(&Kind) -> bool) -> usize {
        self.entries.values().filter(|e| f(&e.kind)).count()
    }

    /// Differences from `expected`, one line each (symlink modes are not
    /// compared: Linux cannot set them).
    pub(crate) fn diff(&self, expected: &Manifest) -> Vec<String> {
        let mut out = Vec::new();
        for (p, want) in &expected.entries {
            match self.entries.get(p) {
                None => out.push(format!("{}: missing", p.display())),
                Some(got) if got.kind != want.kind => out.push(format!(
                    "{}: expected {:?}, found {:?}",
                    p.display(),
                    want.kind,
                    got.kind
                )),
                Some(got) if got.mode != want.mode && !matches!(want.kind, Kind::Symlink(_)) => out
                    .push(format!(
                        "{}: mode {:o}, expected {:o}",
                        p.display(),
                        got.mode,
                        want.mode
                    )),
                Some(_) => {}
            }
        }
        for p in self.entries.keys() {
            if !expected.entries.contains_key(p) {
                out.push(format!("{}: not in the source", p.display()));
            }
        }
        out
    }
}

fn hash_file(path: &Path) -> Result<[u8; 32]> {
    let mut f = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(*h.finalize().as_bytes())
}
