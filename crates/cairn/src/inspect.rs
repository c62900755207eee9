//! Reading snapshots on the facade: diff, find, walking a snapshot's tree,
//! statistics.

use std::path::{Path, PathBuf};

use crate::cas::prune::PrunePlan;
use crate::cas::{Diff, EpochReport, Match, Node, NodeKind, Patterns, Snapshot};
use cairn_crypto::ChunkId;
use futures::TryStreamExt;

use crate::metrics::timed;
use crate::{Repository, Result};

/// What [`Repository::stats`] counted over the whole repository.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct RepositoryStats {
    /// Snapshots (readable records).
    pub snapshots: usize,
    /// Packs in the index.
    pub packs: usize,
    /// Blobs in the index.
    pub blobs: usize,
    /// Bytes of the index held in memory.
    pub index_resident_bytes: usize,
    /// Bytes stored under `data/` (packs).
    pub pack_bytes: u64,
    /// Bytes of every object in the storage (the whole repository, also
    /// from a tenant's view).
    pub repository_bytes: u64,
    /// The sum of the snapshots' sizes.
    pub snapshots_total_size: u64,
    /// What a prune with default options would do (read-only: its plan).
    pub reclaimable: PrunePlan,
    /// Bytes stored under each key epoch.
    pub epochs: EpochReport,
}

/// What [`Repository::snapshot_stats`] counted in one snapshot.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// Regular files.
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// The files' total size.
    pub bytes: u64,
}

impl Repository {
    /// What was added, removed and modified (content, metadata) from
    /// snapshot `a` to `b`. Operation `diff`.
    pub async fn diff(&self, a: &Snapshot, b: &Snapshot) -> Result<Diff> {
        let run = crate::cas::diff_snapshots(&self.inner, a, b);
        timed("diff", tracing::info_span!("cairn.diff"), run).await
    }

    /// Every path in every snapshot that matches `patterns` (the language
    /// of backup excludes), oldest snapshot first. Operation `find`.
    pub async fn find(&self, patterns: &Patterns) -> Result<Vec<Match>> {
        let run = crate::cas::find(&self.inner, patterns);
        timed("find", tracing::info_span!("cairn.find"), run).await
    }

    /// Visits every node of `snapshot`, depth first in name order (a
    /// directory's contents follow it), with its absolute path. Trees are
    /// loaded one at a time: memory follows the depth, not the size.
    pub async fn walk<F>(&self, snapshot: &Snapshot, mut visit: F) -> Result<()>
    where
        F: FnMut(&Path, &Node),
    {
        let root = snapshot.tree.chunk_id();
        let run = async {
            let mut stack: Vec<(PathBuf, ChunkId)> = vec![(PathBuf::from("/"), root)];
            while let Some((dir, id)) = stack.pop() {
                let tree = self.inner.load_tree(&id).await?;
                let mut subdirs = Vec::new();
                for node in &tree.nodes {
                    let path = dir.join(node.name_os());
                    visit(&path, node);
                    if let NodeKind::Dir { subtree } = &node.kind {
                        subdirs.push((path, *subtree));
                    }
                }
                // Reversed onto the stack: the first name comes out first.
                stack.extend(subdirs.into_iter().rev());
            }
            Ok::<_, crate::Error>(())
        };
        timed("walk", tracing::info_span!("cairn.walk"), run).await
    }

    /// Counts the files, directories, symlinks and bytes of `snapshot`.
    pub async fn snapshot_stats(&self, snapshot: &Snapshot) -> Result<SnapshotStats> {
        let mut s = SnapshotStats::default();
        self.walk(snapshot, |_, n| match n.kind {
            NodeKind::File { .. } => {
                s.files += 1;
                s.bytes += n.size;
            }
            NodeKind::Dir { .. } => s.dirs += 1,
            NodeKind::Symlink { .. } => s.symlinks += 1,
        })
        .await?;
        Ok(s)
    }

    /// Counts the repository: snapshots, packs, blobs, bytes stored, what a
    /// prune would free, bytes under each key epoch. Every snapshot record
    /// must be readable. Operation `stats`.
    pub async fn stats(&self) -> Result<RepositoryStats> {
        let run = async {
            let snapshots = self.inner.snapshots().await?;
            let (blobs, packs, index_resident_bytes) = {
                let index = self.inner.index();
                (index.len(), index.pack_count(), index.resident_bytes())
            };
            let (mut pack_bytes, mut repository_bytes) = (0u64, 0u64);
            let mut listing = self.storage.list("");
            while let Some(meta) = listing.try_next().await? {
                repository_bytes += meta.size;
                if meta.key.starts_with("data/") {
                    pack_bytes += meta.size;
                }
            }
            let reclaimable =
                crate::cas::prune::prune_plan(&self.inner, &Default::default()).await?;
            let epochs = self.inner.epoch_usage().await?;
            Ok::<_, crate::Error>(RepositoryStats {
                snapshots: snapshots.len(),
                packs,
                blobs,
                index_resident_bytes,
                pack_bytes,
                repository_bytes,
                snapshots_total_size: snapshots.iter().map(|(_, s)| s.summary.total_bytes).sum(),
                reclaimable,
                epochs,
            })
        };
        timed("stats", tracing::info_span!("cairn.stats"), run).await
    }
}
