//! `repair snapshots`: rewrite snapshots that reference lost data so that
//! everything still readable stays restorable.
//!
//! What is lost, and what the repaired snapshot holds instead:
//!
//! - a **file** with a chunk that is in no index, or whose pack is not
//!   stored (with [`RepairSnapshotsOptions::read_data`]: or whose pack cannot
//!   be read, does not match its name, or holds the chunk damaged), is **truncated before its first lost chunk**: it keeps the
//!   longest prefix that is intact, with its size set to match. (restic
//!   instead drops the lost chunks and keeps the rest, which shifts later
//!   bytes to wrong offsets; a prefix is never wrong, only short.)
//! - a **directory** whose tree cannot be read becomes **empty**.
//!
//! Each changed file and directory is named in the report. Rewritten trees
//! are stored as new tree blobs (packs, then an index object), then a new
//! snapshot record with the original's time, host, paths and parent, the
//! tag `repaired`, and `original` set to the damaged record's id. The
//! original is removed only with [`RepairSnapshotsOptions::forget`], after
//! its replacement is stored. Running again does not write a second copy
//! of an original already repaired (so `--forget` can follow a first run).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use cairn_crypto::ChunkId;
use futures::future::BoxFuture;
use futures::FutureExt;

use super::{stored_packs, verified_blobs};
use crate::blob::{seal_blob, BlobKind};
use crate::pack::{PackBuilder, PackId};
use crate::repo::put_idempotent;
use crate::tree::{NodeKind, Tree};
use crate::{snapshot_key, Repository, Result, SnapshotId};

/// The tag every repaired snapshot carries.
pub const REPAIRED_TAG: &str = "repaired";

/// Settings for [`repair_snapshots`].
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct RepairSnapshotsOptions {
    /// Remove each damaged snapshot record once its repaired copy is stored.
    pub forget: bool,
    /// Only report what is lost; write nothing.
    pub dry_run: bool,
    /// Also read every pack the snapshots need and verify each blob; without
    /// it a blob counts as lost only when it is in no index or its pack is
    /// not stored.
    pub read_data: bool,
}

impl RepairSnapshotsOptions {
    /// Sets whether originals are removed.
    pub fn forget(mut self, on: bool) -> Self {
        self.forget = on;
        self
    }
    /// Sets dry-run mode.
    pub fn dry_run(mut self, on: bool) -> Self {
        self.dry_run = on;
        self
    }
    /// Sets whether packs are read back and verified.
    pub fn read_data(mut self, on: bool) -> Self {
        self.read_data = on;
        self
    }
}

/// A file or directory of a snapshot whose contents were (partly) lost.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LostFile {
    /// Its path in the snapshot.
    pub path: PathBuf,
    /// Whether it is a directory (whose listing was lost) or a file.
    pub directory: bool,
    /// The size the snapshot recorded (files).
    pub original_size: u64,
    /// The size kept in the repaired snapshot: the intact prefix (files).
    pub kept_size: u64,
}

/// One snapshot that referenced lost data.
#[non_exhaustive]
#[derive(Debug, Clone, serde::Serialize)]
pub struct RepairedSnapshot {
    /// The damaged snapshot's id.
    pub original: SnapshotId,
    /// The repaired snapshot's id (`None` in a dry run).
    pub repaired: Option<SnapshotId>,
    /// Whether `repaired` was written by an earlier run (a snapshot whose
    /// `original` is this one already exists: no second copy is written).
    pub earlier: bool,
    /// Whether the original record was removed.
    pub forgotten: bool,
    /// Everything lost, by path.
    pub lost: Vec<LostFile>,
}

/// What [`repair_snapshots`] did.
#[non_exhaustive]
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RepairSnapshotsReport {
    /// Snapshots examined.
    pub checked: usize,
    /// Snapshots that referenced lost data.
    pub repaired: Vec<RepairedSnapshot>,
    /// Snapshot records that could not be read at all (cannot be repaired).
    pub unreadable: Vec<Unrepairable>,
}

/// A snapshot record [`repair_snapshots`] could not read, so cannot repair.
/// Serialized as its message (the form the report has always had).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unrepairable {
    /// The record was read but is damaged: it does not authenticate,
    /// decode, or match its name.
    Damaged {
        /// The record's object name.
        object: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The record, or the listing of records, could not be read.
    Unreadable {
        /// The error, naming the record or the listing.
        reason: String,
    },
}

impl From<&crate::Error> for Unrepairable {
    fn from(e: &crate::Error) -> Self {
        match e {
            crate::Error::Corrupt { object, reason } => Unrepairable::Damaged {
                object: object.clone(),
                reason: reason.clone(),
            },
            other => Unrepairable::Unreadable {
                reason: other.to_string(),
            },
        }
    }
}

