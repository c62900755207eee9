//! Planning against what the target already holds: for each snapshot entry,
//! what is at its place (looked at through no-follow handles, never changed),
//! and so what the overwrite mode says to do.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_cas_core::{ChunkHasher, Node, NodeKind, Repository};
use cairn_crypto::ChunkId;
use futures::StreamExt;

use crate::plan::{Action, Overwrite, PlannedEntry, RestoreOptions};
use crate::target::{self, Found, Target};
use crate::{Error, Result};

/// What the target has where a snapshot directory goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DirState {
    /// A directory: look inside.
    Exists,
    /// Nothing (or something that will be replaced): everything below is new.
    Absent,
    /// Something the overwrite mode forbids replacing: everything below is kept
    /// out of the restore.
    Blocked,
}

/// Looks at the target for the planner.
pub(crate) struct Inspector<'a> {
    repo: &'a Repository,
    target: Option<Arc<Target>>,
    root: std::path::PathBuf,
    mode: Overwrite,
}

fn newer(node: &Node, seen: &Found) -> bool {
    seen.mtime()
        .is_none_or(|t| (node.mtime.sec, i64::from(node.mtime.nsec)) > t)
}

impl<'a> Inspector<'a> {
    pub(crate) fn new(repo: &'a Repository, opts: &RestoreOptions) -> Result<Self> {
        let target = Target::open(&opts.target, false)
            .map_err(|e| Error::io(&opts.target, e))?
            .map(Arc::new);
        Ok(Inspector {
            repo,
            target,
            root: opts.target.clone(),
            mode: opts.overwrite,
        })
    }

    pub(crate) fn root_state(&self) -> DirState {
        if self.target.is_some() {
            DirState::Exists
        } else {
            DirState::Absent
        }
    }

    /// The handle of target directory `rel`, if it is there to look into.
    pub(crate) fn dir(&self, rel: &Path, state: DirState) -> Option<Arc<OwnedFd>> {
        match (&self.target, state) {
            // Gone or swapped for something else since its parent was looked
            // at: treated as absent; the restore re-checks as it creates it.
            (Some(t), DirState::Exists) => t.dir(rel).ok(),
            _ => None,
        }
    }

    /// Names in `dir` that are not in `keep`.
    pub(crate) fn extra_names(
        &self,
        dir: Option<&OwnedFd>,
        keep: &HashSet<&[u8]>,
    ) -> Result<Vec<OsString>> {
        let Some(dir) = dir else {
            return Ok(Vec::new());
        };
        let names = target::list(dir.as_fd()).map_err(|e| Error::io(&self.root, e))?;
        Ok(names
            .into_iter()
            .filter(|n| !keep.contains(n.as_bytes()))
            .collect())
    }

    /// What is at `name` in `dir`.
    pub(crate) fn lookup(
        &self,
        dir: Option<&OwnedFd>,
        name: &OsStr,
        state: DirState,
    ) -> Result<Found> {
        match (dir, state) {
            (Some(d), DirState::Exists) => {
                target::lookup(d.as_fd(), name).map_err(|e| Error::io(self.root.join(name), e))
            }
            _ => Ok(Found::Missing),
        }
    }

    /// A non-directory where the snapshot has a directory is replaced, except
    /// in `Never`, and in `IfNewer` when it is newer than the snapshot's.
    pub(crate) fn dir_action(
        &self,
        node: &Node,
        seen: Found,
        parent: DirState,
    ) -> (Action, DirState) {
        match (parent, seen) {
            (DirState::Blocked, _) => (Action::Keep, DirState::Blocked),
            (_, Found::Missing) => (Action::Create, DirState::Absent),
            (_, Found::Dir { .. }) if self.mode == Overwrite::Never => {
                (Action::Keep, DirState::Exists)
            }
            (_, Found::Dir { .. }) => (Action::Metadata, DirState::Exists),
            _ if self.mode == Overwrite::Never => (Action::Keep, DirState::Blocked),
            _ if self.mode == Overwrite::IfNewer && !newer(node, &seen) => {
                (Action::Keep, DirState::Blocked)
            }
            _ => (Action::Replace, DirState::Absent),
        }
    }

    /// The action for a file; `None` when only a comparison of contents
    /// can tell (`IfChanged` with a regular file there): see [`compare_all`].
    pub(crate) fn file_action(&self, node: &Node, seen: Found, state: DirState) -> Option<Action> {
        Some(match (state, seen, self.mode) {
            (DirState::Blocked, _, _) => Action::Keep,
            (_, Found::Missing, _) => Action::Create,
            (_, _, Overwrite::Always) => Action::Replace,
            (_, _, Overwrite::Never) => Action::Keep,
            (_, _, Overwrite::IfNewer) if newer(node, &seen) => Action::Replace,
            (_, _, Overwrite::IfNewer) => Action::Keep,
            (_, Found::File { nlink: 1, .. }, _) => return None,
            _ => Action::Replace,
        })
    }

