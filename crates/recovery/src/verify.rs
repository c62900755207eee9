//! Verifying a restore: compare what is on disk with the snapshot.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_cas_core::{ChunkHasher, NodeKind, Repository, Snapshot};
use serde::Serialize;

use crate::plan::{plan_restore, PlannedEntry, RestoreOptions};
use crate::Result;

/// What [`verify`] found.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VerifyReport {
    /// Files compared.
    pub files_checked: u64,
    /// Bytes compared.
    pub bytes_checked: u64,
    /// Directories and symlinks compared.
    pub others_checked: u64,
    /// Every difference, each naming the path.
    pub mismatches: Vec<Mismatch>,
}

/// One difference between the target and the snapshot. Serialized with a
/// `kind` tag in snake case (`{"kind": "size", "path": …, "found": 3,
/// "expected": 5}`); `Display` gives the one-line message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mismatch {
    /// The path could not be read (missing, or an I/O error).
    Unreadable {
        /// The path.
        path: PathBuf,
        /// The error.
        reason: String,
    },
    /// A directory of the snapshot is not a directory in the target.
    DirectoryMissing {
        /// The path.
        path: PathBuf,
    },
    /// A symlink points elsewhere.
    LinkTarget {
        /// The path.
        path: PathBuf,
        /// Where it points in the target.
        found: PathBuf,
    },
    /// A file has another size.
    Size {
        /// The path.
        path: PathBuf,
        /// Its size in the target.
        found: u64,
        /// Its size in the snapshot.
        expected: u64,
    },
    /// A file has other permission bits.
    Mode {
        /// The path.
        path: PathBuf,
        /// Its mode in the target (`0o7777` bits).
        found: u32,
        /// Its mode in the snapshot.
        expected: u32,
    },
    /// A file's contents differ, first at this chunk.
    Contents {
        /// The path.
        path: PathBuf,
        /// The first chunk (0-based) that differs or could not be read.
        chunk: usize,
    },
}

impl Mismatch {
    /// The path concerned.
    pub fn path(&self) -> &Path {
        match self {
            Mismatch::Unreadable { path, .. }
            | Mismatch::DirectoryMissing { path }
            | Mismatch::LinkTarget { path, .. }
            | Mismatch::Size { path, .. }
            | Mismatch::Mode { path, .. }
            | Mismatch::Contents { path, .. } => path,
        }
    }
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = self.path().display();
        match self {
            Mismatch::Unreadable { reason, .. } => write!(f, "{p}: {reason}"),
            Mismatch::DirectoryMissing { .. } => write!(f, "{p}: directory missing"),
            Mismatch::LinkTarget { found, .. } => write!(f, "{p}: link target {}", found.display()),
            Mismatch::Size {
                found, expected, ..
            } => write!(f, "{p}: size {found} != {expected}"),
            Mismatch::Mode {
                found, expected, ..
            } => write!(f, "{p}: mode {found:o} != {expected:o}"),
            Mismatch::Contents { chunk, .. } => write!(f, "{p}: chunk {chunk} differs"),
        }
    }
}

impl VerifyReport {
    /// Whether everything matched.
    pub fn is_ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Checks that `target` holds `snapshot` (or its `include` paths) exactly:
/// every file's chunks hash to the snapshot's ids, sizes, modes and symlink
/// targets match.
pub async fn verify(
    repo: &Repository,
    snapshot: &Snapshot,
    target: &Path,
    include: &[PathBuf],
) -> Result<VerifyReport> {
    let mut opts = RestoreOptions::new(target);
    opts.include = include.to_vec();
    let plan = plan_restore(repo, snapshot, &opts).await?;
    let mut report = VerifyReport::default();
    for l in &plan.symlinks {
        report.others_checked += 1;
        let NodeKind::Symlink { target } = &l.node.kind else {
            continue;
        };
        match std::fs::read_link(&l.path) {
            Ok(t) if t.as_os_str() == OsStr::from_bytes(target) => {}
            Ok(found) => report.mismatches.push(Mismatch::LinkTarget {
                path: l.path.clone(),
                found,
            }),
            Err(e) => report.mismatches.push(Mismatch::Unreadable {
                path: l.path.clone(),
                reason: e.to_string(),
            }),
        }
    }
    for d in &plan.dirs {
        report.others_checked += 1;
        if !d.path.is_dir() {
            report.mismatches.push(Mismatch::DirectoryMissing {
                path: d.path.clone(),
            });
        }
    }
    let lengths: Vec<Vec<u32>> = plan
        .files
        .iter()
        .map(|f| match &f.node.kind {
            NodeKind::File { chunks } => repo
                .locate(chunks)
                .into_iter()
                .map(|l| l.map_or(0, |l| l.entry.raw_length))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    let files = Arc::new(plan.files);
    let hasher = repo.chunk_hasher();
    let results = futures::future::join_all((0..files.len()).map(|i| {
        let (files, hasher, lens) = (files.clone(), hasher.clone(), lengths[i].clone());
        repo.spawn_blocking(move || verify_file(&hasher, &files[i], &lens))
    }))
    .await;
    for (f, r) in files.iter().zip(results) {
        report.files_checked += 1;
        report.bytes_checked += f.node.size;
        match r {
            Ok(Ok(())) => {}
            Ok(Err(m)) => report.mismatches.push(m),
            Err(e) => report.mismatches.push(Mismatch::Unreadable {
                path: f.path.clone(),
                reason: e.to_string(),
            }),
        }
    }
    Ok(report)
}

fn verify_file(
    hasher: &ChunkHasher,
    f: &PlannedEntry,
    lengths: &[u32],
) -> std::result::Result<(), Mismatch> {
    let NodeKind::File { chunks } = &f.node.kind else {
        return Ok(());
    };
    let path = || f.path.clone();
    let unreadable = |e: std::io::Error| Mismatch::Unreadable {
        path: path(),
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(&f.path).map_err(unreadable)?;
    if meta.len() != f.node.size {
        return Err(Mismatch::Size {
            path: path(),
            found: meta.len(),
            expected: f.node.size,
        });
    }
    // A file whose owner was not restored has no set-id bits (restore drops
    // them there on purpose): expect what the restore gives it.
    use std::os::unix::fs::MetadataExt;
    let owner_restored = meta.uid() == f.node.uid && meta.gid() == f.node.gid;
    let expected = crate::meta::restored_mode(&f.node, owner_restored);
    if meta.permissions().mode() & 0o7777 != expected {
        return Err(Mismatch::Mode {
            path: path(),
            found: meta.permissions().mode() & 0o7777,
            expected,
        });
    }
    let mut file = std::fs::File::open(&f.path).map_err(unreadable)?;
    let mut buf = Vec::new();
    for (n, (id, &len)) in chunks.iter().zip(lengths).enumerate() {
        buf.resize(len as usize, 0);
        // A short read means the file changed size since `metadata`.
        let same = file.read_exact(&mut buf).is_ok() && hasher.matches(&buf, id);
        if !same {
            return Err(Mismatch::Contents {
                path: path(),
                chunk: n,
            });
        }
    }
    Ok(())
}
