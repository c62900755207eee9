//! Restore settings.

use std::path::PathBuf;
use std::str::FromStr;

use cairn_cas_core::Patterns;

/// The default of [`RestoreOptions::max_read`]: 256 KiB.
pub const DEFAULT_MAX_READ: u64 = 256 << 10;

/// What a restore does with an entry that already exists in the target.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overwrite {
    /// Replace every existing entry (the default).
    #[default]
    Always,
    /// Compare file contents by chunk id and fetch only the chunks that
    /// differ; entries that match get only their metadata. A file that
    /// differs is rebuilt in a fresh file (its matching chunks copied from
    /// the old one) renamed into place, never written in its old inode.
    /// This is also how an interrupted restore is resumed.
    IfChanged,
    /// Replace an entry only if the snapshot's is newer (by modification time).
    IfNewer,
    /// Never touch an existing entry.
    Never,
}

impl FromStr for Overwrite {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "always" => Ok(Overwrite::Always),
            "if-changed" => Ok(Overwrite::IfChanged),
            "if-newer" => Ok(Overwrite::IfNewer),
            "never" => Ok(Overwrite::Never),
            _ => Err(format!(
                "unknown overwrite mode {s:?} (always, if-changed, if-newer, never)"
            )),
        }
    }
}

/// Settings for a restore.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Where to restore: a snapshot path `/data/x` lands at `target/data/x`.
    pub target: PathBuf,
    /// Snapshot paths to restore (with everything below them); empty: all.
    pub include: Vec<PathBuf>,
    /// Packs fetched and written at once.
    pub concurrency: usize,
    /// Restore file ownership (uid/gid). `None`: when the target directory
    /// is root's (so running as root, into a root-owned place). Wherever an
    /// owner is not restored (off, or the `chown` failed) set-user-id and
    /// set-group-id bits are cleared, as tar and rsync do: the entry keeps
    /// the restoring user as owner, and a set-id bit would run it as them.
    pub owners: Option<bool>,
    /// What to do with entries already in the target.
    pub overwrite: Overwrite,
    /// Remove entries of the target that are not in the snapshot (only in
    /// directories restored whole).
    pub delete: bool,
    /// Snapshot paths matching these are not restored (directories with all
    /// below them); the backup's pattern language ([`Patterns`]).
    pub exclude: Patterns,
    /// When not empty, only snapshot paths matching these (with everything
    /// below a matching directory) are restored.
    pub include_patterns: Patterns,
    /// Files held open at once while their blobs arrive (beyond it, idle ones
    /// are closed and reopened later, checked to be the same file).
    pub max_open_files: usize,
    /// Restore runs of zeros in new files as holes (sparse files), as far as
    /// the chunk boundaries allow.
    pub sparse: bool,
    /// Cancels the restore: no pack is started after it is cancelled, the
    /// packs in flight finish, unfinished replacements' temporary files are
    /// removed, and the restore fails with [`crate::Error::Cancelled`].
    /// Re-running with [`Overwrite::IfChanged`] finishes the work, fetching
    /// only what is not in place yet.
    pub cancel: cairn_cas_core::CancelToken,
    /// Snapshot paths restored first, in this order (restic's and kopia's
    /// "restore this first"): the packs holding files at or below the first
    /// are fetched before the rest, then those of the second, and so on;
    /// everything else after. Paths in no file's way change nothing.
    pub priority: Vec<PathBuf>,
    /// Longest ranged read from a pack (a single larger blob is read whole;
    /// 0: runs of nearby blobs are read whole, up to a pack). It bounds the
    /// read buffers at `concurrency` times this and, as much, what the
    /// allocator keeps: glibc's malloc raises its mmap threshold to the
    /// largest buffer freed, after which whole-pack (16 MiB) buffers came
    /// from per-thread arenas that kept hundreds of MB (300 000 small files:
    /// 542 MB peak with whole packs, 275 MB with 1 MiB, 253 MB with 256 KiB;
    /// BENCHMARKS.md). The price is requests: a 16 MiB pack takes 64, one
    /// after another, which costs throughput on a high-latency store, and on
    /// an erasure layout each read is widened to whole shard blocks. Raise it
    /// there (e.g. 16 MiB) if memory allows.
    pub max_read: u64,
    /// Files planned and restored at once by [`crate::restore_snapshot`]
    /// (0, the default: all of them, one plan). With a window the tree is
    /// walked in order and each window of files is planned, fetched and
    /// written before the next is planned, so the plan's memory (its entries,
    /// chunk lists and blob reads, ~600 bytes a file) is bounded by the
    /// window, not by the snapshot's file count. What still grows: the
    /// directories (their final metadata is set deepest first at the end,
    /// one entry each) and the hard-linked files (one target path per link
    /// group, so a link in a later window finds its file). A window holds at
    /// least one file; a directory is not split from the files of its own
    /// window but may span windows.
    ///
    /// With [`priority`](Self::priority) paths or
    /// [`include_patterns`](Self::include_patterns) the restore is one window
    /// (priorities order the packs of one plan; include patterns need the
    /// whole walk to know which directories to keep). A dry run is a plan:
    /// [`crate::plan_restore`] holds every entry.
    pub window: usize,
    /// Record the restore in the repository's audit journal as a restore of
    /// this snapshot id, once it has succeeded (see
    /// [`cairn_cas_core::journal::record_restore`]). `None` (the default):
    /// not journaled. A restore that fails is not recorded; one that
    /// succeeds but cannot be recorded fails with the repository's
    /// `JournalWrite` error (the files are in place; the record is not).
    pub journal: Option<String>,
}

