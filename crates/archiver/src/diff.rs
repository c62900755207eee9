//! Comparing snapshots (`cairn diff`) and searching them (`cairn find`).
//!
//! Both walk trees only: no file contents are read. [`diff_snapshots`]
//! merges the two sorted listings of each directory side by side and skips
//! any subtree whose id is the same in both (content addressing makes equal
//! ids mean equal subtrees), so comparing two snapshots of a large, mostly
//! unchanged tree loads only the directories on the path to a change.

use std::path::{Path, PathBuf};

use cairn_crypto::ChunkId;

use crate::filter::Patterns;
use crate::repo::Repository;
use crate::snapshot::Snapshot;
use crate::tree::{Node, NodeKind, Tree};
use crate::{Result, SnapshotId};

/// What happened to one path between two snapshots.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Only in the second snapshot.
    Added,
    /// Only in the first snapshot.
    Removed,
    /// In both, of the same type, but different.
    Modified {
        /// The contents differ: a file's chunk ids or a symlink's target.
        content: bool,
        /// Mode, owner, group, modification time or extended attributes differ.
        metadata: bool,
    },
}

/// One changed path. A path whose type changed (a file became a directory)
/// appears as removed, then added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffEntry {
    /// The absolute path, as in the snapshots.
    pub path: PathBuf,
    /// What changed.
    pub change: Change,
    /// The node in the second snapshot (the first one's for [`Change::Removed`]).
    pub node: Node,
}

/// The difference between two snapshots, in path order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Every changed path, sorted.
    pub entries: Vec<DiffEntry>,
}

impl Diff {
    /// (added, removed, modified) counts.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for e in &self.entries {
            match e.change {
                Change::Added => c.0 += 1,
                Change::Removed => c.1 += 1,
                Change::Modified { .. } => c.2 += 1,
            }
        }
        c
    }
}

/// Which kind a node is, without its payload.
fn kind_tag(n: &Node) -> u8 {
    match n.kind {
        NodeKind::File { .. } => 0,
        NodeKind::Dir { .. } => 1,
        NodeKind::Symlink { .. } => 2,
    }
}

/// Compares two same-type nodes: `None` when equal for the user.
///
/// Inode, ctime, device and link count are change-detection aids, not
/// something a user restores, so they are not compared.
fn compare(a: &Node, b: &Node) -> Option<Change> {
    let content = match (&a.kind, &b.kind) {
        (NodeKind::File { chunks: x }, NodeKind::File { chunks: y }) => x != y,
        (NodeKind::Symlink { target: x }, NodeKind::Symlink { target: y }) => x != y,
        // A directory's listing is compared entry by entry, not here.
        _ => false,
    };
    let metadata = a.mode != b.mode
        || a.uid != b.uid
        || a.gid != b.gid
        || a.mtime != b.mtime
        || a.xattrs != b.xattrs;
    (content || metadata).then_some(Change::Modified { content, metadata })
}

/// The differences between snapshots `a` and `b` (added = only in `b`).
pub async fn diff_snapshots(repo: &Repository, a: &Snapshot, b: &Snapshot) -> Result<Diff> {
    diff_trees(repo, a.tree.chunk_id(), b.tree.chunk_id()).await
}

/// What is left to compare: a directory on one or both sides.
enum Work {
    Both(PathBuf, ChunkId, ChunkId),
    /// Every entry below is added (`true`) or removed (`false`).
    One(PathBuf, ChunkId, bool),
}

/// The differences between the trees `a` and `b`.
pub async fn diff_trees(repo: &Repository, a: ChunkId, b: ChunkId) -> Result<Diff> {
    let mut out = Vec::new();
    let mut work = vec![Work::Both(PathBuf::from("/"), a, b)];
    while let Some(w) = work.pop() {
        match w {
            Work::Both(_, x, y) if x == y => {}
            Work::Both(dir, x, y) => {
                let (ta, tb) = (repo.load_tree(&x).await?, repo.load_tree(&y).await?);
                merge(&dir, ta, tb, &mut out, &mut work);
            }
            Work::One(dir, id, added) => {
                let change = if added {
                    Change::Added
                } else {
                    Change::Removed
                };
                for node in repo.load_tree(&id).await?.nodes {
                    one_side(&dir, node, change, &mut out, &mut work);
                }
            }
        }
    }
    // The walk is depth first but not in order; `Path`'s ordering compares
    // component by component, so a directory's contents follow it.
    out.sort_by(|x, y| x.path.cmp(&y.path).then(removed_first(x, y)));
    Ok(Diff { entries: out })
}

