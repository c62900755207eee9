//! Browsing snapshots on the facade: one file as a seekable, verified
//! stream ([`Repository::open_file`]), every snapshot as a read-only file
//! system ([`Repository::snapshot_fs`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_browse::{FsOptions, SnapshotFs};
use cairn_cas_core::{Node, Snapshot};
use cairn_recovery::{Depth, FileReader, ReaderOptions};
use futures::{Stream, StreamExt};

use crate::{Repository, Result};

impl Repository {
    /// The file at `path` (absolute, as in the snapshot) of `snapshot` as a
    /// `futures::io::AsyncRead + AsyncSeek` stream (no runtime assumed;
    /// [`FileReader::blocking`] gives `std::io::Read + Seek`). A read
    /// fetches only the chunks it touches, verified like every read; see
    /// [`cairn_recovery::FileReader`].
    ///
    /// ```
    /// use cairn::{NoProgress, Repository, SnapshotQuery};
    /// use futures::io::{AsyncReadExt, AsyncSeekExt, SeekFrom};
    /// # cairn::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// # std::fs::write(dir.path().join("notes.txt"), b"remember the milk")?;
    /// # let opts = cairn::InitOptions::default().kdf(cairn::KdfParams::insecure_for_tests());
    /// # let repo = Repository::init_on(std::sync::Arc::new(cairn::backends::MemoryBackend::new()), b"pw", opts).await?;
    /// # repo.backup(&[dir.path().to_owned()], &cairn::BackupOptions::default(), std::sync::Arc::new(NoProgress)).await?;
    /// let (_, snap) = repo.snapshot(&SnapshotQuery::latest()).await?;
    /// let mut file = repo.open_file(&snap, dir.path().join("notes.txt")).await?;
    /// file.seek(SeekFrom::Start(9)).await?;
    /// let mut tail = String::new();
    /// file.read_to_string(&mut tail).await?;
    /// assert_eq!(tail, "the milk");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn open_file(
        &self,
        snapshot: &Snapshot,
        path: impl AsRef<Path>,
    ) -> Result<FileReader> {
        self.open_file_with(snapshot, path, ReaderOptions::default())
            .await
    }

    /// [`open_file`](Self::open_file) with the reader's cache and
    /// read-ahead set by `opts`.
    pub async fn open_file_with(
        &self,
        snapshot: &Snapshot,
        path: impl AsRef<Path>,
        opts: ReaderOptions,
    ) -> Result<FileReader> {
        let inner = Arc::clone(&self.inner);
        Ok(FileReader::open_with(inner, snapshot, path.as_ref(), opts).await?)
    }

    /// A reader of the file `node`, which the caller found in a snapshot's
    /// tree (a walk, a listing); `path` names it in errors. Nothing is
    /// fetched until it is read.
    pub fn file_reader(&self, path: &Path, node: Node, opts: ReaderOptions) -> Result<FileReader> {
        Ok(FileReader::from_node(
            Arc::clone(&self.inner),
            path,
            node,
            opts,
        )?)
    }

    /// The node at `path` of `snapshot` (`/`: a directory node for the
    /// snapshot's root), or `None`.
    pub async fn node_at(
        &self,
        snapshot: &Snapshot,
        path: impl AsRef<Path>,
    ) -> Result<Option<Node>> {
        Ok(cairn_recovery::node_at(&self.inner, snapshot.tree, path.as_ref()).await?)
    }

    /// The entries of `snapshot` at `path` (absolute, as in the snapshot;
    /// `/` for all of them) and below it as far as `depth` says, in path
    /// order: `cairn ls` and `find`. The entry at `path` comes first (not
    /// for `/`, which has no node); a directory's contents follow it.
    /// Streamed: memory follows the tree's depth, not its size (see
    /// [`cairn_recovery::list`]). Fails before yielding anything when
    /// nothing is at `path` ([`cairn_recovery::Error::NotInSnapshot`]).
    ///
    /// ```
    /// use cairn::{NoProgress, Repository, SnapshotQuery};
    /// use cairn::recovery::Depth;
    /// use futures::TryStreamExt;
    /// # cairn::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// # std::fs::create_dir(dir.path().join("d"))?;
    /// # std::fs::write(dir.path().join("d/a"), b"1")?;
    /// # std::fs::write(dir.path().join("d.txt"), b"2")?;
    /// # let opts = cairn::InitOptions::default().kdf(cairn::KdfParams::insecure_for_tests());
    /// # let repo = Repository::init_on(std::sync::Arc::new(cairn::backends::MemoryBackend::new()), b"pw", opts).await?;
    /// # repo.backup(&[dir.path().to_owned()], &cairn::BackupOptions::default(), std::sync::Arc::new(NoProgress)).await?;
    /// let (_, snap) = repo.snapshot(&SnapshotQuery::latest()).await?;
    /// let names: Vec<_> = repo
    ///     .list(&snap, dir.path(), Depth::All)
    ///     .await?
    ///     .map_ok(|(path, _node)| path.strip_prefix(dir.path()).unwrap().to_owned())
    ///     .try_collect()
    ///     .await?;
    /// let want = ["", "d", "d/a", "d.txt"].map(std::path::PathBuf::from);
    /// assert_eq!(names, want);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn list<'a>(
        &'a self,
        snapshot: &Snapshot,
        path: impl AsRef<Path>,
        depth: Depth,
    ) -> Result<impl Stream<Item = Result<(PathBuf, Node)>> + Send + 'a> {
        let entries = cairn_recovery::list(&self.inner, snapshot, path.as_ref(), depth).await?;
        Ok(entries.map(|item| item.map_err(crate::Error::from)))
    }

    /// Every readable snapshot as a read-only file system with restic's
    /// layout (`snapshots/<time>/…`, `hosts/<host>/…`, `tags/<tag>/…`, a
    /// `latest` link in each), addressed by inode (FUSE's operations) or by
    /// path ([`SnapshotFs::resolve`]). `cairn mount` is thin FUSE glue over
    /// it; an embedder serves the same view over HTTP or WebDAV: `resolve`
    /// the request path, `readdir` a directory page by page, `read` a range
    /// (or `open` a reader and seek), and answer a failure with
    /// [`cairn_browse::Error::errno`]. Memory is bounded by
    /// [`FsOptions::max_inodes`], not by the number of files browsed.
    ///
    /// ```
    /// use cairn::{FsOptions, NoProgress, Repository};
    /// # cairn::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// # std::fs::write(dir.path().join("notes.txt"), b"remember the milk")?;
    /// # let opts = cairn::InitOptions::default().kdf(cairn::KdfParams::insecure_for_tests());
    /// # let repo = Repository::init_on(std::sync::Arc::new(cairn::backends::MemoryBackend::new()), b"pw", opts).await?;
    /// # repo.backup(&[dir.path().to_owned()], &cairn::BackupOptions::default(), std::sync::Arc::new(NoProgress)).await?;
    /// let fs = repo.snapshot_fs(FsOptions::default()).await?;
    /// let path = std::path::Path::new("/snapshots/latest")
    ///     .join(dir.path().strip_prefix("/")?)
    ///     .join("notes.txt");
    /// let file = fs.resolve(&path).await?;
    /// assert_eq!(fs.read(file.ino, 9, 64).await?, b"the milk");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn snapshot_fs(&self, opts: FsOptions) -> Result<SnapshotFs> {
        Ok(SnapshotFs::new(Arc::clone(&self.inner), opts).await?)
    }
}
