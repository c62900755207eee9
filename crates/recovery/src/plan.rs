//! Restore plans: what will be read from where and written to where, as a
//! value the caller can inspect (size, packs, an estimate, the diff against
//! what is already in the target) before executing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_cas_core::{Node, NodeKind, PackEntry, PackId, Patterns, Repository, Snapshot};
use cairn_crypto::ChunkId;

use crate::inspect::Inspector;
pub use crate::options::{Overwrite, RestoreOptions};
use crate::walk::Walk;
use crate::Result;

/// What the restore will do with one entry.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing is there: create it.
    Create,
    /// Something different is there: replace it (a file through a temporary
    /// file renamed over it, so readers see the old or the new one).
    Replace,
    /// A regular file whose contents partly match: fetch `chunks` chunks.
    /// The new contents go to a fresh file next to it (the matching chunks
    /// copied over from the old file, checked again) renamed over the old
    /// one: the old inode, which others may hold open, is never written.
    Update {
        /// Chunks to write.
        chunks: usize,
    },
    /// The contents match: set only owner, mode and times.
    Metadata,
    /// Leave it as it is (the overwrite mode says so).
    Keep,
}

/// One file, directory or symlink to restore.
#[derive(Debug, Clone)]
pub struct PlannedEntry {
    /// Where it goes.
    pub path: PathBuf,
    /// Its snapshot node (metadata, and contents for files).
    pub node: Node,
    /// What will be done.
    pub action: Action,
    /// Restored as a hard link to this file (its number in
    /// [`RestorePlan::files`]): it had several links when backed up, and this
    /// one is in the restore too. Nothing is fetched for it.
    pub link_to: Option<usize>,
    /// Restored as a hard link to this file, restored in an earlier window
    /// (see [`RestoreOptions::window`]).
    pub(crate) link_earlier: Option<PathBuf>,
    /// For [`Action::Update`] and [`Action::Metadata`]: the (device, inode) of
    /// the file that was compared, so a file swapped in since is not used.
    pub(crate) existing: Option<(u64, u64)>,
    /// For [`Action::Update`]: the chunks of the existing file that are
    /// already right, copied into the new one.
    pub(crate) kept: Vec<crate::update::Kept>,
}

/// One blob to fetch, and where its bytes go.
#[derive(Debug, Clone)]
pub struct BlobRead {
    /// Where it is in its pack.
    pub entry: PackEntry,
    /// (file number in [`RestorePlan::files`], offset in that file).
    pub targets: Vec<(usize, u64)>,
}

impl AsRef<PackEntry> for BlobRead {
    fn as_ref(&self) -> &PackEntry {
        &self.entry
    }
}

/// The blobs needed from one pack, by offset.
#[derive(Debug, Clone)]
pub struct PackRead {
    /// The pack.
    pub pack: PackId,
    /// The blobs, sorted by offset.
    pub blobs: Vec<BlobRead>,
}

/// A restore, planned. Inspect it, then pass it to [`restore`](crate::restore).
#[derive(Debug, Clone, Default)]
pub struct RestorePlan {
    /// Directories, parents before children.
    pub dirs: Vec<PlannedEntry>,
    /// Regular files.
    pub files: Vec<PlannedEntry>,
    /// Symbolic links.
    pub symlinks: Vec<PlannedEntry>,
    /// What to read, grouped by pack.
    pub packs: Vec<PackRead>,
    /// Files that cannot be restored whole: (file number in
    /// [`files`](Self::files), the first of its blobs in no index). The
    /// restore writes every other file and then reports these.
    pub missing: Vec<(usize, ChunkId)>,
    /// Target entries to remove (with `delete`), parents after children.
    pub delete: Vec<PathBuf>,
    /// Ranged reads are cut after this many bytes (from
    /// [`RestoreOptions::max_read`]; 0: a run of blobs is read whole).
    pub max_read: u64,
}

/// A plan summarised as a diff against the target: entry counts by action.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanDiff {
    /// Entries that do not exist yet.
    pub new: u64,
    /// Entries that exist and will be replaced or updated.
    pub changed: u64,
    /// Entries whose contents already match (metadata is set).
    pub unchanged: u64,
    /// Entries left alone by the overwrite mode.
    pub kept: u64,
    /// Entries to delete.
    pub deleted: u64,
    /// Bytes of blobs to fetch.
    pub fetch_bytes: u64,
}

