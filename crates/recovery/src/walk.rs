//! The planner's walk of a snapshot's tree, resumable: it stops after a
//! given number of files (even in the middle of a directory) and goes on
//! from there, so a restore can plan and run one window of files at a time.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use cairn_cas_core::{Node, NodeKind, Repository, Snapshot, WalkedTree};
use futures::stream::{Peekable, Stream, StreamExt};

use crate::inspect::{DirState, Inspector};
use crate::plan::{PlannedEntry, RestoreOptions, RestorePlan};
use crate::{Error, Result};

/// Whether the snapshot path `p` is to be restored: on the way to, or under,
/// an include path. Returns (wanted, fully_included).
fn wanted(p: &Path, include: &[PathBuf]) -> (bool, bool) {
    if include.is_empty() {
        return (true, true);
    }
    let full = include.iter().any(|i| p.starts_with(i));
    (full || include.iter().any(|i| i.starts_with(p)), full)
}

/// What the planner decided about a directory the walk is still to reach:
/// what the target has there, and whether it is restored whole.
struct Pending {
    state: DirState,
    full: bool,
    /// It, or a directory above it, matches an include pattern.
    picked: bool,
}

/// The directory being walked: where it is and the nodes not yet planned.
struct Current {
    snap: PathBuf,
    rel: PathBuf,
    state: DirState,
    picked: bool,
    handle: Option<Arc<OwnedFd>>,
    nodes: std::vec::IntoIter<Node>,
}

/// The snapshot's directories, as cas-core walks them.
type Trees<'a> = Peekable<Pin<Box<dyn Stream<Item = WalkedTree> + Send + 'a>>>;

/// A walk of the snapshot's tree, directories depth first (as a stack, in
/// [`Repository::walk_trees`]), each directory's entries in name order.
pub(crate) struct Walk<'a> {
    repo: &'a Repository,
    opts: &'a RestoreOptions,
    include: Vec<PathBuf>,
    pub(crate) inspector: Inspector<'a>,
    found: Vec<bool>,
    /// Directories planned and not yet reached, by snapshot path: the walk
    /// descends into exactly these (the same test decides both).
    pending: HashMap<PathBuf, Pending>,
    trees: Trees<'a>,
    current: Option<Current>,
}

/// Whether the walk goes into the directory at snapshot path `p`.
fn descends(p: &Path, include: &[PathBuf], opts: &RestoreOptions) -> bool {
    wanted(p, include).0 && !opts.exclude.matches(p, true)
}

impl<'a> Walk<'a> {
    /// Starts at the snapshot's root.
    pub(crate) fn new(
        repo: &'a Repository,
        snapshot: &Snapshot,
        opts: &'a RestoreOptions,
    ) -> Result<Self> {
        let include: Vec<PathBuf> = opts
            .include
            .iter()
            .map(|p| Path::new("/").join(p))
            .collect();
        let inspector = Inspector::new(repo, opts)?;
        let root = Pending {
            state: inspector.root_state(),
            full: include.is_empty(),
            picked: opts.include_patterns.is_empty(),
        };
        let inc = include.clone();
        let trees: Pin<Box<dyn Stream<Item = WalkedTree> + Send + 'a>> =
            Box::pin(repo.walk_trees(snapshot.tree, move |p, _| descends(p, &inc, opts)));
        Ok(Walk {
            repo,
            opts,
            found: vec![false; include.len()],
            include,
            inspector,
            pending: HashMap::from([(PathBuf::from("/"), root)]),
            trees: trees.peekable(),
            current: None,
        })
    }

    /// Fails if an include path was not met (call when the walk is done).
    pub(crate) fn check_found(&self) -> Result<()> {
        match self.found.iter().position(|f| !f) {
            Some(i) => Err(Error::NotInSnapshot {
                path: self.include[i].clone(),
            }),
            None => Ok(()),
        }
    }

    /// Fails unless every include path is in the snapshot, by looking it up
    /// component by component (a few trees), before anything is restored.
    pub(crate) async fn check_includes(&self, snapshot: &Snapshot) -> Result<()> {
        for inc in &self.include {
            let missing = || Error::NotInSnapshot { path: inc.clone() };
            let mut tree = Some(snapshot.tree.chunk_id());
            for part in inc.strip_prefix("/").unwrap_or(inc).iter() {
                let id = tree.take().ok_or_else(missing)?;
                let t = self.repo.load_tree(&id).await?;
                let node = t.find(part.as_bytes()).ok_or_else(missing)?;
                if let NodeKind::Dir { subtree } = &node.kind {
                    tree = Some(*subtree);
                }
            }
        }
        Ok(())
    }

