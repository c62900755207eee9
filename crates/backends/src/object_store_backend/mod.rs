//! [`ObjectStoreBackend`]: a [`Backend`] over any [`object_store::ObjectStore`]
//! (S3 and S3-compatible stores with the `s3` feature, and anything else the
//! `object_store` crate reaches).
//!
//! `object_store` needs tokio; see `runtime.rs` for how its futures are run so
//! that callers may use any executor.

mod errors;
mod list;
mod options;
mod runtime;
#[cfg(feature = "s3")]
mod s3;

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream};
use futures::StreamExt;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, GetOptions, GetRange, ObjectStore, PutMultipartOptions, PutOptions,
    PutPayload, WriteMultipart,
};
use tokio::runtime::Handle;

use self::errors::{map_error, Op};
use crate::{validate_key, Backend, Error, ObjectMeta, PutMode, Result};

pub use options::ObjectStoreOptions;
#[cfg(feature = "s3")]
pub use s3::S3Config;

/// The largest object S3 accepts in one `PUT`; create-only puts above it
/// cannot use a conditional single `PUT`.
const SINGLE_PUT_MAX: u64 = 5 << 30;
/// S3's smallest part (except the last) of a multipart upload.
const MIN_PART_SIZE: usize = 5 << 20;
/// How many listing entries may wait between the runtime and the caller.
const LIST_CHANNEL: usize = 256;

/// A [`Backend`] over any `object_store` store, usable from any executor.
///
/// ```
/// use std::sync::Arc;
/// use cairn_backends::{Backend, ObjectStoreBackend, PutMode};
///
/// let store = Arc::new(object_store::memory::InMemory::new());
/// let backend = ObjectStoreBackend::new(store)?;
/// futures::executor::block_on(async {
///     backend.put("a/b", "hello".into(), PutMode::CreateOnly).await?;
///     assert_eq!(&backend.get("a/b").await?[..], b"hello");
///     Ok::<_, cairn_backends::Error>(())
/// })?;
/// # Ok::<_, cairn_backends::Error>(())
/// ```
///
/// Errors: a missing object is [`Error::NotFound`]; a missing bucket is a
/// permanent [`Error::Backend`] saying so, except for `stat` and `delete`
/// (an S3 `HEAD` answer has no body to tell the two apart), which report
/// `NotFound`. Network failures, timeouts, throttling and 5xx answers are
/// transient (after `object_store`'s own retries); authentication and other
/// 4xx answers are permanent. [`Error::Timeout`] carries the configured
/// request timeout for stores built by [`ObjectStoreBackend::s3`] (0 otherwise).
///
/// Deleting checks that the object exists first (S3 deletes missing keys
/// silently; the [`Backend`] contract says `NotFound`), so two concurrent
/// deletes of one key may both succeed. Dropping an operation's future aborts
/// its requests; an aborted multipart upload may leave parts behind until the
/// bucket's lifecycle rules clean them up.
#[derive(Clone)]
pub struct ObjectStoreBackend {
    store: Arc<dyn ObjectStore>,
    /// The prefix as an `object_store` path (`None`: the store's root).
    base: Option<Path>,
    options: ObjectStoreOptions,
    /// Where `object_store` futures run (see `runtime.rs`); `None`: the
    /// private shared runtime, started on first use.
    runtime: Option<Handle>,
    /// The store's request timeout, reported in [`Error::Timeout`].
    timeout_ms: u64,
    /// A description for `Debug` (the store's own `Display`, no secrets).
    describe: String,
}

