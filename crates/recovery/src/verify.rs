//! Verifying a restore: compare what is on disk with the snapshot.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_cas_core::{cpu, NodeKind, Repository, Snapshot};
use cairn_crypto::KeySet;

use crate::plan::{plan_restore, PlannedEntry, RestoreOptions};
use crate::Result;

/// What [`verify`] found.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Files compared.
    pub files_checked: u64,
    /// Bytes compared.
    pub bytes_checked: u64,
    /// Directories and symlinks compared.
    pub others_checked: u64,
    /// Every difference, one line each, naming the path.
    pub mismatches: Vec<String>,
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
            Ok(t) => {
                report
                    .mismatches
                    .push(format!("{}: link target {}", l.path.display(), t.display()))
            }
            Err(e) => report.mismatches.push(format!("{}: {e}", l.path.display())),
        }
    }
    for d in &plan.dirs {
        report.others_checked += 1;
        if !d.path.is_dir() {
            report
                .mismatches
                .push(format!("{}: directory missing", d.path.display()));
        }
    }
    let lengths: Vec<Vec<u32>> = {
        let index = repo.index();
        plan.files
            .iter()
            .map(|f| match &f.node.kind {
                NodeKind::File { chunks } => chunks
                    .iter()
                    .map(|c| index.get(c).map_or(0, |l| l.entry.raw_length))
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    };
    let files = Arc::new(plan.files);
    let keys = repo.keys().clone();
    let results = futures::future::join_all((0..files.len()).map(|i| {
        let (files, keys, lens) = (files.clone(), keys.clone(), lengths[i].clone());
        cpu::spawn(move || verify_file(&keys, &files[i], &lens))
    }))
    .await;
    for (f, r) in files.iter().zip(results) {
        report.files_checked += 1;
        report.bytes_checked += f.node.size;
        match r {
            Ok(Ok(())) => {}
            Ok(Err(m)) => report.mismatches.push(format!("{}: {m}", f.path.display())),
            Err(e) => report.mismatches.push(format!("{}: {e}", f.path.display())),
        }
    }
    Ok(report)
}

fn verify_file(
    keys: &KeySet,
    f: &PlannedEntry,
    lengths: &[u32],
) -> std::result::Result<(), String> {
    let NodeKind::File { chunks } = &f.node.kind else {
        return Ok(());
    };
    let meta = std::fs::metadata(&f.path).map_err(|e| e.to_string())?;
    if meta.len() != f.node.size {
        return Err(format!("size {} != {}", meta.len(), f.node.size));
    }
    if meta.permissions().mode() & 0o7777 != f.node.mode & 0o7777 {
        return Err(format!(
            "mode {:o} != {:o}",
            meta.permissions().mode() & 0o7777,
            f.node.mode & 0o7777
        ));
    }
    let mut file = std::fs::File::open(&f.path).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    for (n, (id, &len)) in chunks.iter().zip(lengths).enumerate() {
        buf.resize(len as usize, 0);
        file.read_exact(&mut buf)
            .map_err(|e| format!("chunk {n}: {e}"))?;
        if keys.chunk_id_key().id(&buf) != *id {
            return Err(format!("chunk {n} differs"));
        }
    }
    Ok(())
}
