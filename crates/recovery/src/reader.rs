//! One file of a snapshot as a seekable stream: [`FileReader`]
//! (`futures::io::AsyncRead + AsyncSeek`, no runtime assumed) and its
//! blocking adapter [`BlockingFileReader`] (`std::io::Read + Seek`).
//!
//! How it reads is documented on [`FileReader`] (this module is private).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use cairn_cas_core::{BlobLocation, Node, NodeKind, PackEntry, PackId, Repository, TreeId};
use futures::future::BoxFuture;
use futures::io::{AsyncRead, AsyncSeek};
use futures::FutureExt;

use crate::{Error, Result};

/// Tuning of a [`FileReader`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy)]
pub struct ReaderOptions {
    /// Opened chunks kept in memory (at least 1). Memory: this many times
    /// the repository's largest chunk.
    pub cache_blobs: usize,
    /// Chunks fetched ahead of a sequential read (capped at
    /// `cache_blobs - 1`, so read-ahead never evicts the chunk being read).
    pub readahead: usize,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            cache_blobs: 8,
            readahead: 3,
        }
    }
}

impl ReaderOptions {
    /// Sets [`cache_blobs`](Self::cache_blobs).
    pub fn cache_blobs(mut self, n: usize) -> Self {
        self.cache_blobs = n;
        self
    }

    /// Sets [`readahead`](Self::readahead).
    pub fn readahead(mut self, n: usize) -> Self {
        self.readahead = n;
        self
    }
}

/// The node at `path` in the tree `root` (`/` and an empty path: the root
/// directory itself, as a node with an empty name). `None` when nothing is
/// there; a `..` component names nothing.
pub async fn node_at(repo: &Repository, root: TreeId, path: &Path) -> Result<Option<Node>> {
    let mut node = root_node(root);
    for part in path.components() {
        let name = match part {
            Component::RootDir | Component::CurDir => continue,
            Component::Normal(n) => n,
            Component::ParentDir | Component::Prefix(_) => return Ok(None),
        };
        let NodeKind::Dir { subtree } = &node.kind else {
            return Ok(None);
        };
        let tree = repo.load_tree(subtree).await?;
        match tree.find(std::os::unix::ffi::OsStrExt::as_bytes(name)) {
            Some(n) => node = n.clone(),
            None => return Ok(None),
        }
    }
    Ok(Some(node))
}

/// A directory node standing for the tree `root` (a snapshot has no node
/// of its own for its root).
pub fn root_node(root: TreeId) -> Node {
    Node {
        name: Vec::new(),
        kind: NodeKind::Dir {
            subtree: root.chunk_id(),
        },
        mode: 0o040_755,
        uid: 0,
        gid: 0,
        mtime: Default::default(),
        ctime: Default::default(),
        inode: 0,
        size: 0,
        dev: 0,
        nlink: 0,
        xattrs: Vec::new(),
    }
}

/// One chunk of the file: where it is stored and where it starts.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: u64,
    loc: BlobLocation,
}

/// Chunks fetched by one request batch: (chunk indices, plaintext).
type Fetched = Vec<(Vec<usize>, Arc<[u8]>)>;

