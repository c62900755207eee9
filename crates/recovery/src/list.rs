//! A snapshot's entries as `ls` and `find` list them: in path order, as a
//! stream, with memory that follows the depth of the tree, not its size.
//!
//! Pre-order over name-sorted trees is path order: a directory comes right
//! before its contents, and `/a/x` before `/a.b` because paths compare
//! component by component. So a listing never sorts and never holds more
//! than the trees on the way to the entry it yields (one per level, each
//! with the siblings not yet yielded).

use std::path::{Path, PathBuf};

use cairn_cas_core::{Node, NodeKind, Repository, Snapshot};
use cairn_crypto::ChunkId;
use futures::stream::{self, Stream};

use crate::reader::node_at;
use crate::{Error, Result};

/// How far below the listed path a [`list`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Depth {
    /// The entry and, for a directory, the entries directly in it
    /// (`restic ls SNAP DIR`).
    Children,
    /// The entry and everything below it (`ls --recursive`).
    All,
}

/// A directory being listed: its path and the entries not yet yielded.
struct Frame {
    dir: PathBuf,
    nodes: std::vec::IntoIter<Node>,
}

/// The stream's state between items.
struct State<'a> {
    repo: &'a Repository,
    depth: Depth,
    /// The entry asked for, yielded first (none for the root, which has no
    /// node of its own).
    first: Option<(PathBuf, Node)>,
    /// A directory whose tree is loaded before the next entry is taken.
    load: Option<(PathBuf, ChunkId)>,
    stack: Vec<Frame>,
    failed: bool,
}

/// The entries of `snapshot` at `path` (absolute, as in the snapshot; `/`
/// for everything) and below it as far as `depth` says, in path order. The
/// entry at `path` itself comes first, except for `/`.
///
/// Fails with [`Error::NotInSnapshot`] before anything is yielded when
/// nothing is at `path`. A tree that fails to load later (missing, damaged)
/// is yielded as its error and ends the stream.
pub async fn list<'a>(
    repo: &'a Repository,
    snapshot: &Snapshot,
    path: &Path,
    depth: Depth,
) -> Result<impl Stream<Item = Result<(PathBuf, Node)>> + Send + 'a> {
    let abs = Path::new("/").join(path);
    let node = node_at(repo, snapshot.tree, &abs)
        .await?
        .ok_or_else(|| Error::NotInSnapshot { path: abs.clone() })?;
    let is_root = abs.parent().is_none();
    let load = match &node.kind {
        NodeKind::Dir { subtree } => Some((abs.clone(), *subtree)),
        _ => None,
    };
    let state = State {
        repo,
        depth,
        first: (!is_root).then_some((abs, node)),
        load,
        stack: Vec::new(),
        failed: false,
    };
    Ok(stream::unfold(state, |mut st| async move {
        let item = st.next().await?;
        st.failed = item.is_err();
        Some((item, st))
    }))
}

impl State<'_> {
    async fn next(&mut self) -> Option<Result<(PathBuf, Node)>> {
        if self.failed {
            return None;
        }
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        loop {
            if let Some((dir, id)) = self.load.take() {
                match self.repo.load_tree(&id).await {
                    Ok(t) => self.stack.push(Frame {
                        dir,
                        nodes: t.nodes.into_iter(),
                    }),
                    Err(e) => return Some(Err(e.into())),
                }
            }
            let top = self.stack.last_mut()?;
            let Some(node) = top.nodes.next() else {
                self.stack.pop();
                continue;
            };
            let path = top.dir.join(node.name_path());
            if let (Depth::All, NodeKind::Dir { subtree }) = (self.depth, &node.kind) {
                // Loaded on the next call, after the directory itself is
                // yielded: its contents follow it.
                self.load = Some((path.clone(), *subtree));
            }
            return Some(Ok((path, node)));
        }
    }
}