impl fmt::Debug for ObjectStoreBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStoreBackend")
            .field("store", &self.describe)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ObjectStoreBackend {
    /// A backend over `store` with default [`ObjectStoreOptions`].
    pub fn new(store: Arc<dyn ObjectStore>) -> Result<Self> {
        Self::with_options(store, ObjectStoreOptions::default())
    }

    /// A backend over `store`. Fails if `options` are invalid (see their
    /// docs) or the runtime that drives `object_store` cannot start.
    pub fn with_options(store: Arc<dyn ObjectStore>, options: ObjectStoreOptions) -> Result<Self> {
        options.validate()?;
        let base = (!options.prefix.is_empty())
            .then(|| Path::parse(&options.prefix))
            .transpose()
            .map_err(|_| Error::InvalidKey {
                key: options.prefix.clone(),
                reason: "prefix is not a valid object store path",
            })?;
        Ok(Self {
            describe: store.to_string(),
            store,
            base,
            options,
            runtime: None,
            timeout_ms: 0,
        })
    }

    /// Runs `object_store`'s work on the caller's tokio runtime instead of
    /// Cairn's private one (two threads, started on first use). Give it a
    /// multi-threaded runtime that outlives this backend: a current-thread
    /// runtime blocked in `block_on` on a Cairn call would wait forever.
    pub fn with_runtime(mut self, handle: Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// The runtime that runs `object_store`'s futures.
    fn handle(&self) -> Result<Handle> {
        match &self.runtime {
            Some(handle) => Ok(handle.clone()),
            None => Ok(runtime::runtime()?.handle().clone()),
        }
    }

    /// The options in use.
    pub fn options(&self) -> &ObjectStoreOptions {
        &self.options
    }

    /// The store's path for `key`, after checking the key.
    fn path(&self, key: &str) -> Result<Path> {
        validate_key(key)?;
        let full = match &self.base {
            Some(base) => format!("{base}/{key}"),
            None => key.to_owned(),
        };
        // `parse` keeps the key byte for byte (S3 keys are arbitrary UTF-8),
        // so listings give back exactly the keys written; `Path::from` would
        // percent-encode characters such as `%`, `#` or `?`.
        Path::parse(&full).map_err(|_| Error::InvalidKey {
            key: key.to_owned(),
            reason: "key contains a control character",
        })
    }

    /// Maps an `object_store` error raised for `key`.
    fn err(&self, key: &str, op: Op) -> impl Fn(object_store::Error) -> Error + Send + 'static {
        let key = key.to_owned();
        let timeout_ms = self.timeout_ms;
        move |e| map_error(&key, e, op, timeout_ms)
    }

    async fn run<T, F>(&self, key: &str, fut: F) -> Result<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T>> + Send + 'static,
    {
        runtime::run(&self.handle()?, key, fut).await
    }

    async fn head(&self, key: &str, path: Path) -> Result<u64> {
        let store = Arc::clone(&self.store);
        let err = self.err(key, Op::Object);
        self.run(key, async move {
            store.head(&path).await.map(|m| m.size).map_err(err)
        })
        .await
    }

    /// Reads `range` of the object at `path`.
    async fn fetch(&self, key: &str, path: Path, range: GetRange) -> Result<Bytes> {
        let store = Arc::clone(&self.store);
        let err = self.err(key, Op::Object);
        self.run(key, async move {
            let options = GetOptions {
                range: Some(range),
                ..Default::default()
            };
            let result = store.get_opts(&path, options).await.map_err(&err)?;
            result.bytes().await.map_err(err)
        })
        .await
    }

    /// What every put sends along: the storage class, if one is set.
    fn attributes(&self) -> Attributes {
        let mut attributes = Attributes::new();
        if let Some(class) = &self.options.storage_class {
            attributes.insert(Attribute::StorageClass, class.clone().into());
        }
        attributes
    }

    /// Uploads without a condition, in parts if the object is large.
    async fn upload(&self, key: &str, path: Path, data: Bytes) -> Result<()> {
        let store = Arc::clone(&self.store);
        let err = self.err(key, Op::Object);
        let multipart = data.len() as u64 > self.options.multipart_threshold;
        let (part_size, concurrency) = (self.options.part_size, self.options.multipart_concurrency);
        let attributes = self.attributes();
        self.run(key, async move {
            if !multipart {
                let opts = PutOptions {
                    attributes,
                    ..Default::default()
                };
                return store
                    .put_opts(&path, PutPayload::from(data), opts)
                    .await
                    .map(drop)
                    .map_err(err);
            }
            let opts = PutMultipartOptions {
                attributes,
                ..Default::default()
            };
            let upload = store.put_multipart_opts(&path, opts).await.map_err(&err)?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, part_size);
            let mut rest = data;
            while !rest.is_empty() {
                if let Err(e) = writer.wait_for_capacity(concurrency).await {
                    // Best effort: the failure is what the caller needs to see.
                    let _ = writer.abort().await;
                    return Err(err(e));
                }
                let part = rest.split_to(part_size.min(rest.len()));
                writer.put(part);
            }
            writer.finish().await.map(drop).map_err(err)
        })
        .await
    }
}

