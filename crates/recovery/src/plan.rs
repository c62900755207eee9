//! Restore plans: what will be read from where and written to where, as a
//! value the caller can inspect (size, packs, an estimate) before executing.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_cas_core::{Node, NodeKind, PackEntry, PackId, Repository, Snapshot};
use cairn_crypto::ChunkId;

use crate::{Error, Result};

/// Settings for a restore.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Where to restore: a snapshot path `/data/x` lands at `target/data/x`.
    pub target: PathBuf,
    /// Snapshot paths to restore (with everything below them); empty: all.
    pub include: Vec<PathBuf>,
    /// Packs fetched and written at once.
    pub concurrency: usize,
    /// Restore file ownership (uid/gid). `None`: only when running as root.
    pub owners: Option<bool>,
}

impl RestoreOptions {
    /// Restore everything to `target`.
    pub fn new(target: impl Into<PathBuf>) -> Self {
        RestoreOptions {
            target: target.into(),
            include: Vec::new(),
            concurrency: 4,
            owners: None,
        }
    }
    /// Restores only `path` (a snapshot path such as `/data/x`) and below.
    pub fn include(mut self, path: impl Into<PathBuf>) -> Self {
        self.include.push(path.into());
        self
    }
    /// Sets how many packs are fetched at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
    /// Forces restoring ownership on or off.
    pub fn owners(mut self, on: bool) -> Self {
        self.owners = Some(on);
        self
    }
}

/// One file, directory or symlink to create.
#[derive(Debug, Clone)]
pub struct PlannedEntry {
    /// Where it goes.
    pub path: PathBuf,
    /// Its snapshot node (metadata, and contents for files).
    pub node: Node,
}

/// One blob to fetch, and where its bytes go.
#[derive(Debug, Clone)]
pub struct BlobRead {
    /// Where it is in its pack.
    pub entry: PackEntry,
    /// (file number in [`RestorePlan::files`], offset in that file).
    pub targets: Vec<(usize, u64)>,
}

/// The blobs needed from one pack, by offset.
#[derive(Debug, Clone)]
pub struct PackRead {
    /// The pack.
    pub pack: PackId,
    /// The blobs, sorted by offset.
    pub blobs: Vec<BlobRead>,
}

/// A restore, planned. Inspect it, then pass it to [`restore`](crate::restore).
#[derive(Debug, Clone, Default)]
pub struct RestorePlan {
    /// Directories, parents before children.
    pub dirs: Vec<PlannedEntry>,
    /// Regular files.
    pub files: Vec<PlannedEntry>,
    /// Symbolic links.
    pub symlinks: Vec<PlannedEntry>,
    /// What to read, grouped by pack.
    pub packs: Vec<PackRead>,
    /// Files that cannot be restored whole: (file number in
    /// [`files`](Self::files), the first of its blobs in no index). The
    /// restore writes every other file and then reports these.
    pub missing: Vec<(usize, ChunkId)>,
}

impl RestorePlan {
    /// Bytes of file contents to write.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.node.size).sum()
    }
    /// Bytes of blobs to fetch (each distinct blob once).
    pub fn fetch_bytes(&self) -> u64 {
        self.packs
            .iter()
            .flat_map(|p| &p.blobs)
            .map(|b| u64::from(b.entry.length))
            .sum()
    }
    /// Number of distinct blobs to fetch.
    pub fn blobs(&self) -> usize {
        self.packs.iter().map(|p| p.blobs.len()).sum()
    }
    /// A time estimate at `bytes_per_sec` of fetch throughput.
    pub fn estimate(&self, bytes_per_sec: f64) -> Duration {
        Duration::from_secs_f64(self.fetch_bytes() as f64 / bytes_per_sec.max(1.0))
    }
}

/// Whether the snapshot path `p` is to be restored: on the way to, or under,
/// an include path. Returns (wanted, fully_included).
fn wanted(p: &Path, include: &[PathBuf]) -> (bool, bool) {
    if include.is_empty() {
        return (true, true);
    }
    let full = include.iter().any(|i| p.starts_with(i));
    (full || include.iter().any(|i| i.starts_with(p)), full)
}

/// Plans the restore of `snapshot` as `opts` says.
pub async fn plan_restore(
    repo: &Repository,
    snapshot: &Snapshot,
    opts: &RestoreOptions,
) -> Result<RestorePlan> {
    let include: Vec<PathBuf> = opts
        .include
        .iter()
        .map(|p| Path::new("/").join(p))
        .collect();
    let mut plan = RestorePlan::default();
    let mut found = vec![false; include.len()];
    // (snapshot path, tree id), depth first.
    let mut stack = vec![(PathBuf::from("/"), snapshot.tree_id()?)];
    while let Some((dir, tree_id)) = stack.pop() {
        let tree = repo.load_tree(&tree_id).await?;
        for node in tree.nodes {
            let snap_path = dir.join(OsStr::from_bytes(&node.name));
            let (want, full) = wanted(&snap_path, &include);
            if !want {
                continue;
            }
            for (i, inc) in include.iter().enumerate() {
                if &snap_path == inc {
                    found[i] = true;
                }
            }
            let path = opts
                .target
                .join(snap_path.strip_prefix("/").unwrap_or(&snap_path));
            match &node.kind {
                NodeKind::Dir { subtree } => {
                    stack.push((snap_path, *subtree));
                    plan.dirs.push(PlannedEntry { path, node });
                }
                NodeKind::File { .. } if full => plan.files.push(PlannedEntry { path, node }),
                NodeKind::Symlink { .. } if full => plan.symlinks.push(PlannedEntry { path, node }),
                _ => {}
            }
        }
    }
    if let Some(i) = found.iter().position(|f| !f) {
        return Err(Error::NotInSnapshot {
            path: include[i].clone(),
        });
    }
    plan.dirs.sort_by(|a, b| a.path.cmp(&b.path));
    (plan.packs, plan.missing) = group_blobs(repo, &plan.files);
    Ok(plan)
}

/// Groups the blobs of `files` by pack; files with a blob in no index are
/// returned apart (none of their blobs is read).
fn group_blobs(
    repo: &Repository,
    files: &[PlannedEntry],
) -> (Vec<PackRead>, Vec<(usize, ChunkId)>) {
    let index = repo.index();
    let mut blobs: HashMap<ChunkId, (PackId, BlobRead)> = HashMap::new();
    let mut missing = Vec::new();
    for (n, f) in files.iter().enumerate() {
        let NodeKind::File { chunks } = &f.node.kind else {
            continue;
        };
        if let Some(id) = chunks.iter().find(|id| !index.contains(id)) {
            missing.push((n, *id));
            continue;
        }
        let mut offset = 0u64;
        for id in chunks {
            let Some(loc) = index.get(id) else { continue };
            blobs
                .entry(*id)
                .or_insert_with(|| {
                    (
                        loc.pack,
                        BlobRead {
                            entry: loc.entry,
                            targets: Vec::new(),
                        },
                    )
                })
                .1
                .targets
                .push((n, offset));
            offset += u64::from(loc.entry.raw_length);
        }
    }
    let mut packs: HashMap<PackId, Vec<BlobRead>> = HashMap::new();
    for (_, (pack, read)) in blobs {
        packs.entry(pack).or_default().push(read);
    }
    let mut out: Vec<PackRead> = packs
        .into_iter()
        .map(|(pack, mut blobs)| {
            blobs.sort_by_key(|b| b.entry.offset);
            PackRead { pack, blobs }
        })
        .collect();
    out.sort_by_key(|p| p.pack);
    (out, missing)
}
