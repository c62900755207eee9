//! The walker thread: walks the source, compares with the parent snapshot,
//! reads, chunks, hashes and deduplicates, and builds the trees.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use cairn_chunking::{ChunkerConfig, StreamChunker};
use cairn_crypto::ChunkId;
use futures::channel::{mpsc, oneshot};

use super::srcfs::{self, At, Kind, Meta};
use super::vroot::{virtual_root, VNode};
use super::warning::{Warning, WarningKind};
use super::workers::{send, Job, JobQueue, Shared, ToDriver};
use super::{BackupProgress, Source};
use crate::blob::BlobKind;
use crate::index::Index;
use crate::snapshot::BackupSummary;
use crate::tree::{Node, NodeKind, Timestamp, Tree};
use crate::{Error, Result};

/// Files smaller than this are read in one block of their own size.
const SMALL_FILE_BLOCK: u64 = 4 << 20;

fn node_from(name: Vec<u8>, kind: NodeKind, meta: &Meta) -> Node {
    Node {
        name,
        kind,
        mode: meta.mode,
        uid: meta.uid,
        gid: meta.gid,
        mtime: meta.mtime,
        ctime: meta.ctime,
        inode: meta.ino,
        size: meta.size,
        dev: meta.dev,
        nlink: meta.nlink,
        xattrs: Vec::new(),
    }
}

/// What the walker hands back.
pub(crate) struct WalkOutput {
    pub(crate) root: ChunkId,
    pub(crate) summary: BackupSummary,
    pub(crate) warnings: Vec<Warning>,
}

pub(crate) struct Walker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) index: Arc<RwLock<Index>>,
    pub(crate) chunker: ChunkerConfig,
    pub(crate) jobs: JobQueue,
    pub(crate) to_driver: mpsc::Sender<ToDriver>,
    pub(crate) progress: Arc<dyn BackupProgress>,
    // Ids of blobs queued by this backup and not yet in the index.
    pub(crate) seen: HashSet<ChunkId>,
    pub(crate) summary: BackupSummary,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) filter: crate::Filter,
    /// The device of the path given to the backup being walked, for
    /// `one_file_system`.
    pub(crate) fs_dev: Option<u64>,
    /// The caller's cancellation, polled at every entry and chunk.
    pub(crate) cancel: crate::CancelToken,
}

impl Walker {
    pub(crate) fn run(mut self, source: Source, parent: Option<ChunkId>) -> Result<WalkOutput> {
        let root = match source {
            Source::Paths(paths) => match virtual_root(&paths) {
                VNode::Target(p) => {
                    self.fs_dev = std::fs::metadata(&p).ok().map(|m| {
                        use std::os::unix::fs::MetadataExt;
                        m.dev()
                    });
                    self.dir_contents(&p, None, parent)?
                }
                VNode::Dir(children) => self.virtual_dir(Path::new("/"), &children, parent)?,
            },
            Source::Stream { name, reader } => self.stream(name, reader)?,
        };
        self.jobs.flush().map_err(|()| {
            self.shared.take_error().unwrap_or(Error::Internal {
                what: "the compression workers stopped".into(),
            })
        })?;
        Ok(WalkOutput {
            root,
            summary: self.summary,
            warnings: self.warnings,
        })
    }

    pub(crate) fn warn(&mut self, path: &Path, message: String) {
        self.summary.errors += 1;
        self.warning(path, message, WarningKind::Skipped);
    }

    pub(crate) fn warning(&mut self, path: &Path, message: String, kind: WarningKind) {
        let w = Warning {
            path: path.to_owned(),
            message,
            kind,
        };
        self.progress.warning(&w);
        self.warnings.push(w);
    }

    fn check_abort(&self) -> Result<()> {
        if self.shared.aborted() {
            return Err(self.shared.take_error().unwrap_or(Error::Internal {
                what: "backup aborted".into(),
            }));
        }
        self.cancel.check()
    }

    fn is_stored(&self, id: &ChunkId) -> bool {
        self.seen.contains(id)
            || self
                .index
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(id)
    }

    fn store(&mut self, kind: BlobKind, id: ChunkId, data: Bytes) -> Result<()> {
        if self.is_stored(&id) {
            return Ok(());
        }
        self.seen.insert(id);
        self.jobs.push(Job { kind, id, data }).map_err(|()| {
            self.shared.take_error().unwrap_or(Error::Internal {
                what: "the compression workers stopped".into(),
            })
        })
    }

    fn parent_tree(&mut self, id: Option<ChunkId>, path: &Path) -> Option<Tree> {
        let id = id?;
        let (tx, rx) = oneshot::channel();
        send(&mut self.to_driver, ToDriver::LoadTree(id, tx)).ok()?;
        match futures::executor::block_on(rx) {
            Ok(Ok(tree)) => Some(tree),
            Ok(Err(e)) => {
                // Without the parent's listing every file here is read again:
                // slower, never wrong.
                self.warn(
                    path,
                    format!("parent snapshot's tree unreadable, reading all files: {e}"),
                );
                None
            }
            Err(_) => None,
        }
    }

