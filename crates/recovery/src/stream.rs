//! A restore planned and run one window of files at a time, so that its
//! memory is bounded by [`RestoreOptions::window`] rather than by the
//! snapshot's file count.

use std::sync::Arc;
use std::time::Instant;

use cairn_cas_core::{Repository, Snapshot};

use crate::plan::{complete, Action, Leaders, PlannedEntry, RestoreOptions, RestorePlan};
use crate::restore::{dirs_metadata, run_window, RestoreProgress, RestoreSummary};
use crate::walk::Walk;
use crate::{plan_restore, restore_owned, Error, Result};

/// Plans and restores `snapshot` as `opts` says, [`RestoreOptions::window`]
/// files at a time: the tree is walked in order, each window is planned
/// (compared with the target, hard links resolved, blobs grouped by pack),
/// fetched and written, then dropped before the next is planned.
/// Directories get their final metadata after the last window, deepest
/// first; a hard link to a file of an earlier window is linked to it there.
///
/// Everything else is as [`plan_restore`] then [`restore_owned`] (which is
/// what runs for a window of 0, with priorities or with include patterns):
/// overwrite modes and resume, `delete` (each directory's extra entries are
/// removed in the window that reaches the directory), cancellation (checked
/// between packs and between windows). A pack holding blobs of files in
/// several windows is read once per window. A pack or blob that fails does
/// not stop the later windows: the failures of all are reported in
/// [`Error::Incomplete`] at the end, after directory metadata.
pub async fn restore_snapshot(
    repo: &Repository,
    snapshot: &Snapshot,
    opts: &RestoreOptions,
    progress: Arc<dyn RestoreProgress>,
) -> Result<RestoreSummary> {
    if opts.window == 0 || !opts.priority.is_empty() || !opts.include_patterns.is_empty() {
        let plan = plan_restore(repo, snapshot, opts).await?;
        return restore_owned(repo, plan, opts, progress).await;
    }
    let started = Instant::now();
    let mut walk = Walk::new(repo, snapshot, opts)?;
    // Nothing is restored when an include path is not in the snapshot.
    walk.check_includes(snapshot).await?;
    let mut leaders = Leaders::new();
    let mut dirs: Vec<PlannedEntry> = Vec::new();
    let mut total = RestoreSummary::default();
    let mut failed: Option<(usize, Box<Error>, Vec<std::path::PathBuf>)> = None;
    loop {
        if opts.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let mut plan = RestorePlan {
            max_read: opts.max_read,
            ..RestorePlan::default()
        };
        let mut to_compare = Vec::new();
        let more = walk.fill(&mut plan, &mut to_compare, opts.window).await?;
        let plan = complete(repo, &walk.inspector, opts, plan, to_compare, &mut leaders).await?;
        dirs.extend(
            plan.dirs
                .iter()
                .filter(|d| d.action != Action::Keep)
                .map(compact_dir),
        );
        match run_window(repo, plan, opts, progress.clone()).await {
            Ok(s) => add(&mut total, s),
            Err(Error::Incomplete {
                failed: n,
                first,
                files,
            }) => match &mut failed {
                Some((count, _, all)) => {
                    *count += n;
                    all.extend(files);
                }
                None => failed = Some((n, first, files)),
            },
            Err(e) => return Err(e),
        }
        if !more {
            break;
        }
    }
    walk.check_found()?;
    dirs.sort_by(|a, b| a.path.cmp(&b.path));
    total
        .warnings
        .extend(dirs_metadata(repo, dirs, opts).await?);
    total.duration = started.elapsed();
    if let Some((failed, first, mut files)) = failed {
        files.sort();
        return Err(Error::Incomplete {
            failed,
            first,
            files,
        });
    }
    crate::restore::journaled(repo, opts, total).await
}

/// What a directory's final metadata needs, without the rest of its entry.
fn compact_dir(d: &PlannedEntry) -> PlannedEntry {
    let mut node = d.node.clone();
    node.name = Vec::new();
    PlannedEntry::new(d.path.clone(), node, d.action)
}

/// Adds a window's summary to the restore's.
fn add(total: &mut RestoreSummary, s: RestoreSummary) {
    total.files += s.files;
    total.files_unchanged += s.files_unchanged;
    total.dirs += s.dirs;
    total.symlinks += s.symlinks;
    total.hardlinks += s.hardlinks;
    total.kept += s.kept;
    total.deleted += s.deleted;
    total.bytes_written += s.bytes_written;
    total.bytes_fetched += s.bytes_fetched;
    total.packs_read += s.packs_read;
    total.warnings.extend(s.warnings);
    total.windows += s.windows;
    total.largest_window = total.largest_window.max(s.largest_window);
}