    /// Adds entries to `plan` until it holds `max_files` files or the walk
    /// is done; files whose contents decide go to `to_compare`. Returns
    /// whether there is more to walk.
    pub(crate) async fn fill(
        &mut self,
        plan: &mut RestorePlan,
        to_compare: &mut Vec<usize>,
        max_files: usize,
    ) -> Result<bool> {
        loop {
            if plan.files.len() >= max_files.max(1) {
                let more =
                    self.current.is_some() || Pin::new(&mut self.trees).peek().await.is_some();
                return Ok(more);
            }
            let Some(cur) = self.current.as_mut() else {
                let Some(dir) = self.trees.next().await else {
                    return Ok(false);
                };
                self.current = Some(self.enter(dir, plan)?);
                continue;
            };
            let Some(node) = cur.nodes.next() else {
                self.current = None;
                continue;
            };
            let (snap, rel, state, handle) = (
                cur.snap.clone(),
                cur.rel.clone(),
                cur.state,
                cur.handle.clone(),
            );
            let picked = cur.picked;
            self.node(node, &snap, &rel, state, handle, picked, plan, to_compare)?;
        }
    }

    /// Takes a directory the walk reached and plans the deletions in it.
    fn enter(&mut self, dir: WalkedTree, plan: &mut RestorePlan) -> Result<Current> {
        let tree = dir.tree?;
        let Some(p) = self.pending.remove(&dir.path) else {
            return Err(cairn_cas_core::Error::Internal {
                what: format!("the walk reached {} unplanned", dir.path.display()),
            }
            .into());
        };
        let rel = dir.path.strip_prefix("/").unwrap_or(&dir.path).to_owned();
        let handle = self.inspector.dir(&rel, p.state);
        if self.opts.delete && p.full && p.picked {
            let names: HashSet<&[u8]> = tree.nodes.iter().map(|n| n.name.as_slice()).collect();
            for extra in self.inspector.extra_names(handle.as_deref(), &names)? {
                plan.delete.push(self.opts.target.join(&rel).join(extra));
            }
        }
        Ok(Current {
            snap: dir.path,
            rel,
            state: p.state,
            picked: p.picked,
            handle,
            nodes: tree.nodes.into_iter(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn node(
        &mut self,
        node: Node,
        dir_snap: &Path,
        rel: &Path,
        state: DirState,
        handle: Option<Arc<OwnedFd>>,
        dir_picked: bool,
        plan: &mut RestorePlan,
        to_compare: &mut Vec<usize>,
    ) -> Result<()> {
        let opts = self.opts;
        let snap_path = dir_snap.join(OsStr::from_bytes(&node.name));
        let (want, full) = wanted(&snap_path, &self.include);
        let is_dir = matches!(node.kind, NodeKind::Dir { .. });
        if !want || opts.exclude.matches(&snap_path, is_dir) {
            return Ok(());
        }
        let picked = dir_picked || opts.include_patterns.matches(&snap_path, is_dir);
        if !picked && !is_dir {
            return Ok(());
        }
        for (i, inc) in self.include.iter().enumerate() {
            if &snap_path == inc {
                self.found[i] = true;
            }
        }
        let path = opts.target.join(rel).join(node.name_os());
        let seen = self
            .inspector
            .lookup(handle.as_deref(), node.name_os(), state)?;
        match &node.kind {
            NodeKind::Dir { .. } => {
                let (action, sub_state) = self.inspector.dir_action(&node, seen, state);
                debug_assert!(descends(&snap_path, &self.include, opts));
                self.pending.insert(
                    snap_path,
                    Pending {
                        state: sub_state,
                        full,
                        picked,
                    },
                );
                plan.dirs.push(PlannedEntry::new(path, node, action));
            }
            NodeKind::File { .. } if full => {
                let action = self.inspector.file_action(&node, seen, state);
                if action.is_none() {
                    to_compare.push(plan.files.len());
                }
                let action = action.unwrap_or(crate::Action::Replace);
                plan.files.push(PlannedEntry::new(path, node, action));
            }
            NodeKind::Symlink { .. } if full => {
                let action = self
                    .inspector
                    .symlink_action(handle.as_deref(), &node, seen, state);
                plan.symlinks.push(PlannedEntry::new(path, node, action));
            }
            _ => {}
        }
        Ok(())
    }
}