    fn save_tree(&mut self, mut tree: Tree) -> Result<ChunkId> {
        tree.sort();
        let bytes = tree.encode();
        let id = self.shared.keys.chunk_id_key().id(&bytes);
        self.store(BlobKind::Tree, id, Bytes::from(bytes))?;
        Ok(id)
    }

    fn virtual_dir(
        &mut self,
        path: &Path,
        children: &BTreeMap<Vec<u8>, VNode>,
        parent: Option<ChunkId>,
    ) -> Result<ChunkId> {
        let parent = self.parent_tree(parent, path);
        let mut tree = Tree::default();
        for (name, child) in children {
            let old = parent.as_ref().and_then(|t| t.find(name));
            let node = match child {
                VNode::Target(p) => {
                    let at = At {
                        dir: None,
                        path: p,
                        name: OsStr::from_bytes(name),
                    };
                    self.entry(at, name.clone(), old)?
                }
                VNode::Dir(sub) => {
                    let p = path.join(OsStr::from_bytes(name));
                    match std::fs::symlink_metadata(&p) {
                        Err(e) => {
                            self.warn(&p, e.to_string());
                            None
                        }
                        Ok(meta) => {
                            let old_sub = old.and_then(|n| match n.kind {
                                NodeKind::Dir { subtree } => Some(subtree),
                                _ => None,
                            });
                            let subtree = self.virtual_dir(&p, sub, old_sub)?;
                            let meta = Meta::from_std(&meta);
                            Some(node_from(name.clone(), NodeKind::Dir { subtree }, &meta))
                        }
                    }
                }
            };
            tree.nodes.extend(node);
        }
        self.save_tree(tree)
    }

    /// The directory `path` (open as `dir`, or opened by path for a backup
    /// of `/`): its entries are stat'ed and opened relative to its handle.
    fn dir_contents(
        &mut self,
        path: &Path,
        dir: Option<OwnedFd>,
        parent: Option<ChunkId>,
    ) -> Result<ChunkId> {
        let parent = self.parent_tree(parent, path);
        let dir = match dir {
            Some(d) => Some(d),
            None => match std::fs::File::open(path) {
                Ok(f) => Some(OwnedFd::from(f)),
                Err(e) => {
                    self.warn(path, format!("cannot list directory: {e}"));
                    None
                }
            },
        };
        let mut names = match dir.as_ref().map(|d| srcfs::list(d.as_fd())) {
            Some(Ok(names)) => names,
            Some(Err(e)) => {
                self.warn(path, format!("cannot list directory: {e}"));
                Vec::new()
            }
            None => Vec::new(),
        };
        names.sort();
        let mut tree = Tree::default();
        for name in names {
            let p = path.join(OsStr::from_bytes(&name));
            let old = parent.as_ref().and_then(|t| t.find(&name));
            let at = At {
                dir: dir.as_ref().map(|d| d.as_fd()),
                path: &p,
                name: OsStr::from_bytes(&name),
            };
            tree.nodes.extend(self.entry(at, name.clone(), old)?);
        }
        self.save_tree(tree)
    }

    /// Backs up one file-system entry; `None` if it was skipped.
    fn entry(&mut self, at: At<'_>, name: Vec<u8>, old: Option<&Node>) -> Result<Option<Node>> {
        self.check_abort()?;
        let path = at.path;
        let meta = match srcfs::lstat(at) {
            Ok(m) => m,
            Err(e) => {
                self.warn(path, e.to_string());
                return Ok(None);
            }
        };
        if at.dir.is_none() {
            // A path given to the backup: its file system is the one to stay on.
            self.fs_dev = Some(meta.dev);
        }
        if self.left_out(path, &meta) {
            return Ok(None);
        }
        match meta.kind {
            Kind::Dir => {
                let fd = match srcfs::open_dir(at, &meta) {
                    Ok(fd) => fd,
                    Err(e) => {
                        self.skipped(path, e);
                        return Ok(None);
                    }
                };
                if self.tagged(fd.as_fd()) {
                    return Ok(None);
                }
                self.summary.dirs += 1;
                let old_sub = old.and_then(|n| match n.kind {
                    NodeKind::Dir { subtree } => Some(subtree),
                    _ => None,
                });
                let xattrs = srcfs::xattrs(fd.as_fd());
                let subtree = self.dir_contents(path, Some(fd), old_sub)?;
                let mut node = node_from(name, NodeKind::Dir { subtree }, &meta);
                node.xattrs = xattrs;
                Ok(Some(node))
            }
            Kind::Symlink => match srcfs::readlink(at) {
                Ok(target) => {
                    self.summary.symlinks += 1;
                    Ok(Some(node_from(name, NodeKind::Symlink { target }, &meta)))
                }
                Err(e) => {
                    self.warn(path, e.to_string());
                    Ok(None)
                }
            },
            Kind::File => self.file(at, name, &meta, old),
            Kind::Special => {
                self.warn(
                    path,
                    "special file (device, FIFO or socket) not backed up".into(),
                );
                Ok(None)
            }
        }
    }

