//! `cairn-browse`: a repository's snapshots as a read-only file system —
//! the view `cairn mount` serves over FUSE, and that an embedder can serve
//! over HTTP or WebDAV ([`SnapshotFs`]).
//!
//! ```
//! use std::path::Path;
//! use std::sync::Arc;
//! use cairn_archiver::{backup, BackupOptions, NoProgress};
//! use cairn_backends::MemoryBackend;
//! use cairn_browse::{EntryKind, FsOptions, SnapshotFs};
//! use cairn_cas_core::{InitOptions, Repository};
//! use cairn_crypto::KdfParams;
//!
//! # futures::executor::block_on(async {
//! let src = tempfile::tempdir()?;
//! std::fs::write(src.path().join("notes.txt"), b"remember the milk")?;
//! let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
//! let repo = Repository::init(Arc::new(MemoryBackend::new()), b"pw", opts).await?;
//! backup(&repo, &[src.path().to_owned()], &BackupOptions::default(), Arc::new(NoProgress)).await?;
//!
//! let fs = SnapshotFs::new(Arc::new(repo), FsOptions::default()).await?;
//! let file = Path::new("/snapshots/latest").join(src.path().strip_prefix("/")?).join("notes.txt");
//! let attr = fs.resolve(&file).await?;
//! assert_eq!((attr.kind, attr.size), (EntryKind::File, 17));
//! assert_eq!(fs.read(attr.ino, 9, 100).await?, b"the milk");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # What this crate owns
//!
//! The layout above the snapshots (restic's: `snapshots/`, `hosts/`,
//! `tags/`, `latest` links), the bounded inode table, paged listings from
//! the snapshots' trees, and reads through `cairn-recovery`'s seekable
//! [`FileReader`]. It is on the floor above recovery, below the facade
//! (`cairn::SnapshotFs`, `Repository::snapshot_fs`); its failures carry a
//! POSIX error number ([`Error::errno`]).

// This crate serves names as raw bytes and sits on cairn-recovery: Unix only,
// said here in one line rather than by a page of unresolved imports.
#[cfg(not(unix))]
compile_error!("cairn-browse supports Unix targets only (it sits on cairn-recovery); the repository crates below it build on other targets: see ARCHITECTURE.md, Platforms");

mod error;
mod layout;
mod table;

use std::collections::VecDeque;
use std::path::{Component, Path};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use cairn_cas_core::{Node, NodeKind, Repository, Snapshot, SnapshotId, Timestamp, Tree};
use cairn_crypto::ChunkId;
use futures::io::{AsyncReadExt, AsyncSeekExt, SeekFrom};

pub use layout::SnapshotNames;

use cairn_recovery::{FileReader, ReaderOptions};

pub use error::{Error, Result};
use layout::{Fixed, Layout};
use table::{Body, Table};

/// The inode of the view's root directory.
pub const ROOT_INODE: u64 = 1;

/// The most bytes one [`SnapshotFs::read`] returns (a longer read is cut).
pub const MAX_READ_LEN: usize = 16 << 20;

/// Tuning of a [`SnapshotFs`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy)]
pub struct FsOptions {
    /// Entries inside snapshots kept in the inode table (at least 1): more
    /// only while more are held (looked up and not forgotten). About 200
    /// bytes each, whatever the file's size.
    pub max_inodes: usize,
    /// Decoded directory listings kept (at least 1), so that listing a
    /// directory page by page decodes its tree once.
    pub cached_trees: usize,
    /// How snapshot directories are named.
    pub names: SnapshotNames,
    /// The readers [`SnapshotFs::open`] returns.
    pub reader: ReaderOptions,
}

impl Default for FsOptions {
    fn default() -> Self {
        FsOptions {
            max_inodes: 65_536,
            cached_trees: 32,
            names: SnapshotNames::Time,
            reader: ReaderOptions::default(),
        }
    }
}

