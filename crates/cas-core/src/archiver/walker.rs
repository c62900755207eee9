//! The walker thread: walks the source, compares with the parent snapshot,
//! reads, chunks, hashes and deduplicates, and builds the trees.

use std::collections::{BTreeMap, HashSet};
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use cairn_chunking::{ChunkerConfig, StreamChunker};
use cairn_crypto::ChunkId;
use futures::channel::{mpsc, oneshot};

use super::workers::{send, Job, Shared, ToDriver};
use super::{BackupProgress, Source};
use crate::blob::BlobKind;
use crate::index::Index;
use crate::snapshot::BackupSummary;
use crate::tree::{Node, NodeKind, Timestamp, Tree};
use crate::{Error, Result};

/// Files smaller than this are read in one block of their own size.
const SMALL_FILE_BLOCK: u64 = 4 << 20;

/// An entry that could not be backed up; the backup went on without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The path concerned.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// The paths given to a backup, arranged as the directories that lead to them.
enum VNode {
    Target(PathBuf),
    Dir(BTreeMap<Vec<u8>, VNode>),
}

fn virtual_root(paths: &[PathBuf]) -> VNode {
    fn insert(node: &mut VNode, parts: &[Vec<u8>], target: &Path) {
        // A target whose ancestor is itself a target is already covered.
        let VNode::Dir(children) = node else { return };
        match parts {
            [] => {}
            [last] => {
                children.insert(last.clone(), VNode::Target(target.to_owned()));
            }
            [first, rest @ ..] => insert(
                children
                    .entry(first.clone())
                    .or_insert_with(|| VNode::Dir(BTreeMap::new())),
                rest,
                target,
            ),
        }
    }
    let mut root = VNode::Dir(BTreeMap::new());
    // Sorted, so an ancestor is inserted before its descendants.
    for p in paths {
        let parts: Vec<Vec<u8>> = p
            .components()
            .filter_map(|c| match c {
                std::path::Component::Normal(s) => Some(s.as_bytes().to_vec()),
                _ => None,
            })
            .collect();
        if parts.is_empty() {
            // "/" itself: everything is below it.
            return VNode::Target(p.clone());
        }
        insert(&mut root, &parts, p);
    }
    root
}

fn ts(sec: i64, nsec: i64) -> Timestamp {
    Timestamp {
        sec,
        nsec: nsec.clamp(0, 999_999_999) as u32,
    }
}