#[async_trait]
impl Backend for ObjectStoreBackend {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        let path = self.path(key)?;
        let size = data.len() as u64;
        let atomic =
            mode == PutMode::CreateOnly && self.options.conditional_put && size <= SINGLE_PUT_MAX;
        if atomic {
            let store = Arc::clone(&self.store);
            let err = self.err(key, Op::Object);
            let opts = PutOptions {
                mode: object_store::PutMode::Create,
                attributes: self.attributes(),
                ..Default::default()
            };
            return self
                .run(key, async move {
                    store
                        .put_opts(&path, PutPayload::from(data), opts)
                        .await
                        .map(drop)
                        .map_err(err)
                })
                .await
                .map_err(|e| match e {
                    Error::Unsupported { key, .. } => Error::Unsupported {
                        key,
                        what: "conditional put (If-None-Match); set conditional_put = false \
                               to accept a non-atomic existence check",
                    },
                    other => other,
                });
        }
        if mode == PutMode::CreateOnly {
            // Not atomic: see `ObjectStoreOptions::conditional_put`.
            match self.head(key, path.clone()).await {
                Ok(_) => {
                    return Err(Error::AlreadyExists {
                        key: key.to_owned(),
                    })
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        self.upload(key, path, data).await
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let path = self.path(key)?;
        let store = Arc::clone(&self.store);
        let err = self.err(key, Op::Object);
        self.run(key, async move {
            let result = store.get(&path).await.map_err(&err)?;
            result.bytes().await.map_err(err)
        })
        .await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        let path = self.path(key)?;
        let invalid = |size| Error::InvalidRange {
            key: key.to_owned(),
            start: range.start,
            end: range.end,
            size,
        };
        if range.start >= range.end {
            // Nothing to read, but the object must exist and the range fit it.
            let size = self.head(key, path).await?;
            return if range.start > range.end || range.start > size {
                Err(invalid(size))
            } else {
                Ok(Bytes::new())
            };
        }
        // Ends past i64::MAX overflow some servers' range parsing (SeaweedFS
        // answers 416); "from start to the end" means the same.
        let wanted = if range.end > i64::MAX as u64 {
            GetRange::Offset(range.start)
        } else {
            GetRange::Bounded(range.clone())
        };
        match self.fetch(key, path.clone(), wanted).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.is_not_found() => Err(e),
            Err(e) => {
                // A range starting at or past the end is refused by the store
                // (S3: 416); the trait wants empty bytes at the end and
                // `InvalidRange` past it. A store that refuses an end past the
                // object's end gets the clamped range. Anything else is the
                // store's error.
                match self.head(key, path.clone()).await? {
                    size if range.start == size => Ok(Bytes::new()),
                    size if range.start > size => Err(invalid(size)),
                    size if range.end > size => {
                        self.fetch(key, path, GetRange::Bounded(range.start..size))
                            .await
                    }
                    _ => Err(e),
                }
            }
        }
    }

    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        let path = self.path(key)?;
        let size = self.head(key, path).await?;
        Ok(ObjectMeta::new(key, size))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        match self.start_list(prefix) {
            Ok(stream) => stream,
            Err(e) => stream::once(async { Err(e) }).boxed(),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        // S3 deletes missing keys silently; the contract says NotFound.
        self.head(key, path.clone()).await?;
        let store = Arc::clone(&self.store);
        let err = self.err(key, Op::Object);
        self.run(key, async move { store.delete(&path).await.map_err(err) })
            .await
    }
}

#[cfg(test)]
mod tests;