impl FsOptions {
    /// Sets [`max_inodes`](Self::max_inodes).
    pub fn max_inodes(mut self, n: usize) -> Self {
        self.max_inodes = n;
        self
    }

    /// Sets [`names`](Self::names).
    pub fn names(mut self, names: SnapshotNames) -> Self {
        self.names = names;
        self
    }
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
}

/// An entry's attributes, as `stat` shows them.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// Its inode in this view.
    pub ino: u64,
    /// What it is.
    pub kind: EntryKind,
    /// Bytes (a link: its target's length; a directory: 0).
    pub size: u64,
    /// Permission bits (`0o7777`).
    pub perm: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Last modification (the layout's directories: their newest snapshot).
    pub mtime: SystemTime,
    /// Last status change.
    pub ctime: SystemTime,
    /// Links (directories: 1, which tells `find` not to count on it).
    pub nlink: u32,
}

impl Attr {
    pub(crate) fn synthetic(ino: u64, kind: EntryKind, perm: u32, time: SystemTime) -> Attr {
        Attr {
            ino,
            kind,
            size: 0,
            perm,
            uid: 0,
            gid: 0,
            mtime: time,
            ctime: time,
            nlink: 1,
        }
    }
}

fn system_time(t: Timestamp) -> SystemTime {
    let at = Duration::new(t.sec.unsigned_abs(), t.nsec.min(999_999_999));
    let time = match t.sec >= 0 {
        true => SystemTime::UNIX_EPOCH.checked_add(at),
        false => SystemTime::UNIX_EPOCH.checked_sub(at),
    };
    time.unwrap_or(SystemTime::UNIX_EPOCH)
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Its inode (not held: a later `lookup` of the name holds one).
    pub ino: u64,
    /// What it is.
    pub kind: EntryKind,
    /// Its name (raw bytes).
    pub name: Vec<u8>,
    /// The offset of the entry after it: pass it to the next
    /// [`SnapshotFs::readdir`] to go on.
    pub next: u64,
}

/// The inode table's figures.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsStats {
    /// Snapshots in the view.
    pub snapshots: usize,
    /// Entries inside snapshots in the table now.
    pub inodes: usize,
    /// Of those, held (looked up and not forgotten).
    pub held: usize,
    /// The table's cap ([`FsOptions::max_inodes`]).
    pub cap: usize,
    /// Entries evicted so far.
    pub evicted: u64,
}

/// Where a directory's entries come from.
enum Listing<'a> {
    Fixed(&'a [(Box<[u8]>, u64)]),
    Tree(ChunkId),
}

/// A read-only file system over a repository's snapshots, with restic's
/// layout (`snapshots/<time>/…`, `hosts/<host>/…`, `tags/<tag>/…`, and a
/// `latest` link in each; see [`SnapshotNames`]), addressed by inode like
/// FUSE (`lookup`, `getattr`, `readdir`, `readlink`, `open`/`read`,
/// `forget`) or by path ([`resolve`](Self::resolve)).
///
/// - **Listings** come from the snapshot's trees, a page at a time
///   ([`readdir`](Self::readdir) with an offset): a directory's tree is
///   decoded once while it is in a small cache, not once per page.
/// - **Files** are read through [`FileReader`]: only the chunks a read
///   touches are fetched, each verified, with read-ahead for a sequential
///   reader.
/// - **Memory** is bounded. The layout above the snapshots costs a few
///   entries per snapshot. Entries inside snapshots live in a table capped
///   at [`FsOptions::max_inodes`]: `lookup` holds an entry until `forget`
///   takes the references back (FUSE's protocol), and entries nobody holds
///   are evicted least recently used first. When more than the cap are
///   held, [`over_cap`](Self::over_cap) names the oldest, so a FUSE mount
///   can ask the kernel to forget them. An evicted inode is never reused:
///   asked for again it is [`Error::StaleInode`].
///
/// The view is of the snapshots given when it is made; make a new one to
/// see later ones. Methods take `&self` and may be called from several
/// threads at once. No runtime is assumed: the futures run on any
/// executor (`cairn mount` blocks on them on FUSE's threads).
///
/// An HTTP or WebDAV server maps a request path with
/// [`resolve`](Self::resolve) (which holds nothing), lists with
/// [`readdir`](Self::readdir), and serves ranges with
/// [`read`](Self::read), or [`open`](Self::open) and a seek for a stream.
/// [`Error::errno`] gives the POSIX error number of a failure. (Example:
/// the facade's `Repository::snapshot_fs`.)
pub struct SnapshotFs {
    repo: Arc<Repository>,
    layout: Layout,
    table: Mutex<Table>,
    trees: Mutex<VecDeque<(ChunkId, Arc<Tree>)>>,
    opts: FsOptions,
}