impl std::fmt::Display for Unrepairable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Worded exactly as the error it came from.
            Unrepairable::Damaged { object, reason } => {
                crate::Error::corrupt(object.as_str(), reason.as_str()).fmt(f)
            }
            Unrepairable::Unreadable { reason } => f.write_str(reason),
        }
    }
}

impl serde::Serialize for Unrepairable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Rewrites every readable snapshot that references lost data (a blob in
/// no index, or in a pack that is not stored); see the
/// module docs (`repair/snapshots.rs`) for what a repaired snapshot holds:
/// files are truncated before their first lost chunk.
pub async fn repair_snapshots(
    repo: &Repository,
    opts: &RepairSnapshotsOptions,
) -> Result<RepairSnapshotsReport> {
    if opts.forget && !opts.dry_run {
        repo.require_admin("forget repaired snapshots")?;
    }
    // Snapshots first, then the index, then the packs: a backup stores its
    // packs, then its index, then its record, so everything a snapshot read
    // here needs is in what is read after it. The other order would take a
    // backup finishing meanwhile for one that lost its data.
    let (snapshots, unreadable) = repo.readable_snapshots().await?;
    repo.reload_index().await?;
    let stored: HashSet<String> = stored_packs(&**repo.backend()).await?.into_keys().collect();
    let mut report = RepairSnapshotsReport {
        checked: snapshots.len(),
        unreadable: unreadable.iter().map(Unrepairable::from).collect(),
        ..Default::default()
    };
    // Originals repaired by an earlier run, and their repaired copies.
    let earlier: HashMap<SnapshotId, SnapshotId> = snapshots
        .iter()
        .filter_map(|(id, s)| Some((s.original?, *id)))
        .collect();
    let mut verified = opts.read_data.then(HashMap::new);
    for (id, snap) in snapshots {
        let root = snap.tree.chunk_id();
        let mut w = Rewriter {
            repo,
            stored: &stored,
            verified: verified.take(),
            lost: Vec::new(),
            pack: PackBuilder::default(),
            added: HashSet::new(),
        };
        let new_root = w.tree(root, PathBuf::from("/")).await?;
        // Packs verified for one snapshot need not be read for the next.
        verified = w.verified.take();
        if w.lost.is_empty() {
            continue;
        }
        let mut done = RepairedSnapshot {
            original: id,
            repaired: None,
            earlier: false,
            forgotten: false,
            lost: std::mem::take(&mut w.lost),
        };
        done.lost.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(copy) = earlier.get(&id) {
            done.repaired = Some(*copy);
            done.earlier = true;
        }
        if !opts.dry_run {
            if !done.earlier {
                w.flush().await?;
                let mut fixed = snap.clone();
                fixed.tree = new_root.into();
                if !fixed.tags.iter().any(|t| t == REPAIRED_TAG) {
                    fixed.tags.push(REPAIRED_TAG.to_owned());
                }
                fixed.original = Some(id);
                done.repaired = Some(repo.save_snapshot(&fixed).await?);
            }
            if opts.forget {
                // Signed like any forget, so listings and prunes honour it.
                if repo.authority().is_some() {
                    repo.write_tombstone(&id).await?;
                }
                repo.backend().delete(&snapshot_key(&id)).await?;
                done.forgotten = true;
            }
        }
        report.repaired.push(done);
    }
    journal_repairs(repo, &report).await?;
    Ok(report)
}

/// Records what a (non-dry) run wrote and removed, if anything.
async fn journal_repairs(repo: &Repository, report: &RepairSnapshotsReport) -> Result<()> {
    use crate::journal::{counts, record_after, Operation, SnapshotPair};
    let repaired: Vec<SnapshotPair> = report
        .repaired
        .iter()
        .filter(|r| !r.earlier)
        .filter_map(|r| Some(SnapshotPair::new(&r.original, r.repaired.as_ref()?)))
        .collect();
    let forgotten: Vec<String> = report
        .repaired
        .iter()
        .filter(|r| r.forgotten)
        .map(|r| r.original.to_string())
        .collect();
    if repaired.is_empty() && forgotten.is_empty() {
        return Ok(());
    }
    let added = counts([("snapshots", repaired.len() as u64)]);
    let removed = counts([("snapshots", forgotten.len() as u64)]);
    let op = Operation::RepairSnapshots {
        repaired,
        forgotten,
    };
    record_after(repo, op, added, removed).await?;
    Ok(())
}

/// Rewrites the trees of one snapshot, collecting new tree blobs in a pack.
struct Rewriter<'a> {
    repo: &'a Repository,
    stored: &'a HashSet<String>,
    // With `read_data`: each pack read so far, and the blobs in it that
    // verified (`None`: the pack could not be used at all).
    verified: Option<HashMap<PackId, Option<HashSet<ChunkId>>>>,
    lost: Vec<LostFile>,
    pack: PackBuilder,
    added: HashSet<ChunkId>,
}