/// For a type change at one path: the removal, then the addition.
fn removed_first(x: &DiffEntry, y: &DiffEntry) -> std::cmp::Ordering {
    let rank = |e: &DiffEntry| u8::from(e.change != Change::Removed);
    rank(x).cmp(&rank(y))
}

fn one_side(
    dir: &Path,
    node: Node,
    change: Change,
    out: &mut Vec<DiffEntry>,
    work: &mut Vec<Work>,
) {
    let path = dir.join(node.name_os());
    if let NodeKind::Dir { subtree } = node.kind {
        work.push(Work::One(path.clone(), subtree, change == Change::Added));
    }
    out.push(DiffEntry { path, change, node });
}

/// Merges two sorted listings of the directory `dir`.
fn merge(dir: &Path, a: Tree, b: Tree, out: &mut Vec<DiffEntry>, work: &mut Vec<Work>) {
    let mut ia = a.nodes.into_iter().peekable();
    let mut ib = b.nodes.into_iter().peekable();
    loop {
        let order = match (ia.peek(), ib.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => x.name.cmp(&y.name),
        };
        match order {
            std::cmp::Ordering::Less => {
                if let Some(x) = ia.next() {
                    one_side(dir, x, Change::Removed, out, work);
                }
            }
            std::cmp::Ordering::Greater => {
                if let Some(y) = ib.next() {
                    one_side(dir, y, Change::Added, out, work);
                }
            }
            std::cmp::Ordering::Equal => {
                let (Some(x), Some(y)) = (ia.next(), ib.next()) else {
                    break;
                };
                if kind_tag(&x) != kind_tag(&y) {
                    one_side(dir, x, Change::Removed, out, work);
                    one_side(dir, y, Change::Added, out, work);
                    continue;
                }
                let path = dir.join(y.name_os());
                if let (NodeKind::Dir { subtree: sa }, NodeKind::Dir { subtree: sb }) =
                    (&x.kind, &y.kind)
                {
                    work.push(Work::Both(path.clone(), *sa, *sb));
                }
                if let Some(change) = compare(&x, &y) {
                    out.push(DiffEntry {
                        path,
                        change,
                        node: y,
                    });
                }
            }
        }
    }
}

/// A path in a snapshot that matched [`find`]'s patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The snapshot's id.
    pub snapshot_id: SnapshotId,
    /// The snapshot's time.
    pub time: jiff::Timestamp,
    /// The absolute path.
    pub path: PathBuf,
    /// The node there.
    pub node: Node,
}

/// Every path, in every snapshot, that `patterns` match (the pattern
/// language of [`Patterns`]; a directory that matches is reported and still
/// searched below). Snapshots in time order, paths in path order.
pub async fn find(repo: &Repository, patterns: &Patterns) -> Result<Vec<Match>> {
    let mut snaps = repo.snapshots().await?;
    snaps.sort_by(|x, y| x.1.time.cmp(&y.1.time).then(x.0.cmp(&y.0)));
    let mut out = Vec::new();
    for (id, snap) in snaps {
        let mut found = Vec::new();
        let mut stack = vec![(PathBuf::from("/"), snap.tree.chunk_id())];
        while let Some((dir, tree)) = stack.pop() {
            for node in repo.load_tree(&tree).await?.nodes {
                let path = dir.join(node.name_os());
                let is_dir = matches!(node.kind, NodeKind::Dir { .. });
                if let NodeKind::Dir { subtree } = node.kind {
                    stack.push((path.clone(), subtree));
                }
                if patterns.matches(&path, is_dir) {
                    found.push((path, node));
                }
            }
        }
        found.sort_by(|x, y| x.0.cmp(&y.0));
        out.extend(found.into_iter().map(|(path, node)| Match {
            snapshot_id: id,
            time: snap.time,
            path,
            node,
        }));
    }
    Ok(out)
}