/// A seekable, verified stream of one file of a snapshot.
///
/// A file node stores only its chunk ids; where each chunk starts in the
/// file comes from the index: the prefix sums of the chunks' plaintext
/// lengths (`raw_length` of each index entry), computed once when the file
/// is opened (a chunk the index does not know fails the open, naming it).
/// A read fetches only the chunks it touches, through
/// [`Repository::read_blobs`], which verifies every blob (AEAD tag, then the
/// chunk id of the plaintext) before its bytes are used; the length of each
/// plaintext is checked against the index too, since the offsets depend on
/// it.
///
/// Opened chunks are kept in a small cache bounded by a count of blobs
/// ([`ReaderOptions::cache_blobs`]; memory is at most that many times the
/// repository's largest chunk). A read that starts where the previous one
/// ended continues a run; once a run has read a whole chunk (or began at
/// the start of the file) it is a stream, and the next chunk it needs is
/// fetched together with the next [`ReaderOptions::readahead`] ones (neighbours in one pack with one ranged
/// read), so a stream does not pay one round trip per chunk. Any other read
/// fetches only what it touches: a read no longer than the repository's
/// minimum chunk size (128 KiB by default) fetches one chunk, or two when it
/// straddles a boundary, whatever the file's size.
///
/// ```
/// use std::sync::Arc;
/// use cairn_backends::MemoryBackend;
/// use cairn_archiver::{backup, BackupOptions, NoProgress};
/// use cairn_cas_core::{InitOptions, Repository};
/// use cairn_crypto::KdfParams;
/// use cairn_recovery::FileReader;
/// use futures::io::{AsyncReadExt, AsyncSeekExt, SeekFrom};
///
/// # futures::executor::block_on(async {
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("note"), b"read me back")?;
/// let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
/// let repo = Arc::new(Repository::init(Arc::new(MemoryBackend::new()), b"pw", opts).await?);
/// let done = backup(&repo, &[dir.path().to_owned()], &BackupOptions::default(), Arc::new(NoProgress)).await?;
///
/// let mut file = FileReader::open(repo, &done.snapshot, &dir.path().join("note")).await?;
/// file.seek(SeekFrom::Start(5)).await?;
/// let mut rest = String::new();
/// file.read_to_string(&mut rest).await?;
/// assert_eq!(rest, "me back");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct FileReader {
    repo: Arc<Repository>,
    path: PathBuf,
    node: Node,
    pieces: Vec<Piece>,
    size: u64,
    pos: u64,
    /// Where the previous read ended: a read from here is sequential.
    sequential_from: u64,
    /// Where the current run of sequential reads began.
    run_start: u64,
    opts: ReaderOptions,
    /// Opened chunks by index, least recently used first.
    cache: VecDeque<(usize, Arc<[u8]>)>,
    fetching: Option<BoxFuture<'static, Result<Fetched>>>,
}

impl std::fmt::Debug for FileReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileReader")
            .field("path", &self.path)
            .field("size", &self.size)
            .field("pos", &self.pos)
            .field("chunks", &self.pieces.len())
            .finish_non_exhaustive()
    }
}

impl FileReader {
    /// Opens the file at `path` (absolute, as in the snapshot) of
    /// `snapshot`, with the default [`ReaderOptions`].
    pub async fn open(
        repo: Arc<Repository>,
        snapshot: &cairn_cas_core::Snapshot,
        path: &Path,
    ) -> Result<FileReader> {
        Self::open_with(repo, snapshot, path, ReaderOptions::default()).await
    }

    /// Opens the file at `path` of `snapshot` with `opts`. Fails with
    /// [`Error::NotInSnapshot`] when nothing is there, [`Error::NotAFile`]
    /// for a directory or symlink, and with the repository's
    /// `MissingBlob` when a chunk of the file is in no index.
    pub async fn open_with(
        repo: Arc<Repository>,
        snapshot: &cairn_cas_core::Snapshot,
        path: &Path,
        opts: ReaderOptions,
    ) -> Result<FileReader> {
        let node =
            node_at(&repo, snapshot.tree, path)
                .await?
                .ok_or_else(|| Error::NotInSnapshot {
                    path: path.to_owned(),
                })?;
        Self::from_node(repo, path, node, opts)
    }

    /// A reader of the file `node` (found by the caller, e.g. in a
    /// directory listing); `path` names it in errors.
    pub fn from_node(
        repo: Arc<Repository>,
        path: &Path,
        node: Node,
        opts: ReaderOptions,
    ) -> Result<FileReader> {
        let NodeKind::File { chunks } = &node.kind else {
            return Err(Error::NotAFile {
                path: path.to_owned(),
            });
        };
        let mut pieces = Vec::with_capacity(chunks.len());
        let mut start = 0u64;
        for (id, loc) in chunks.iter().zip(repo.locate(chunks)) {
            let loc = loc.ok_or(cairn_cas_core::Error::MissingBlob { id: *id })?;
            pieces.push(Piece { start, loc });
            start += u64::from(loc.entry.raw_length);
        }
        let opts = ReaderOptions {
            cache_blobs: opts.cache_blobs.max(1),
            readahead: opts.readahead.min(opts.cache_blobs.max(1) - 1),
        };
        Ok(FileReader {
            repo,
            path: path.to_owned(),
            node,
            pieces,
            size: start,
            pos: 0,
            sequential_from: 0,
            run_start: 0,
            opts,
            cache: VecDeque::new(),
            fetching: None,
        })
    }