impl RestorePlan {
    /// Bytes of file contents to write.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.node.size).sum()
    }
    /// Bytes to fetch: each distinct blob once, plus the gaps between blobs
    /// close enough in a pack to be read with one request.
    pub fn fetch_bytes(&self) -> u64 {
        self.packs
            .iter()
            .flat_map(|p| runs(&p.blobs, self.max_read))
            .map(|run| {
                let (first, last) = (&run[0].entry, &run[run.len() - 1].entry);
                u64::from(last.offset) + u64::from(last.length) - u64::from(first.offset)
            })
            .sum()
    }
    /// Number of distinct blobs to fetch.
    pub fn blobs(&self) -> usize {
        self.packs.iter().map(|p| p.blobs.len()).sum()
    }
    /// A time estimate at `bytes_per_sec` of fetch throughput.
    pub fn estimate(&self, bytes_per_sec: f64) -> Duration {
        Duration::from_secs_f64(self.fetch_bytes() as f64 / bytes_per_sec.max(1.0))
    }
    /// Every planned entry with its action.
    pub fn entries(&self) -> impl Iterator<Item = &PlannedEntry> {
        self.dirs.iter().chain(&self.files).chain(&self.symlinks)
    }
    /// The plan as a diff against the target.
    pub fn diff(&self) -> PlanDiff {
        let mut d = PlanDiff {
            deleted: self.delete.len() as u64,
            fetch_bytes: self.fetch_bytes(),
            ..PlanDiff::default()
        };
        for e in self.entries() {
            match e.action {
                Action::Create => d.new += 1,
                Action::Replace | Action::Update { .. } => d.changed += 1,
                Action::Metadata => d.unchanged += 1,
                Action::Keep => d.kept += 1,
            }
        }
        d
    }
}

/// Blobs closer than this in a pack are fetched with one ranged read.
const COALESCE_GAP: u64 = 256 << 10;

/// Splits a pack's blobs into runs fetched with one ranged read each.
/// Runs are cut after `max_read` bytes (0: not cut); see
/// [`RestoreOptions::max_read`].
pub(crate) fn runs(blobs: &[BlobRead], max_read: u64) -> Vec<&[BlobRead]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=blobs.len() {
        let split = i == blobs.len() || {
            let prev = &blobs[i - 1].entry;
            let end = u64::from(blobs[i].entry.offset) + u64::from(blobs[i].entry.length);
            u64::from(blobs[i].entry.offset)
                > u64::from(prev.offset) + u64::from(prev.length) + COALESCE_GAP
                || (max_read > 0 && end - u64::from(blobs[start].entry.offset) > max_read)
        };
        if split {
            out.push(&blobs[start..i]);
            start = i;
        }
    }
    out
}

/// Plans the restore of `snapshot` as `opts` says, comparing with what the
/// target already holds (through no-follow handles; nothing is changed).
///
/// The plan holds every entry of the restore (see
/// [`RestoreOptions::window`] and [`crate::restore_snapshot`] for a restore
/// whose memory does not grow with the file count).
pub async fn plan_restore(
    repo: &Repository,
    snapshot: &Snapshot,
    opts: &RestoreOptions,
) -> Result<RestorePlan> {
    let mut walk = Walk::new(repo, snapshot, opts)?;
    let mut plan = RestorePlan {
        max_read: opts.max_read,
        ..RestorePlan::default()
    };
    // Files whose contents decide (`IfChanged`), compared after the walk.
    let mut to_compare = Vec::new();
    walk.fill(&mut plan, &mut to_compare, usize::MAX).await?;
    walk.check_found()?;
    if !opts.include_patterns.is_empty() {
        keep_picked_dirs(&mut plan, &opts.include_patterns, &opts.target);
    }
    complete(
        repo,
        &walk.inspector,
        opts,
        plan,
        to_compare,
        &mut HashMap::new(),
    )
    .await
}

/// Hard-linked files already planned: (device, inode) to the target path of
/// the one restored with contents.
pub(crate) type Leaders = HashMap<(u64, u64), PathBuf>;

/// Completes a walked plan (or one window of it): compares contents, links
/// hard-linked files (to `leaders` of earlier windows too), groups the blobs
/// by pack.
pub(crate) async fn complete(
    repo: &Repository,
    inspector: &Inspector<'_>,
    opts: &RestoreOptions,
    mut plan: RestorePlan,
    to_compare: Vec<usize>,
    leaders: &mut Leaders,
) -> Result<RestorePlan> {
    plan.dirs.sort_by(|a, b| a.path.cmp(&b.path));
    // Children before their parents.
    plan.delete.sort_by(|a, b| b.cmp(a));
    let in_place = inspector.compare_all(&mut plan.files, to_compare).await?;
    crate::update::record_kept(repo, &mut plan.files, &in_place);
    link_groups(&mut plan.files, leaders);
    let first: Vec<PathBuf> = opts
        .priority
        .iter()
        .map(|p| opts.target.join(p.strip_prefix("/").unwrap_or(p)))
        .collect();
    (plan.packs, plan.missing) = group_blobs(repo, &plan.files, &in_place, &first);
    Ok(plan)
}

impl PlannedEntry {
    pub(crate) fn new(path: PathBuf, node: Node, action: Action) -> Self {
        PlannedEntry {
            path,
            node,
            action,
            link_to: None,
            link_earlier: None,
            existing: None,
            kept: Vec::new(),
        }
    }
    /// Restored as a hard link (to a file of this plan or of an earlier
    /// window): nothing is fetched for it.
    pub(crate) fn is_link(&self) -> bool {
        self.link_to.is_some() || self.link_earlier.is_some()
    }
}

