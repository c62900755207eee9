//! Lazy listing of a [`LocalBackend`](super::LocalBackend)'s directory tree.

use std::fs::{self, DirEntry, ReadDir};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use futures::stream::{self, BoxStream, StreamExt};

use super::fsops::TMP_PREFIX;
use super::key_path;
use crate::{validate_key, Error, ObjectMeta, Result};

/// How many directory entries one step of a listing reads.
const PAGE: usize = 1000;

/// A directory still to read: its path, the key prefix of its entries
/// (`""` or ending in `/`), and the prefix entry names must have (only for the
/// first directory, when the listing prefix ends inside a name).
struct Pending {
    dir: PathBuf,
    key_prefix: String,
    name_filter: String,
}

/// The directory being read.
struct Current {
    entries: ReadDir,
    key_prefix: String,
    name_filter: String,
}

/// A depth-first walk, moved to the blocking pool for each page.
struct Walk {
    prefix: String,
    pending: Vec<Pending>,
    current: Option<Current>,
}

/// The objects under `root` whose keys start with `prefix`.
pub(crate) fn list(root: &Path, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
    // Start at the deepest directory the prefix names entirely: "a/b/c"
    // starts in a/b, keeping names that start with "c".
    let (dir, key_prefix, name_filter) = match prefix.rfind('/') {
        None => (root.to_path_buf(), String::new(), prefix.to_owned()),
        Some(i) => match key_path(root, &prefix[..i]) {
            Ok(dir) => (dir, prefix[..=i].to_owned(), prefix[i + 1..].to_owned()),
            // No valid key starts with an invalid path followed by '/'.
            Err(_) => return stream::empty().boxed(),
        },
    };
    let walk = Walk {
        prefix: prefix.to_owned(),
        pending: vec![Pending {
            dir,
            key_prefix,
            name_filter,
        }],
        current: None,
    };
    stream::unfold(walk, |walk| async move {
        let (walk, page) = blocking::unblock(move || {
            let mut walk = walk;
            let page = walk.next_page();
            (walk, page)
        })
        .await;
        // A page is empty only when the walk is over.
        (!page.is_empty()).then(|| (stream::iter(page), walk))
    })
    .flatten()
    .boxed()
}

impl Walk {
    fn error(&self, source: std::io::Error) -> Error {
        Error::Io {
            key: self.prefix.clone(),
            source,
        }
    }

    /// Up to [`PAGE`] results; empty when every directory has been read.
    fn next_page(&mut self) -> Vec<Result<ObjectMeta>> {
        let mut page = Vec::new();
        let mut read = 0;
        while read < PAGE {
            let Some(mut current) = self.current.take() else {
                let Some(next) = self.pending.pop() else {
                    break;
                };
                match fs::read_dir(&next.dir) {
                    Ok(entries) => {
                        self.current = Some(Current {
                            entries,
                            key_prefix: next.key_prefix,
                            name_filter: next.name_filter,
                        });
                    }
                    // Deleted meanwhile, or never there: nothing under it.
                    Err(e)
                        if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {}
                    Err(e) => page.push(Err(self.error(e))),
                }
                continue;
            };
            match current.entries.next() {
                None => {}
                Some(Err(e)) => page.push(Err(self.error(e))),
                Some(Ok(entry)) => {
                    read += 1;
                    if let Some(result) = self.entry(&current, &entry) {
                        page.push(result);
                    }
                    self.current = Some(current);
                }
            }
        }
        page
    }

    /// The object `entry` is, if it is one; directories are queued.
    fn entry(&mut self, current: &Current, entry: &DirEntry) -> Option<Result<ObjectMeta>> {
        let name = entry.file_name();
        // Names that are not UTF-8 were not written by a backend.
        let name = name.to_str()?;
        if !name.starts_with(&current.name_filter) || name.starts_with(TMP_PREFIX) {
            return None;
        }
        let key = format!("{}{name}", current.key_prefix);
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return None,
            Err(e) => return Some(Err(self.error(e))),
        };
        if file_type.is_dir() {
            self.pending.push(Pending {
                dir: entry.path(),
                key_prefix: format!("{key}/"),
                name_filter: String::new(),
            });
            return None;
        }
        // Foreign files whose names are no key (say, with a backslash) are
        // not objects: no put made them and no get could read them.
        validate_key(&key).ok()?;
        // `fs::metadata` follows a symbolic link; a link to a directory is
        // not descended into, so the walk cannot loop.
        let meta = match fs::metadata(entry.path()) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => return None,
            Err(e) => return Some(Err(self.error(e))),
        };
        meta.is_file().then(|| Ok(ObjectMeta::new(key, meta.len())))
    }
}