    /// Compares the planned files `which` with what is at their places, chunk
    /// by chunk, on the CPU pool (reading and hashing is the heavy part of an
    /// `IfChanged` plan), a few files at a time. Sets each one's action, and
    /// returns the chunks already in place of those to update.
    pub(crate) async fn compare_all(
        &self,
        files: &mut [PlannedEntry],
        which: Vec<usize>,
    ) -> Result<HashMap<usize, Vec<bool>>> {
        let Some(target) = self.target.clone() else {
            return Ok(HashMap::new());
        };
        let jobs: Vec<(usize, Compare)> = which
            .into_iter()
            .filter_map(|n| {
                let f = files.get(n)?;
                let NodeKind::File { chunks } = &f.node.kind else {
                    return None;
                };
                let rel = f.path.strip_prefix(&self.root).ok()?.to_owned();
                let lengths = self.repo.locate(chunks);
                let chunks = chunks
                    .iter()
                    .zip(lengths)
                    .map(|(c, l)| (*c, l.map(|l| l.entry.raw_length)))
                    .collect();
                Some((
                    n,
                    Compare {
                        rel,
                        chunks,
                        size: f.node.size,
                    },
                ))
            })
            .collect();
        let (repo, hasher) = (self.repo, self.repo.chunk_hasher());
        let root = self.root.clone();
        let mut results = futures::stream::iter(jobs)
            .map(|(n, job)| {
                let (target, hasher, root) = (target.clone(), hasher.clone(), root.clone());
                async move {
                    let r = repo
                        .spawn_blocking(move || {
                            compare(&target, &job, &hasher)
                                .map_err(|e| Error::io(root.join(&job.rel), e))
                        })
                        .await;
                    (n, r)
                }
            })
            .buffer_unordered(COMPARE_AT_ONCE);
        let mut in_place = HashMap::new();
        while let Some((n, r)) = results.next().await {
            let (action, existing, mask) = r??;
            files[n].action = action;
            files[n].existing = existing;
            if let Some(mask) = mask {
                in_place.insert(n, mask);
            }
        }
        Ok(in_place)
    }

    pub(crate) fn symlink_action(
        &self,
        dir: Option<&OwnedFd>,
        node: &Node,
        seen: Found,
        state: DirState,
    ) -> Action {
        match (state, seen, self.mode) {
            (DirState::Blocked, _, _) => Action::Keep,
            (_, Found::Missing, _) => Action::Create,
            (_, _, Overwrite::Always) => Action::Replace,
            (_, _, Overwrite::Never) => Action::Keep,
            (_, _, Overwrite::IfNewer) if newer(node, &seen) => Action::Replace,
            (_, _, Overwrite::IfNewer) => Action::Keep,
            (_, Found::Symlink { .. }, _) => {
                let NodeKind::Symlink { target: want } = &node.kind else {
                    return Action::Replace;
                };
                let have = dir.and_then(|d| {
                    rustix::fs::readlinkat(d.as_fd(), node.name_os(), Vec::new()).ok()
                });
                match have {
                    Some(h) if h.as_bytes() == want.as_slice() => Action::Metadata,
                    _ => Action::Replace,
                }
            }
            _ => Action::Replace,
        }
    }
}

/// Files compared at once: enough to keep the CPU pool busy.
const COMPARE_AT_ONCE: usize = 8;

/// One file to compare: its place and its chunks with their lengths.
struct Compare {
    rel: PathBuf,
    chunks: Vec<(ChunkId, Option<u32>)>,
    size: u64,
}

/// Compares the file at `job.rel` chunk by chunk: the action, the identity of
/// the file compared and which chunks are in place.
#[allow(clippy::type_complexity)]
fn compare(
    target: &Target,
    job: &Compare,
    hasher: &ChunkHasher,
) -> std::io::Result<(Action, Option<(u64, u64)>, Option<Vec<bool>>)> {
    let (dir, name) = match target.parent_of(&job.rel) {
        Ok(d) => d,
        // Gone or swapped since it was looked at: replace it.
        Err(_) => return Ok((Action::Replace, None, None)),
    };
    let Some(file) = target::open_in_place(dir.as_fd(), name, false)? else {
        return Ok((Action::Replace, None, None));
    };
    let id = target::identity(file.as_fd())?;
    let size = file.metadata()?.len();
    let mut mask = Vec::with_capacity(job.chunks.len());
    let (mut offset, mut buf) = (0u64, Vec::new());
    for (c, len) in &job.chunks {
        let Some(len) = *len else {
            // Not in the index: planning fails later with its id.
            mask.push(false);
            continue;
        };
        buf.resize(len as usize, 0);
        let same = file.read_exact_at(&mut buf, offset).is_ok() && hasher.matches(&buf, c);
        mask.push(same);
        offset += u64::from(len);
    }
    let differ = mask.iter().filter(|m| !**m).count();
    let action = if differ == 0 && size == job.size {
        Action::Metadata
    } else {
        Action::Update { chunks: differ }
    };
    Ok((action, Some(id), Some(mask)))
}