    fn unchanged(&self, meta: &Meta, old: &Node) -> Option<Vec<ChunkId>> {
        let NodeKind::File { chunks } = &old.kind else {
            return None;
        };
        let same = old.size == meta.size
            && old.mtime == meta.mtime
            && old.ctime == meta.ctime
            && old.inode == meta.ino;
        // The parent's blobs must still be indexed (a damaged or pruned
        // repository may have lost them): otherwise read the file again.
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        (same && chunks.iter().all(|c| index.contains(c))).then(|| chunks.clone())
    }

    fn file(
        &mut self,
        at: At<'_>,
        name: Vec<u8>,
        meta: &Meta,
        old: Option<&Node>,
    ) -> Result<Option<Node>> {
        let path = at.path;
        self.progress.file(path, meta.size);
        if let Some((chunks, o)) = old.and_then(|o| Some((self.unchanged(meta, o)?, o))) {
            self.summary.files_unchanged += 1;
            self.summary.total_bytes += meta.size;
            self.progress.bytes(meta.size);
            let mut node = node_from(name, NodeKind::File { chunks }, meta);
            // Attributes change the ctime, so the parent's are current; a
            // version 1 parent (nlink 0) recorded none: read them.
            node.xattrs = if o.nlink != 0 {
                o.xattrs.clone()
            } else {
                srcfs::open_file(at, meta)
                    .map(|(f, _)| srcfs::xattrs(f.as_fd()))
                    .unwrap_or_default()
            };
            return Ok(Some(node));
        }
        let (file, opened) = match srcfs::open_file(at, meta) {
            Ok(f) => f,
            Err(e) => {
                self.skipped(path, e);
                return Ok(None);
            }
        };
        match self.chunk_reader(&file, path, Some(opened.size)) {
            Ok((chunks, size)) => {
                if old.is_some() {
                    self.summary.files_changed += 1;
                } else {
                    self.summary.files_new += 1;
                }
                self.summary.total_bytes += size;
                self.torn(path, &file, &opened, size);
                let mut node = node_from(name, NodeKind::File { chunks }, &opened);
                node.size = size;
                node.xattrs = srcfs::xattrs(file.as_fd());
                Ok(Some(node))
            }
            // A file that vanishes or fails mid-read is skipped, not fatal.
            Err(Error::Chunking { source, .. }) => {
                self.warn(path, format!("read failed, file skipped: {source}"));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn chunk_reader(
        &mut self,
        reader: impl Read,
        path: &Path,
        size_hint: Option<u64>,
    ) -> Result<(Vec<ChunkId>, u64)> {
        let mut chunks = Vec::new();
        let mut size = 0u64;
        let mut chunker = StreamChunker::new(reader, self.chunker);
        if let Some(hint) = size_hint {
            // Most files are small: a read block sized to the file (plus one
            // byte to see EOF) instead of the multi-MiB default saves
            // allocating and zeroing megabytes per file.
            let block = (hint.saturating_add(1)).clamp(4096, SMALL_FILE_BLOCK) as usize;
            if block < SMALL_FILE_BLOCK as usize {
                chunker = chunker
                    .with_read_size(block)
                    .map_err(|source| Error::Chunking {
                        path: path.to_owned(),
                        source,
                    })?;
            }
        }
        for chunk in chunker {
            let chunk = chunk.map_err(|source| Error::Chunking {
                path: path.to_owned(),
                source,
            })?;
            self.check_abort()?;
            let id = self.shared.keys.chunk_id_key().id(&chunk.data);
            let n = chunk.data.len() as u64;
            size += n;
            self.summary.bytes_read += n;
            self.progress.bytes(n);
            self.store(BlobKind::Data, id, chunk.data)?;
            chunks.push(id);
        }
        Ok((chunks, size))
    }

    fn stream(&mut self, name: Vec<u8>, reader: Box<dyn Read + Send>) -> Result<ChunkId> {
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(&name));
        let (chunks, size) = self.chunk_reader(reader, &path, None)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let t = Timestamp {
            sec: now.as_secs() as i64,
            nsec: now.subsec_nanos(),
        };
        self.summary.files_new += 1;
        self.summary.total_bytes += size;
        let node = Node {
            name,
            kind: NodeKind::File { chunks },
            mode: 0o100644,
            uid: 0,
            gid: 0,
            mtime: t,
            ctime: t,
            inode: 0,
            size,
            dev: 0,
            nlink: 1,
            xattrs: Vec::new(),
        };
        self.save_tree(Tree { nodes: vec![node] })
    }
}
