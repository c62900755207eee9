//! Planning against what the target already holds: for each snapshot entry,
//! what is at its place (looked at through no-follow handles, never changed),
//! and so what the overwrite mode says to do.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use cairn_cas_core::{Node, NodeKind, Repository};

use crate::plan::{Action, Overwrite, RestoreOptions};
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
    target: Option<Target>,
    root: std::path::PathBuf,
    mode: Overwrite,
}

fn newer(node: &Node, seen: &Found) -> bool {
    seen.mtime()
        .is_none_or(|t| (node.mtime.sec, i64::from(node.mtime.nsec)) > t)
}

impl<'a> Inspector<'a> {
    pub(crate) fn new(repo: &'a Repository, opts: &RestoreOptions) -> Result<Self> {
        let target = Target::open(&opts.target, false).map_err(|e| Error::io(&opts.target, e))?;
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

    /// The action for a file, the identity of the file compared and, for
    /// `Update`, which chunks are already in place.
    #[allow(clippy::type_complexity)]
    pub(crate) fn file_action(
        &self,
        dir: Option<&OwnedFd>,
        node: &Node,
        seen: Found,
        state: DirState,
    ) -> Result<(Action, Option<(u64, u64)>, Option<Vec<bool>>)> {
        let action = match (state, seen, self.mode) {
            (DirState::Blocked, _, _) => Action::Keep,
            (_, Found::Missing, _) => Action::Create,
            (_, _, Overwrite::Always) => Action::Replace,
            (_, _, Overwrite::Never) => Action::Keep,
            (_, _, Overwrite::IfNewer) if newer(node, &seen) => Action::Replace,
            (_, _, Overwrite::IfNewer) => Action::Keep,
            (_, Found::File { nlink: 1, .. }, _) => match dir {
                Some(d) => return self.compare(d, node),
                None => Action::Replace,
            },
            _ => Action::Replace,
        };
        Ok((action, None, None))
    }

    /// Compares the file at `node`'s place chunk by chunk.
    #[allow(clippy::type_complexity)]
    fn compare(
        &self,
        dir: &OwnedFd,
        node: &Node,
    ) -> Result<(Action, Option<(u64, u64)>, Option<Vec<bool>>)> {
        let path = || self.root.join(node.name_os());
        let NodeKind::File { chunks } = &node.kind else {
            return Ok((Action::Replace, None, None));
        };
        let Some(file) = target::open_in_place(dir.as_fd(), node.name_os(), false)
            .map_err(|e| Error::io(path(), e))?
        else {
            return Ok((Action::Replace, None, None));
        };
        let id = target::identity(file.as_fd()).map_err(|e| Error::io(path(), e))?;
        let size = file.metadata().map_err(|e| Error::io(path(), e))?.len();
        let lengths: Vec<Option<u32>> = {
            let index = self.repo.index();
            chunks
                .iter()
                .map(|c| index.get(c).map(|l| l.entry.raw_length))
                .collect()
        };
        let key = self.repo.keys().chunk_id_key();
        let mut mask = Vec::with_capacity(chunks.len());
        let (mut offset, mut buf) = (0u64, Vec::new());
        for (c, len) in chunks.iter().zip(lengths) {
            let Some(len) = len else {
                // Not in the index: planning fails later with its id.
                mask.push(false);
                continue;
            };
            buf.resize(len as usize, 0);
            let same = file.read_exact_at(&mut buf, offset).is_ok() && key.id(&buf) == *c;
            mask.push(same);
            offset += u64::from(len);
        }
        let differ = mask.iter().filter(|m| !**m).count();
        let action = if differ == 0 && size == node.size {
            Action::Metadata
        } else {
            Action::Update { chunks: differ }
        };
        Ok((action, Some(id), Some(mask)))
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
