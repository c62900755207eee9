//! A snapshot's tree as a stream of directories, depth first.

use std::path::{Path, PathBuf};

use futures::stream::{self, Stream, StreamExt};

use crate::{Node, NodeKind, Repository, Result, Tree, TreeId};

/// One directory reached by [`Repository::walk_trees`].
#[derive(Debug)]
pub struct WalkedTree {
    /// Its path in the snapshot (`/` for the root).
    pub path: PathBuf,
    /// Its tree's id.
    pub id: TreeId,
    /// Its listing, or why it could not be loaded (nothing below it is
    /// walked then; the walk goes on with the rest).
    pub tree: Result<Tree>,
}

impl Repository {
    /// Walks the tree `root` depth first: each item is one directory, loaded
    /// and verified, with its path (`root` is `/`). A subdirectory is
    /// walked when `descend(its path, its node)` says so, asked as its
    /// parent is yielded; the last one accepted comes next (a stack), so a
    /// consumer that handles a directory's nodes before polling again sees
    /// every directory after its parent. One tree is held at a time, plus
    /// the stack of ids to visit.
    ///
    /// A tree that fails to load is yielded with its error, and the walk
    /// goes on with the others: stop at the first error with `?` on
    /// [`WalkedTree::tree`], or report them all.
    pub fn walk_trees<'a, F>(
        &'a self,
        root: TreeId,
        descend: F,
    ) -> impl Stream<Item = WalkedTree> + Send + 'a
    where
        F: FnMut(&Path, &Node) -> bool + Send + 'a,
    {
        let stack = vec![(PathBuf::from("/"), root)];
        stream::unfold(
            (stack, descend),
            move |(mut stack, mut descend)| async move {
                let (path, id) = stack.pop()?;
                let tree = self.load_tree(&id).await;
                if let Ok(t) = &tree {
                    for node in &t.nodes {
                        if let NodeKind::Dir { subtree } = &node.kind {
                            let sub = path.join(node.name_path());
                            if descend(&sub, node) {
                                stack.push((sub, TreeId::from(*subtree)));
                            }
                        }
                    }
                }
                Some((WalkedTree { path, id, tree }, (stack, descend)))
            },
        )
    }

    /// Every node below `root` with its path in the snapshot, directory by
    /// directory as [`walk_trees`](Self::walk_trees) walks them (all of
    /// them), each directory's nodes in name order. Stops after the first
    /// tree that fails to load, with its error.
    pub fn walk_nodes(
        &self,
        root: TreeId,
    ) -> impl Stream<Item = Result<(PathBuf, Node)>> + Send + '_ {
        self.walk_trees(root, |_, _| true)
            .flat_map(|dir| {
                let items: Vec<Result<(PathBuf, Node)>> = match dir.tree {
                    Ok(t) => t
                        .nodes
                        .into_iter()
                        .map(|n| Ok((dir.path.join(n.name_path()), n)))
                        .collect(),
                    Err(e) => vec![Err(e)],
                };
                stream::iter(items)
            })
            .scan(false, |failed, item| {
                let out = (!*failed).then_some(item);
                *failed |= matches!(out, Some(Err(_)));
                std::future::ready(out)
            })
    }
}