impl RestoreOptions {
    /// Restore everything to `target`.
    pub fn new(target: impl Into<PathBuf>) -> Self {
        RestoreOptions {
            target: target.into(),
            include: Vec::new(),
            concurrency: 4,
            owners: None,
            overwrite: Overwrite::Always,
            delete: false,
            exclude: Patterns::default(),
            include_patterns: Patterns::default(),
            max_open_files: 256,
            sparse: false,
            cancel: cairn_cas_core::CancelToken::default(),
            priority: Vec::new(),
            max_read: DEFAULT_MAX_READ,
            window: 0,
            journal: None,
        }
    }
    /// Restores only `path` (a snapshot path such as `/data/x`) and below.
    pub fn include(mut self, path: impl Into<PathBuf>) -> Self {
        self.include.push(path.into());
        self
    }
    /// Sets how many packs are fetched at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
    /// Forces restoring ownership on or off (off also clears set-id bits;
    /// see [`owners`](Self::owners)).
    pub fn owners(mut self, on: bool) -> Self {
        self.owners = Some(on);
        self
    }
    /// Sets the overwrite mode.
    pub fn overwrite(mut self, mode: Overwrite) -> Self {
        self.overwrite = mode;
        self
    }
    /// Leaves all-zero chunks of new files as holes.
    pub fn sparse(mut self, on: bool) -> Self {
        self.sparse = on;
        self
    }
    /// Sets how many files may be held open at once (at least 1).
    pub fn max_open_files(mut self, n: usize) -> Self {
        self.max_open_files = n.max(1);
        self
    }
    /// Restores only snapshot paths that `patterns` match (and what is below
    /// matching directories).
    pub fn include_patterns(mut self, patterns: Patterns) -> Self {
        self.include_patterns = patterns;
        self
    }
    /// Leaves out snapshot paths that `patterns` match.
    pub fn exclude(mut self, patterns: Patterns) -> Self {
        self.exclude = patterns;
        self
    }
    /// Sets the token that cancels this restore.
    pub fn cancel(mut self, token: cairn_cas_core::CancelToken) -> Self {
        self.cancel = token;
        self
    }
    /// Restores the files at or below the snapshot path `path` before those
    /// of paths given later, and before everything else (repeatable).
    pub fn priority(mut self, path: impl Into<PathBuf>) -> Self {
        self.priority.push(path.into());
        self
    }
    /// Sets the longest ranged read (0: whole runs of blobs).
    pub fn max_read(mut self, bytes: u64) -> Self {
        self.max_read = bytes;
        self
    }
    /// Plans and restores `files` files at a time (0: all at once); see
    /// [`window`](Self::window).
    pub fn window(mut self, files: usize) -> Self {
        self.window = files;
        self
    }
    /// Journals the restore as one of `snapshot` (see
    /// [`journal`](Self::journal)).
    pub fn journal(mut self, snapshot: impl Into<String>) -> Self {
        self.journal = Some(snapshot.into());
        self
    }
    /// Removes what is in the target but not in the snapshot.
    pub fn delete(mut self, on: bool) -> Self {
        self.delete = on;
        self
    }
}
