//! A backend over a directory of the local file system.

mod fsops;
mod walk;

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::{validate_key, Backend, Error, ObjectMeta, PutMode, Result};

/// A [`Backend`] that stores each object as a file under a root directory;
/// the key `a/b/c` is the file `<root>/a/b/c`. Clones share the root.
///
/// - **Durable, never partial.** A put writes a temporary file
///   (`.cairn-tmp-<random>`, a name no key can have) in the target directory,
///   fsyncs it, moves it into place, then fsyncs the directory (and, the first
///   time this process uses a directory, the directory's parent). A crash
///   leaves either the old object, the new one, or nothing — plus perhaps a
///   stray temporary file, which [`list`](Backend::list) and every read ignore.
/// - **Create-only is atomic.** [`PutMode::CreateOnly`] moves the temporary
///   file into place with a hard link, which the OS refuses if the name
///   exists: of two racing create-only puts, exactly one wins. The file system
///   must support hard links (every local Unix file system does).
///   [`PutMode::Overwrite`] uses `rename`, so readers see the old or the new
///   object whole.
/// - **Keys stay under the root.** Keys are checked by
///   [`validate_key`] (no `..`, no absolute keys), and each segment must be a
///   plain file name on this platform. Symbolic links *inside* the root are
///   followed when reading, so whoever can write to the root can point a key
///   elsewhere: the root must only be writable by its owner.
/// - **Objects are files, so `a` and `a/b` cannot both exist**: such a put
///   fails with [`Error::KeyConflict`]. Directories left empty by deletes are
///   kept (later puts reuse them; removing them would race with those puts),
///   except that a put of `a` removes an empty directory `a`.
/// - Blocking file I/O runs on the [`blocking`] thread pool, so the futures
///   work under any executor. Listing reads one directory at a time, at most a
///   page of entries per step, never the whole tree at once; it ignores files
///   whose names are not valid keys (foreign files), and follows symbolic
///   links to files but not to directories (no loops).
///
/// ```
/// use bytes::Bytes;
/// use cairn_backends::{Backend, LocalBackend, PutMode};
/// # let dir = tempfile::tempdir().unwrap();
/// # futures::executor::block_on(async {
/// let store = LocalBackend::new(dir.path().join("repo"))?;
/// store.put("data/ab/abcd", Bytes::from_static(b"hello"), PutMode::CreateOnly).await?;
/// assert_eq!(store.get_range("data/ab/abcd", 1..3).await?, Bytes::from_static(b"el"));
/// # Ok::<(), cairn_backends::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct LocalBackend {
    inner: Arc<Shared>,
}

/// What every clone of a [`LocalBackend`] shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The canonical root directory.
    pub(crate) root: PathBuf,
    /// Directories whose entry in their parent this process has fsynced (so
    /// a put into them need not fsync the parent again).
    pub(crate) durable_dirs: Mutex<HashSet<PathBuf>>,
}

impl LocalBackend {
    /// A store rooted at `root`, which is created (with its parents) if
    /// missing: the same as [`LocalBackend::create`]. This does blocking
    /// I/O; call it before entering async code or through
    /// [`blocking::unblock`].
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        Self::create(root)
    }

    /// A store rooted at `root`, created (with its parents) if missing: for
    /// a new repository.
    pub fn create(root: impl AsRef<Path>) -> Result<Self> {
        Self::at(root.as_ref(), true)
    }

    /// A store rooted at the existing directory `root`. A missing root is
    /// [`Error::NotFound`] (naming it), never created: an unmounted disk
    /// (`/mnt/disk-a` gone) must not silently become an empty store on the
    /// root file system. A root that is not a directory is [`Error::Io`].
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        Self::at(root.as_ref(), false)
    }

    fn at(given: &Path, create: bool) -> Result<Self> {
        let io = |source| Error::Io {
            key: given.display().to_string(),
            source,
        };
        if create {
            std::fs::create_dir_all(given).map_err(io)?;
        } else {
            match std::fs::metadata(given) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(io(std::io::Error::new(
                        std::io::ErrorKind::NotADirectory,
                        "the repository root is not a directory",
                    )))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::NotFound {
                        key: given.display().to_string(),
                    })
                }
                Err(e) => return Err(io(e)),
            }
        }
        // Canonical, so a later change of the working directory or of a
        // symbolic link on the way does not move the store.
        let root = std::fs::canonicalize(given).map_err(io)?;
        if let Some(parent) = root.parent() {
            fsops::sync_dir(parent).map_err(io)?;
        }
        Ok(Self {
            inner: Arc::new(Shared {
                root,
                durable_dirs: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// The root directory (canonicalized).
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The file that holds `key`, once `key` is checked.
    fn path(&self, key: &str) -> Result<PathBuf> {
        key_path(&self.inner.root, key)
    }

    /// Runs `f` on the blocking thread pool with the shared state, the key and
    /// its path.
    async fn run<T: Send + 'static>(
        &self,
        key: &str,
        f: impl FnOnce(&Shared, &str, &Path) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let path = self.path(key)?;
        let shared = Arc::clone(&self.inner);
        let key = key.to_owned();
        blocking::unblock(move || f(&shared, &key, &path)).await
    }
}

/// `root` joined with the segments of `key`, refusing keys that are invalid
/// or whose segments are not plain file names here (on Windows `C:` would
/// replace the path).
pub(crate) fn key_path(root: &Path, key: &str) -> Result<PathBuf> {
    validate_key(key)?;
    let mut path = root.to_path_buf();
    for segment in key.split('/') {
        let mut components = Path::new(segment).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(name)), None) if name == segment => path.push(segment),
            _ => {
                return Err(Error::InvalidKey {
                    key: key.to_owned(),
                    reason: "path segment is not a plain file name on this platform",
                })
            }
        }
    }
    Ok(path)
}

#[async_trait]
impl Backend for LocalBackend {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        self.run(key, move |shared, key, path| {
            fsops::put(shared, key, path, &data, mode)
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        self.run(key, |_, key, path| fsops::get(key, path)).await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.run(key, move |_, key, path| fsops::get_range(key, path, range))
            .await
    }

    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.run(key, |_, key, path| fsops::stat(key, path)).await
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        walk::list(&self.inner.root, prefix)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.run(key, |_, key, path| fsops::delete(key, path)).await
    }
}
