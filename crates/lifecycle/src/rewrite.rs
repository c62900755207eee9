//! `rewrite`: new snapshots without the paths some patterns match
//! (restic's `rewrite --exclude`), for a "remove this file from every
//! backup" request. Trees on the way from the root to each excluded path
//! are stored anew; every other tree and every data chunk is reused. The
//! new record keeps the original's time, host, paths, tags and parent, and
//! `original` names the first record of the line. Order: new trees (a
//! pack, then its index object), new records, one `rewrite` journal entry
//! (the patterns, never the content), then with `forget` the originals go
//! as a forget removes them (its own `forget` entry), so the next prune
//! reclaims the chunks only they referenced. Running it again reuses the
//! copies an earlier run wrote (so `--forget` can follow a first run).
//! Admins only; a held original
//! fails a `forget` run with [`Error::Held`] before anything is written.

use std::collections::HashSet;
use std::path::PathBuf;

use cairn_crypto::ChunkId;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde::Serialize;

use crate::blob::{seal_blob, BlobKind};
use crate::journal::{counts, record, Operation, SnapshotPair};
use crate::pack::PackBuilder;
use crate::tree::{NodeKind, Tree};
use crate::{Error, Repository, Result, SnapshotId};
use cairn_format::filter::Patterns;

/// Settings for [`rewrite_snapshots`].
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct RewriteOptions {
    /// Remove each original once every rewritten record is stored.
    pub forget: bool,
    /// Only report what would be excluded; write nothing.
    pub dry_run: bool,
}

impl RewriteOptions {
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
}

/// One snapshot that held excluded paths.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rewritten {
    /// The original record.
    pub original: SnapshotId,
    /// The rewritten record (`None` in a dry run).
    pub new: Option<SnapshotId>,
    /// The paths left out (a directory stands for everything below it).
    pub excluded: Vec<PathBuf>,
    /// Whether the original was removed.
    pub forgotten: bool,
}

/// What [`rewrite_snapshots`] did.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RewriteReport {
    /// Snapshots that held excluded paths.
    pub rewritten: Vec<Rewritten>,
    /// Snapshots no pattern matched in (nothing written for them).
    pub unchanged: Vec<SnapshotId>,
}

/// Rewrites the snapshots `ids` (full ids, each live) without the paths
/// `exclude` matches (see the module docs).
pub async fn rewrite_snapshots(
    repo: &Repository,
    ids: &[SnapshotId],
    exclude: &Patterns,
    opts: &RewriteOptions,
) -> Result<RewriteReport> {
    repo.require_admin("rewrite snapshots")?;
    if exclude.is_empty() {
        return Err(Error::InvalidOption {
            what: "rewrite: no --exclude pattern".into(),
        });
    }
    let live = repo.snapshots().await?;
    let mut todo = Vec::new();
    for id in ids {
        match live.iter().find(|(l, _)| l == id) {
            Some(found) if !todo.iter().any(|(l, _)| l == id) => todo.push(found.clone()),
            Some(_) => {}
            None => {
                return Err(Error::SnapshotNotFound {
                    query: id.to_string(),
                })
            }
        }
    }
    if opts.forget {
        let ids: Vec<SnapshotId> = todo.iter().map(|(id, _)| *id).collect();
        crate::hold::refuse_held(repo, &ids).await?;
    }
    let mut w = Pruner {
        repo,
        exclude,
        excluded: Vec::new(),
        pack: PackBuilder::default(),
        added: HashSet::new(),
    };
    let mut report = RewriteReport::default();
    let mut new_records = Vec::new();
    for (id, snap) in todo {
        let root = w.tree(snap.tree.chunk_id(), PathBuf::from("/")).await?;
        if w.excluded.is_empty() {
            report.unchanged.push(id);
            continue;
        }
        let mut new = snap.clone();
        new.tree = root.into();
        new.original = Some(snap.original.unwrap_or(id));
        new_records.push(new);
        report.rewritten.push(Rewritten {
            original: id,
            new: None,
            excluded: std::mem::take(&mut w.excluded),
            forgotten: false,
        });
    }
    if opts.dry_run || report.rewritten.is_empty() {
        return Ok(report);
    }
    w.flush().await?;
    for (r, snap) in report.rewritten.iter_mut().zip(&new_records) {
        // A copy an earlier run wrote (same line, same tree) is reused:
        // records are sealed with a fresh nonce, so a second one would be
        // a second snapshot, not the same bytes.
        let earlier = live
            .iter()
            .find(|(_, l)| l.original == snap.original && l.tree == snap.tree);
        r.new = Some(match earlier {
            Some((id, _)) => *id,
            None => repo.save_snapshot(snap).await?,
        });
    }
    let pairs: Vec<SnapshotPair> = report
        .rewritten
        .iter()
        .filter_map(|r| Some(SnapshotPair::new(&r.original, r.new.as_ref()?)))
        .collect();
    let added = counts([("snapshots", pairs.len() as u64)]);
    let op = Operation::Rewrite {
        snapshots: pairs,
        excluded: exclude.sources().to_vec(),
    };
    record(repo, op, added, Default::default()).await?;
    if opts.forget {
        let originals = report.rewritten.iter().map(|r| r.original).collect();
        let removed = crate::prune::remove_records(repo, originals).await?;
        for r in &mut report.rewritten {
            r.forgotten = removed.contains(&r.original);
        }
    }
    Ok(report)
}

/// Rewrites trees without excluded nodes, collecting new trees in a pack.
struct Pruner<'a> {
    repo: &'a Repository,
    exclude: &'a Patterns,
    excluded: Vec<PathBuf>,
    pack: PackBuilder,
    added: HashSet<ChunkId>,
}

impl Pruner<'_> {
    /// The id of tree `id` (at snapshot path `path`) without excluded
    /// nodes; the same id when nothing below it is excluded.
    fn tree(&mut self, id: ChunkId, path: PathBuf) -> BoxFuture<'_, Result<ChunkId>> {
        async move {
            let mut tree = self.repo.load_tree(&id).await?;
            let before = tree.nodes.len();
            let mut changed = false;
            let mut kept = Vec::with_capacity(before);
            for mut node in std::mem::take(&mut tree.nodes) {
                let child = path.join(node.name_path());
                let is_dir = matches!(node.kind, NodeKind::Dir { .. });
                if self.exclude.matches(&child, is_dir) {
                    self.excluded.push(child);
                    changed = true;
                    continue;
                }
                if let NodeKind::Dir { subtree } = &mut node.kind {
                    let new = self.tree(*subtree, child).await?;
                    changed |= new != *subtree;
                    *subtree = new;
                }
                kept.push(node);
            }
            tree.nodes = kept;
            match changed {
                true => self.store_tree(tree),
                false => Ok(id),
            }
        }
        .boxed()
    }

    fn store_tree(&mut self, mut tree: Tree) -> Result<ChunkId> {
        tree.sort();
        let bytes = tree.encode();
        let keys = self.repo.keys();
        let id = keys.chunk_id_key().id(&bytes);
        if self.repo.index().get(&id).is_none() && self.added.insert(id) {
            let sealed = seal_blob(&keys, BlobKind::Tree, id, &bytes, self.repo.compression())?;
            self.pack.add(&sealed);
        }
        Ok(id)
    }

    /// Stores the pack of new trees, then its index object, and adds it to
    /// the in-memory index.
    async fn flush(&mut self) -> Result<()> {
        crate::repair::store_tree_pack(self.repo, &mut self.pack).await
    }
}