fn node_from(name: Vec<u8>, kind: NodeKind, meta: &Metadata) -> Node {
    Node {
        name,
        kind,
        mode: meta.mode(),
        uid: meta.uid(),
        gid: meta.gid(),
        mtime: ts(meta.mtime(), meta.mtime_nsec()),
        ctime: ts(meta.ctime(), meta.ctime_nsec()),
        inode: meta.ino(),
        size: if meta.is_dir() { 0 } else { meta.len() },
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
    pub(crate) jobs: crossbeam_channel::Sender<Job>,
    pub(crate) to_driver: mpsc::Sender<ToDriver>,
    pub(crate) progress: Arc<dyn BackupProgress>,
    // Ids of blobs queued by this backup and not yet in the index.
    pub(crate) seen: HashSet<ChunkId>,
    pub(crate) summary: BackupSummary,
    pub(crate) warnings: Vec<Warning>,
}

impl Walker {
    pub(crate) fn run(mut self, source: Source, parent: Option<ChunkId>) -> Result<WalkOutput> {
        let root = match source {
            Source::Paths(paths) => match virtual_root(&paths) {
                VNode::Target(p) => self.dir_contents(&p, parent)?,
                VNode::Dir(children) => self.virtual_dir(Path::new("/"), &children, parent)?,
            },
            Source::Stream { name, reader } => self.stream(name, reader)?,
        };
        Ok(WalkOutput {
            root,
            summary: self.summary,
            warnings: self.warnings,
        })
    }

    fn warn(&mut self, path: &Path, message: String) {
        let w = Warning {
            path: path.to_owned(),
            message,
        };
        self.progress.warning(&w);
        self.summary.errors += 1;
        self.warnings.push(w);
    }

    fn check_abort(&self) -> Result<()> {
        if self.shared.aborted() {
            return Err(self.shared.take_error().unwrap_or(Error::Internal {
                what: "backup aborted".into(),
            }));
        }
        Ok(())
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
        self.jobs.send(Job { kind, id, data }).map_err(|_| {
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
                VNode::Target(p) => self.entry(p, name.clone(), old)?,
                VNode::Dir(sub) => {
                    let p = path.join(std::ffi::OsStr::from_bytes(name));
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
                            Some(node_from(name.clone(), NodeKind::Dir { subtree }, &meta))
                        }
                    }
                }
            };
            tree.nodes.extend(node);
        }
        self.save_tree(tree)
    }

    fn dir_contents(&mut self, path: &Path, parent: Option<ChunkId>) -> Result<ChunkId> {
        let parent = self.parent_tree(parent, path);
        let mut names: Vec<Vec<u8>> = Vec::new();
        match std::fs::read_dir(path) {
            Err(e) => self.warn(path, format!("cannot list directory: {e}")),
            Ok(rd) => {
                for entry in rd {
                    match entry {
                        Ok(e) => names.push(e.file_name().as_bytes().to_vec()),
                        Err(e) => self.warn(path, format!("cannot list directory: {e}")),
                    }
                }
            }
        }
        names.sort();
        let mut tree = Tree::default();
        for name in names {
            let p = path.join(std::ffi::OsStr::from_bytes(&name));
            let old = parent.as_ref().and_then(|t| t.find(&name));
            tree.nodes.extend(self.entry(&p, name, old)?);
        }
        self.save_tree(tree)
    }

    /// Backs up one file-system entry; `None` if it was skipped.
    fn entry(&mut self, path: &Path, name: Vec<u8>, old: Option<&Node>) -> Result<Option<Node>> {
        self.check_abort()?;
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) => {
                self.warn(path, e.to_string());
                return Ok(None);
            }
        };
        let ft = meta.file_type();
        if ft.is_dir() {
            self.summary.dirs += 1;
            let old_sub = old.and_then(|n| match n.kind {
                NodeKind::Dir { subtree } => Some(subtree),
                _ => None,
            });
            let subtree = self.dir_contents(path, old_sub)?;
            Ok(Some(node_from(name, NodeKind::Dir { subtree }, &meta)))
        } else if ft.is_symlink() {
            match std::fs::read_link(path) {
                Ok(target) => {
                    self.summary.symlinks += 1;
                    let target = target.as_os_str().as_bytes().to_vec();
                    Ok(Some(node_from(name, NodeKind::Symlink { target }, &meta)))
                }
                Err(e) => {
                    self.warn(path, e.to_string());
                    Ok(None)
                }
            }
        } else if ft.is_file() {
            self.file(path, name, &meta, old)
        } else {
            self.warn(
                path,
                "special file (device, FIFO or socket) not backed up".into(),
            );
            Ok(None)
        }
    }

    fn unchanged(&self, meta: &Metadata, old: &Node) -> Option<Vec<ChunkId>> {
        let NodeKind::File { chunks } = &old.kind else {
            return None;
        };
        let same = old.size == meta.len()
            && old.mtime == ts(meta.mtime(), meta.mtime_nsec())
            && old.ctime == ts(meta.ctime(), meta.ctime_nsec())
            && old.inode == meta.ino();
        // The parent's blobs must still be indexed (a damaged or pruned
        // repository may have lost them): otherwise read the file again.
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        (same && chunks.iter().all(|c| index.contains(c))).then(|| chunks.clone())
    }

    fn file(
        &mut self,
        path: &Path,
        name: Vec<u8>,
        meta: &Metadata,
        old: Option<&Node>,
    ) -> Result<Option<Node>> {
        self.progress.file(path, meta.len());
        if let Some(chunks) = old.and_then(|o| self.unchanged(meta, o)) {
            self.summary.files_unchanged += 1;
            self.summary.total_bytes += meta.len();
            self.progress.bytes(meta.len());
            return Ok(Some(node_from(name, NodeKind::File { chunks }, meta)));
        }
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.warn(path, e.to_string());
                return Ok(None);
            }
        };
        match self.chunk_reader(file, path, Some(meta.len())) {
            Ok((chunks, size)) => {
                if old.is_some() {
                    self.summary.files_changed += 1;
                } else {
                    self.summary.files_new += 1;
                }
                self.summary.total_bytes += size;
                let mut node = node_from(name, NodeKind::File { chunks }, meta);
                node.size = size;
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
        };
        self.save_tree(Tree { nodes: vec![node] })
    }
}