    /// The file's length: the sum of its chunks' lengths.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The file's node (metadata, chunk ids).
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The path it was opened by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A blocking `Read + Seek` adapter (each call runs the future to
    /// completion on the calling thread: not for use on an async executor's
    /// thread).
    pub fn blocking(self) -> BlockingFileReader {
        BlockingFileReader(self)
    }

    /// The index of the chunk holding byte `pos` (`pos < size`).
    fn piece_at(&self, pos: u64) -> usize {
        self.pieces
            .partition_point(|p| p.start <= pos)
            .saturating_sub(1)
    }

    fn cached(&mut self, i: usize) -> Option<Arc<[u8]>> {
        let at = self.cache.iter().position(|(j, _)| *j == i)?;
        let hit = self.cache.remove(at)?;
        let blob = Arc::clone(&hit.1);
        self.cache.push_back(hit);
        Some(blob)
    }

    fn remember(&mut self, fetched: Fetched) {
        for (indices, blob) in fetched {
            for i in indices {
                self.cache.retain(|(j, _)| *j != i);
                self.cache.push_back((i, Arc::clone(&blob)));
            }
        }
        while self.cache.len() > self.opts.cache_blobs {
            self.cache.pop_front();
        }
    }

    /// Whether reads are streaming through chunk `i`: the run of
    /// sequential reads began at the start of the file or has read the
    /// whole previous chunk. (One read straddling a boundary, or two
    /// halves of it, is not a stream: it fetches no more than it touches.)
    fn streaming(&self, i: usize) -> bool {
        self.run_start == 0
            || i.checked_sub(1)
                .is_some_and(|p| self.run_start <= self.pieces[p].start)
    }

    /// Starts fetching chunk `i`, and the next ones too when the read is
    /// sequential.
    fn start_fetch(&mut self, i: usize, sequential: bool) {
        let ahead = if sequential { self.opts.readahead } else { 0 };
        let last = (i + ahead).min(self.pieces.len() - 1);
        let want: Vec<(usize, Piece)> = (i..=last)
            .filter(|j| *j == i || !self.cache.iter().any(|(c, _)| c == j))
            .map(|j| (j, self.pieces[j]))
            .collect();
        self.fetching = Some(fetch(Arc::clone(&self.repo), want).boxed());
    }
}

/// One blob to read and the chunk indices it stands for (a file may hold
/// one chunk several times).
struct Wanted {
    entry: PackEntry,
    indices: Vec<usize>,
}

impl AsRef<PackEntry> for Wanted {
    fn as_ref(&self) -> &PackEntry {
        &self.entry
    }
}

/// Fetches `want`: per pack, runs of blobs that lie next to each other are
/// read with one request, the runs concurrently.
async fn fetch(repo: Arc<Repository>, want: Vec<(usize, Piece)>) -> Result<Fetched> {
    let mut by_pack: HashMap<PackId, BTreeMap<u32, Wanted>> = HashMap::new();
    for (i, p) in want {
        by_pack
            .entry(p.loc.pack)
            .or_default()
            .entry(p.loc.entry.offset)
            .or_insert(Wanted {
                entry: p.loc.entry,
                indices: Vec::new(),
            })
            .indices
            .push(i);
    }
    let out: Arc<Mutex<Fetched>> = Arc::default();
    let mut reads = Vec::new();
    for (pack, blobs) in by_pack {
        let mut run: Vec<Wanted> = Vec::new();
        for (_, w) in blobs {
            let adjacent = run.last().is_some_and(|l| {
                u64::from(l.entry.offset) + u64::from(l.entry.length) == u64::from(w.entry.offset)
            });
            if !adjacent && !run.is_empty() {
                reads.push(read_run(&repo, pack, std::mem::take(&mut run), &out));
            }
            run.push(w);
        }
        reads.push(read_run(&repo, pack, run, &out));
    }
    futures::future::try_join_all(reads).await?;
    let fetched = std::mem::take(&mut *out.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(fetched)
}

fn read_run<'a>(
    repo: &'a Repository,
    pack: PackId,
    run: Vec<Wanted>,
    out: &Arc<Mutex<Fetched>>,
) -> impl std::future::Future<Output = Result<u64>> + Send + 'a {
    let out = Arc::clone(out);
    let object = pack.key();
    async move {
        let read = repo.read_blobs(pack, run, move |w: &Wanted, plain| {
            if plain.len() as u64 != u64::from(w.entry.raw_length) {
                return Err(cairn_cas_core::Error::Corrupt {
                    object: object.clone(),
                    reason: format!(
                        "blob {} holds {} bytes, the index says {}",
                        w.entry.id,
                        plain.len(),
                        w.entry.raw_length
                    ),
                });
            }
            let blob: Arc<[u8]> = Arc::from(plain);
            out.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((w.indices.clone(), blob));
            Ok(())
        });
        Ok(read.await?)
    }
}

