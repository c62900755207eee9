//! The [`Backend`] trait: what Cairn needs from a place that stores objects.

use std::fmt::Debug;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::Result;

/// How [`Backend::put`] treats an object that already exists under the key.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PutMode {
    /// Replace whatever is stored under the key.
    Overwrite,
    /// Store only if nothing is stored under the key; otherwise fail with
    /// [`Error::AlreadyExists`](crate::Error::AlreadyExists). Of two concurrent
    /// create-only puts of one key, exactly one succeeds. Cairn writes every
    /// repository object this way: objects are immutable.
    #[default]
    CreateOnly,
}

/// What [`Backend::stat`] and [`Backend::list`] report about one object.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

impl ObjectMeta {
    /// Metadata for the object `key` of `size` bytes.
    pub fn new(key: impl Into<String>, size: u64) -> Self {
        Self {
            key: key.into(),
            size,
        }
    }
}

/// An object store: the one trait storage implementations write.
///
/// Keys are `/`-separated relative paths checked by
/// [`validate_key`](crate::validate_key). Implementations are runtime-agnostic:
/// their futures make progress under any executor (tokio, smol,
/// `futures::executor::block_on`), doing blocking work on a thread pool.
///
/// Ranges (see [`get_range`](Backend::get_range)): `start > end` and
/// `start > size` are [`Error::InvalidRange`](crate::Error::InvalidRange); an
/// `end` past the object's end is clamped to its size, so `start == size` or
/// `start == end` gives empty bytes (but a missing object is still
/// [`Error::NotFound`](crate::Error::NotFound)).
#[async_trait]
pub trait Backend: Send + Sync + Debug {
    /// Stores `data` under `key`, as `mode` says. When this returns `Ok` the
    /// object is durable: a crash will not lose it or leave part of it.
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()>;

    /// Reads the whole object.
    async fn get(&self, key: &str) -> Result<Bytes>;

    /// Reads the bytes `range` of the object (see the trait docs for the edges).
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes>;

    /// The object's metadata, or [`Error::NotFound`](crate::Error::NotFound).
    async fn stat(&self, key: &str) -> Result<ObjectMeta>;

    /// Every object whose key starts with `prefix` (`""` lists everything), in
    /// no particular order. Streamed: listing a million keys needs no single
    /// allocation of a million entries.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>>;

    /// Removes the object. Deleting a missing object is
    /// [`Error::NotFound`](crate::Error::NotFound).
    async fn delete(&self, key: &str) -> Result<()>;
}

macro_rules! forward_backend {
    ($ty:ty) => {
        #[async_trait]
        impl<T: Backend + ?Sized> Backend for $ty {
            async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
                (**self).put(key, data, mode).await
            }
            async fn get(&self, key: &str) -> Result<Bytes> {
                (**self).get(key).await
            }
            async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
                (**self).get_range(key, range).await
            }
            async fn stat(&self, key: &str) -> Result<ObjectMeta> {
                (**self).stat(key).await
            }
            fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
                (**self).list(prefix)
            }
            async fn delete(&self, key: &str) -> Result<()> {
                (**self).delete(key).await
            }
        }
    };
}

forward_backend!(Arc<T>);
forward_backend!(Box<T>);
forward_backend!(&T);