/// With include patterns every directory is walked, to find what matches
/// below it: keep only those that match (or are below a match) and those on
/// the way to something restored.
fn keep_picked_dirs(plan: &mut RestorePlan, patterns: &Patterns, target: &Path) {
    let snap = |p: &Path| Path::new("/").join(p.strip_prefix(target).unwrap_or(p));
    let mut needed: HashSet<PathBuf> = HashSet::new();
    let restored = plan.files.iter().chain(&plan.symlinks).map(|e| &e.path);
    let picked_dirs = plan
        .dirs
        .iter()
        .map(|d| &d.path)
        .filter(|p| snap(p).ancestors().any(|a| patterns.matches(a, true)));
    for p in restored.chain(picked_dirs) {
        for a in p.ancestors() {
            if !needed.insert(a.to_owned()) {
                break;
            }
        }
    }
    plan.dirs.retain(|d| needed.contains(&d.path));
}

/// Files that had several links (same device and inode; version 2 trees)
/// become links to the first of them that is restored: in this plan
/// (`link_to`) or, restoring in windows, in an earlier window (by path).
fn link_groups(files: &mut [PlannedEntry], leaders: &mut Leaders) {
    let mut here: HashMap<(u64, u64), usize> = HashMap::new();
    for (n, f) in files.iter_mut().enumerate() {
        if f.node.nlink < 2 || f.node.dev == 0 || f.action == Action::Keep {
            continue;
        }
        let key = (f.node.dev, f.node.inode);
        if let Some(&l) = here.get(&key) {
            f.link_to = Some(l);
        } else if let Some(p) = leaders.get(&key) {
            f.link_earlier = Some(p.clone());
        } else {
            here.insert(key, n);
            leaders.insert(key, f.path.clone());
        }
    }
}

/// The blobs to fetch for files that get contents, grouped by pack; chunks
/// `in_place` are left out. Files with a blob in no index are returned
/// apart (none of their blobs is read).
fn group_blobs(
    repo: &Repository,
    files: &[PlannedEntry],
    in_place: &HashMap<usize, Vec<bool>>,
    priority: &[PathBuf],
) -> (Vec<PackRead>, Vec<(usize, ChunkId)>) {
    // Packs by first use, and each blob's place among them: a blob wanted by
    // several files (or twice in one) is fetched once. 8 bytes of place per
    // distinct blob instead of a second copy of its entry and pack id.
    let mut pack_slot: HashMap<PackId, u32> = HashMap::new();
    let mut packs: Vec<PackRead> = Vec::new();
    let mut place: HashMap<ChunkId, (u32, u32)> = HashMap::new();
    let mut missing = Vec::new();
    for (n, f) in files.iter().enumerate() {
        let NodeKind::File { chunks } = &f.node.kind else {
            continue;
        };
        if f.is_link()
            || !matches!(
                f.action,
                Action::Create | Action::Replace | Action::Update { .. }
            )
        {
            continue;
        }
        let locs = repo.locate(chunks);
        if let Some(i) = locs.iter().position(Option::is_none) {
            missing.push((n, chunks[i]));
            continue;
        }
        let skip = in_place.get(&n);
        let mut offset = 0u64;
        for (i, (id, loc)) in chunks.iter().zip(locs).enumerate() {
            let Some(loc) = loc else { continue };
            let at = offset;
            offset += u64::from(loc.entry.raw_length);
            if skip.and_then(|s| s.get(i)).copied().unwrap_or(false) {
                continue;
            }
            let (p, b) = *place.entry(*id).or_insert_with(|| {
                let p = *pack_slot.entry(loc.pack).or_insert_with(|| {
                    packs.push(PackRead {
                        pack: loc.pack,
                        blobs: Vec::new(),
                    });
                    (packs.len() - 1) as u32
                });
                let blobs = &mut packs[p as usize].blobs;
                blobs.push(BlobRead {
                    entry: loc.entry,
                    targets: Vec::new(),
                });
                (p, (blobs.len() - 1) as u32)
            });
            packs[p as usize].blobs[b as usize].targets.push((n, at));
        }
    }
    drop((place, pack_slot));
    let mut out = packs;
    for p in &mut out {
        p.blobs.sort_by_key(|b| b.entry.offset);
    }
    // In the order of the first file each pack serves: packs then arrive
    // roughly in backup order, so a file spread over consecutive packs is
    // completed (and closed) soon after it is opened, instead of staying open
    // until packs sorted by id happen to come round.
    // Priority paths first: a pack ranks as the most urgent file it serves.
    let rank = |n: usize| {
        priority
            .iter()
            .position(|p| files[n].path.starts_with(p))
            .unwrap_or(priority.len())
    };
    out.sort_by_cached_key(|p| {
        let targets = p.blobs.iter().flat_map(|b| &b.targets);
        let urgent = if priority.is_empty() {
            0
        } else {
            targets.clone().map(|&(n, _)| rank(n)).min().unwrap_or(0)
        };
        (urgent, targets.min().copied(), p.pack)
    });
    (out, missing)
}