impl Rewriter<'_> {
    /// The blob's length if it can be read: indexed, its pack stored and,
    /// with `read_data`, the blob verified in the pack.
    async fn readable(&mut self, id: &ChunkId) -> Result<Option<u64>> {
        let Some(loc) = self.repo.index().get(id) else {
            return Ok(None);
        };
        if !self.stored.contains(&loc.pack.key()) {
            return Ok(None);
        }
        if let Some(verified) = &mut self.verified {
            if let std::collections::hash_map::Entry::Vacant(slot) = verified.entry(loc.pack) {
                let backend = self.repo.backend();
                let good =
                    match verified_blobs(self.repo.cpu(), &**backend, &self.repo.keys(), loc.pack)
                        .await
                    {
                        Ok(good) => Some(good),
                        Err(e) if e.is_backend_failure() => return Err(e),
                        Err(_) => None,
                    };
                slot.insert(good);
            }
            let good = verified.get(&loc.pack).and_then(|g| g.as_ref());
            if !good.is_some_and(|g| g.contains(id)) {
                return Ok(None);
            }
        }
        Ok(Some(u64::from(loc.entry.raw_length)))
    }

    /// The id of tree `id` (at snapshot path `path`) with lost data cut
    /// out; the same id when nothing below it is lost.
    fn tree(&mut self, id: ChunkId, path: PathBuf) -> BoxFuture<'_, Result<ChunkId>> {
        async move {
            let mut tree = match self.repo.load_tree(&id).await {
                Ok(t) => t,
                Err(e) if e.is_backend_failure() => return Err(e),
                Err(_) => {
                    self.lost.push(LostFile {
                        path,
                        directory: true,
                        original_size: 0,
                        kept_size: 0,
                    });
                    return self.store_tree(Tree::default()).await;
                }
            };
            let mut changed = false;
            for node in &mut tree.nodes {
                let child = path.join(node.name_path());
                match &mut node.kind {
                    NodeKind::Dir { subtree } => {
                        let new = self.tree(*subtree, child).await?;
                        changed |= new != *subtree;
                        *subtree = new;
                    }
                    NodeKind::File { chunks } => {
                        if let Some(kept) = self.cut_file(&child, node.size, chunks).await? {
                            node.size = kept;
                            changed = true;
                        }
                    }
                    NodeKind::Symlink { .. } => {}
                }
            }
            if changed {
                self.store_tree(tree).await
            } else {
                Ok(id)
            }
        }
        .boxed()
    }

    /// Truncates `chunks` before the first unreadable one; returns the kept
    /// size if anything was cut.
    async fn cut_file(
        &mut self,
        path: &Path,
        size: u64,
        chunks: &mut Vec<ChunkId>,
    ) -> Result<Option<u64>> {
        let mut kept = 0u64;
        for i in 0..chunks.len() {
            match self.readable(&chunks[i]).await? {
                Some(len) => kept += len,
                None => {
                    chunks.truncate(i);
                    self.lost.push(LostFile {
                        path: path.to_owned(),
                        directory: false,
                        original_size: size,
                        kept_size: kept,
                    });
                    return Ok(Some(kept));
                }
            }
        }
        Ok(None)
    }

    async fn store_tree(&mut self, mut tree: Tree) -> Result<ChunkId> {
        tree.sort();
        let bytes = tree.encode();
        let id = self.repo.keys().chunk_id_key().id(&bytes);
        if self.readable(&id).await?.is_none() && self.added.insert(id) {
            let keys = self.repo.keys();
            let sealed = seal_blob(&keys, BlobKind::Tree, id, &bytes, self.repo.compression())?;
            self.pack.add(&sealed);
        }
        Ok(id)
    }

    /// Stores the pack of new trees, then its index object, and adds it to
    /// the in-memory index.
    async fn flush(&mut self) -> Result<()> {
        store_tree_pack(self.repo, &mut self.pack).await
    }
}

/// Stores the pack of new trees `pack` (emptied), then its index object,
/// and adds it to the in-memory index: data, then index, as every writer.
/// Shared by repair and rewrite, which both write trees of their own.
pub(crate) async fn store_tree_pack(repo: &Repository, pack: &mut PackBuilder) -> Result<()> {
    if pack.is_empty() {
        return Ok(());
    }
    let pack = std::mem::take(pack).finish(&repo.keys())?;
    put_idempotent(&**repo.backend(), &pack.id.key(), pack.bytes).await?;
    let packs = vec![(pack.id, pack.entries)];
    repo.write_index(&packs).await?;
    let mut index = repo.index_mut();
    for (id, entries) in &packs {
        index.add_pack(*id, entries);
    }
    index.compact();
    Ok(())
}