impl std::fmt::Debug for SnapshotFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotFs")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl SnapshotFs {
    /// A view of every readable snapshot of `repo` (a damaged record is
    /// left out, as listings do).
    pub async fn new(repo: Arc<Repository>, opts: FsOptions) -> Result<SnapshotFs> {
        let (snaps, _unreadable) = repo.readable_snapshots().await?;
        Ok(Self::with_snapshots(repo, &snaps, opts))
    }

    /// A view of `snaps` (oldest first, as the repository lists them), for
    /// an embedder that shows a selection.
    pub fn with_snapshots(
        repo: Arc<Repository>,
        snaps: &[(SnapshotId, Snapshot)],
        opts: FsOptions,
    ) -> SnapshotFs {
        let layout = Layout::build(snaps, opts.names);
        let table = Table::new(layout.end(), opts.max_inodes);
        SnapshotFs {
            repo,
            layout,
            table: Mutex::new(table),
            trees: Mutex::new(VecDeque::new()),
            opts,
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The attributes of `ino`.
    pub fn getattr(&self, ino: u64) -> Result<Attr> {
        if let Some(e) = self.layout.get(ino) {
            return Ok(e.attr.clone());
        }
        let mut t = self.table();
        let e = t.get(ino).ok_or(Error::StaleInode { ino })?;
        Ok(e.attr.clone())
    }

    /// The entry `name` of the directory `parent`, holding one reference
    /// to it until [`forget`](Self::forget) (FUSE's `lookup`).
    pub async fn lookup(&self, parent: u64, name: &[u8]) -> Result<Attr> {
        self.lookup_in(parent, name, true).await
    }

    /// Takes `n` references to `ino` back (FUSE's `forget`).
    pub fn forget(&self, ino: u64, n: u64) {
        self.table().forget(ino, n);
    }

    /// The entry at `path` (absolute in this view: `/snapshots/latest/…`),
    /// holding nothing: for callers that do not track references. A
    /// `latest` link in the path is followed; `..` is refused.
    pub async fn resolve(&self, path: &Path) -> Result<Attr> {
        let mut at = self.getattr(ROOT_INODE)?;
        for part in path.components() {
            let name = match part {
                Component::RootDir | Component::CurDir => continue,
                Component::Normal(n) => std::os::unix::ffi::OsStrExt::as_bytes(n),
                Component::ParentDir | Component::Prefix(_) => {
                    return Err(Error::NoEntry {
                        parent: at.ino,
                        name: "..".into(),
                    })
                }
            };
            at = self.follow(at)?;
            at = self.lookup_in(at.ino, name, false).await?;
        }
        self.follow(at)
    }

    /// `at`, or the snapshot directory it names if it is a `latest` link.
    fn follow(&self, at: Attr) -> Result<Attr> {
        match self.layout.get(at.ino).map(|e| &e.body) {
            Some(Fixed::Link { to, .. }) => self.getattr(*to),
            _ => Ok(at),
        }
    }

    async fn lookup_in(&self, parent: u64, name: &[u8], hold: bool) -> Result<Attr> {
        let no_entry = || Error::NoEntry {
            parent,
            name: String::from_utf8_lossy(name).into_owned(),
        };
        let tree = match self.listing(parent)? {
            Listing::Fixed(children) => {
                let i = children
                    .binary_search_by(|(n, _)| (**n).cmp(name))
                    .map_err(|_| no_entry())?;
                return self.getattr(children[i].1);
            }
            Listing::Tree(tree) => tree,
        };
        if let Some(known) = self.table().find(parent, name, hold) {
            return Ok(known);
        }
        let listing = self.tree(tree).await?;
        let index = listing
            .nodes
            .binary_search_by(|n| n.name.as_slice().cmp(name))
            .map_err(|_| no_entry())?;
        let (attr, body) = entry_of(tree, index, &listing.nodes[index]);
        Ok(self.table().insert(parent, name, attr, body, hold))
    }

    fn body_of(&self, ino: u64) -> Result<Body> {
        let mut t = self.table();
        let e = t.get(ino).ok_or(Error::StaleInode { ino })?;
        Ok(e.body.clone())
    }

    fn listing(&self, ino: u64) -> Result<Listing<'_>> {
        if let Some(e) = self.layout.get(ino) {
            return match &e.body {
                Fixed::Dir(children) => Ok(Listing::Fixed(children)),
                Fixed::Snapshot { tree } => Ok(Listing::Tree(*tree)),
                Fixed::Link { .. } => Err(self.wrong_kind(ino, EntryKind::Dir)),
            };
        }
        match self.body_of(ino)? {
            Body::Dir { subtree } => Ok(Listing::Tree(subtree)),
            _ => Err(self.wrong_kind(ino, EntryKind::Dir)),
        }
    }

    fn wrong_kind(&self, ino: u64, wanted: EntryKind) -> Error {
        let is = |a: Attr| Error::WrongKind {
            ino,
            is: a.kind,
            wanted,
        };
        self.getattr(ino).map_or_else(|e| e, is)
    }

    /// The directory's tree, decoded, from the cache or the repository.
    async fn tree(&self, id: ChunkId) -> Result<Arc<Tree>> {
        let lock = || self.trees.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, t)) = lock().iter().find(|(i, _)| *i == id) {
            return Ok(Arc::clone(t));
        }
        let tree = Arc::new(self.repo.load_tree(&id).await?);
        let mut cache = lock();
        cache.push_back((id, Arc::clone(&tree)));
        while cache.len() > self.opts.cached_trees.max(1) {
            cache.pop_front();
        }
        Ok(tree)
    }

    /// Up to `max` entries of the directory `ino` from `offset` (0 for the
    /// first; then the last entry's [`DirEntry::next`]), sorted by name.
    /// An empty page: the end. (No `.` or `..`: a FUSE server adds them.)
    pub async fn readdir(&self, ino: u64, offset: u64, max: usize) -> Result<Vec<DirEntry>> {
        let from = usize::try_from(offset).unwrap_or(usize::MAX);
        let tree = match self.listing(ino)? {
            Listing::Fixed(children) => {
                let page = children.iter().enumerate().skip(from).take(max);
                let kind = |ino| self.layout.get(ino).map_or(EntryKind::Dir, |e| e.attr.kind);
                return Ok(page
                    .map(|(i, (name, child))| DirEntry {
                        ino: *child,
                        kind: kind(*child),
                        name: name.to_vec(),
                        next: i as u64 + 1,
                    })
                    .collect());
            }
            Listing::Tree(tree) => tree,
        };
        let listing = self.tree(tree).await?;
        let mut table = self.table();
        let page = listing.nodes.iter().enumerate().skip(from).take(max);
        Ok(page
            .map(|(i, node)| {
                let (attr, body) = entry_of(tree, i, node);
                let attr = table.insert(ino, &node.name, attr, body, false);
                DirEntry {
                    ino: attr.ino,
                    kind: attr.kind,
                    name: node.name.clone(),
                    next: i as u64 + 1,
                }
            })
            .collect())
    }

    /// The target of the symlink `ino`.
    pub fn readlink(&self, ino: u64) -> Result<Vec<u8>> {
        if let Some(e) = self.layout.get(ino) {
            return match &e.body {
                Fixed::Link { target, .. } => Ok(target.to_vec()),
                _ => Err(self.wrong_kind(ino, EntryKind::Symlink)),
            };
        }
        match self.body_of(ino)? {
            Body::Symlink { target } => Ok(target.into_vec()),
            _ => Err(self.wrong_kind(ino, EntryKind::Symlink)),
        }
    }

    /// A seekable, verified reader of the file `ino` (see [`FileReader`]);
    /// keep it for the file's reads to profit from its cache and
    /// read-ahead.
    pub async fn open(&self, ino: u64) -> Result<FileReader> {
        let Body::File { tree, index } = (match self.layout.get(ino) {
            Some(_) => return Err(self.wrong_kind(ino, EntryKind::File)),
            None => self.body_of(ino)?,
        }) else {
            return Err(self.wrong_kind(ino, EntryKind::File));
        };
        let listing = self.tree(tree).await?;
        let node = usize::try_from(index)
            .ok()
            .and_then(|i| listing.nodes.get(i))
            .ok_or(Error::StaleInode { ino })?;
        let path = Path::new(node.name_os());
        Ok(FileReader::from_node(
            Arc::clone(&self.repo),
            path,
            node.clone(),
            self.opts.reader,
        )?)
    }

    /// Up to `len` bytes (at most [`MAX_READ_LEN`]) of the file `ino` from
    /// `offset`: fewer only at the end of the file. Opens a reader for the
    /// call; [`open`](Self::open) one to read a file in many calls.
    pub async fn read(&self, ino: u64, offset: u64, len: usize) -> Result<Vec<u8>> {
        let mut reader = self.open(ino).await?;
        let io = |e| Error::io(format!("inode {ino}"), e);
        let len = len.min(MAX_READ_LEN) as u64;
        let len = len.min(reader.len().saturating_sub(offset));
        reader.seek(SeekFrom::Start(offset)).await.map_err(io)?;
        let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        (&mut reader)
            .take(len)
            .read_to_end(&mut out)
            .await
            .map_err(io)?;
        Ok(out)
    }

    /// The inode table's figures.
    pub fn stats(&self) -> FsStats {
        let (inodes, held, cap, evicted) = self.table().figures();
        FsStats {
            snapshots: self.layout.snapshots,
            inodes,
            held,
            cap,
            evicted,
        }
    }

    /// When more entries are held than the cap: up to `n` of the least
    /// recently used held ones, as (parent inode, name). A FUSE server asks
    /// the kernel to forget them (`notify_inval_entry`, from a thread that
    /// is not serving a request), and the kernel's `forget`s bring the
    /// table back under its cap.
    pub fn over_cap(&self, n: usize) -> Vec<(u64, Vec<u8>)> {
        self.table().over_cap(n)
    }
}

/// The table entry of `node`, the `index`th of the tree `tree`.
fn entry_of(tree: ChunkId, index: usize, node: &Node) -> (Attr, Body) {
    let index = u32::try_from(index).unwrap_or(u32::MAX);
    let (kind, size, body) = match &node.kind {
        NodeKind::File { .. } => (EntryKind::File, node.size, Body::File { tree, index }),
        NodeKind::Dir { subtree } => (EntryKind::Dir, 0, Body::Dir { subtree: *subtree }),
        NodeKind::Symlink { target } => {
            let body = Body::Symlink {
                target: Box::from(target.as_slice()),
            };
            (EntryKind::Symlink, target.len() as u64, body)
        }
    };
    let attr = Attr {
        ino: 0,
        kind,
        size,
        perm: node.mode & 0o7777,
        uid: node.uid,
        gid: node.gid,
        mtime: system_time(node.mtime),
        ctime: system_time(node.ctime),
        nlink: if kind == EntryKind::File {
            node.nlink.max(1)
        } else {
            1
        },
    };
    (attr, body)
}