fn io_error(e: Error) -> io::Error {
    let kind = match &e {
        Error::Repository(
            cairn_cas_core::Error::Authentication { .. }
            | cairn_cas_core::Error::ChunkIdMismatch { .. }
            | cairn_cas_core::Error::Corrupt { .. },
        ) => io::ErrorKind::InvalidData,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

impl AsyncRead for FileReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if buf.is_empty() || this.pos >= this.size {
                return Poll::Ready(Ok(0));
            }
            if this.pos != this.sequential_from {
                this.run_start = this.pos;
            }
            let i = this.piece_at(this.pos);
            if let Some(blob) = this.cached(i) {
                let from = usize::try_from(this.pos - this.pieces[i].start).unwrap_or(usize::MAX);
                let avail = blob.get(from..).unwrap_or_default();
                let n = avail.len().min(buf.len());
                buf[..n].copy_from_slice(&avail[..n]);
                this.pos += n as u64;
                this.sequential_from = this.pos;
                return Poll::Ready(Ok(n));
            }
            if this.fetching.is_none() {
                this.start_fetch(i, this.streaming(i));
            }
            let Some(f) = this.fetching.as_mut() else {
                continue;
            };
            let done = std::task::ready!(f.poll_unpin(cx));
            this.fetching = None;
            // A fetch started before a seek may hold other chunks: they are
            // cached all the same, and the loop fetches again if need be.
            this.remember(done.map_err(io_error)?);
        }
    }
}

impl AsyncSeek for FileReader {
    fn poll_seek(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        let to = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => this.size.checked_add_signed(d),
            SeekFrom::Current(d) => this.pos.checked_add_signed(d),
        };
        Poll::Ready(match to {
            Some(n) => {
                this.pos = n;
                Ok(n)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek to a negative or overflowing position",
            )),
        })
    }
}

/// [`FileReader`] as `std::io::Read + Seek`: each call blocks the calling
/// thread until it is done (`futures::executor::block_on`).
#[derive(Debug)]
pub struct BlockingFileReader(FileReader);

impl BlockingFileReader {
    /// The reader it wraps.
    pub fn into_inner(self) -> FileReader {
        self.0
    }

    /// The file's length.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl io::Read for BlockingFileReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        futures::executor::block_on(futures::io::AsyncReadExt::read(&mut self.0, buf))
    }
}

impl io::Seek for BlockingFileReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        futures::executor::block_on(futures::io::AsyncSeekExt::seek(&mut self.0, pos))
    }
}
