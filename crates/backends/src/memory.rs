//! An in-memory backend: for tests, caches and examples.

use std::collections::BTreeMap;
use std::ops::{Bound, Range};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};

use crate::{validate_key, Backend, Error, ObjectMeta, PutMode, Result};

/// How many keys one step of a listing copies out under the lock.
const LIST_PAGE: usize = 1000;

/// A [`Backend`] that keeps objects in a map in memory. Clones share the map.
///
/// ```
/// use bytes::Bytes;
/// use cairn_backends::{Backend, MemoryBackend, PutMode};
/// # futures::executor::block_on(async {
/// let store = MemoryBackend::new();
/// store.put("a/b", Bytes::from_static(b"hi"), PutMode::CreateOnly).await?;
/// assert_eq!(store.get("a/b").await?, Bytes::from_static(b"hi"));
/// assert!(store.put("a/b", Bytes::new(), PutMode::CreateOnly).await.unwrap_err().is_already_exists());
/// # Ok::<(), cairn_backends::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    objects: Arc<Mutex<BTreeMap<String, Bytes>>>,
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many objects are stored.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Bytes>> {
        // A panic while holding the lock cannot leave the map half-updated
        // (every update is one insert or remove), so a poisoned lock is usable.
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn object(&self, key: &str) -> Result<Bytes> {
        validate_key(key)?;
        self.lock()
            .get(key)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                key: key.to_owned(),
            })
    }

    /// The next page of keys after `after` (exclusive) that start with `prefix`.
    fn page(&self, prefix: &str, after: Option<&str>) -> Vec<ObjectMeta> {
        let map = self.lock();
        let lower = match after {
            Some(k) => Bound::Excluded(k),
            None => Bound::Included(prefix),
        };
        map.range::<str, _>((lower, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(LIST_PAGE)
            .map(|(k, v)| ObjectMeta::new(k.clone(), v.len() as u64))
            .collect()
    }
}

/// The part of an object of `size` bytes that `range` selects, by the rules of
/// [`Backend`]'s docs: clamp the end, refuse a start past the end.
pub(crate) fn clamp_range(key: &str, range: &Range<u64>, size: u64) -> Result<Range<u64>> {
    if range.start > range.end || range.start > size {
        return Err(Error::InvalidRange {
            key: key.to_owned(),
            start: range.start,
            end: range.end,
            size,
        });
    }
    Ok(range.start..range.end.min(size))
}

#[async_trait]
impl Backend for MemoryBackend {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        validate_key(key)?;
        let mut map = self.lock();
        if mode == PutMode::CreateOnly && map.contains_key(key) {
            return Err(Error::AlreadyExists {
                key: key.to_owned(),
            });
        }
        map.insert(key.to_owned(), data);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        self.object(key)
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        let data = self.object(key)?;
        let r = clamp_range(key, &range, data.len() as u64)?;
        // Both ends are at most data.len(), which fits in usize.
        Ok(data.slice(r.start as usize..r.end as usize))
    }

    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        let data = self.object(key)?;
        Ok(ObjectMeta::new(key, data.len() as u64))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        // Page through the map so that neither the lock nor a copy of every key
        // is held for the length of the listing.
        stream::unfold(Some(None::<String>), move |cursor| async move {
            let after = cursor?;
            let page = self.page(prefix, after.as_deref());
            let next = if page.len() < LIST_PAGE {
                None
            } else {
                page.last().map(|m| Some(m.key.clone()))
            };
            (!page.is_empty()).then(|| (stream::iter(page.into_iter().map(Ok)), next))
        })
        .flatten()
        .boxed()
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        match self.lock().remove(key) {
            Some(_) => Ok(()),
            None => Err(Error::NotFound {
                key: key.to_owned(),
            }),
        }
    }
}
