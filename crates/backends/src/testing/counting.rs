//! A wrapper that counts operations and bytes.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};

use crate::{Backend, ObjectMeta, PutMode, Result};

/// Operation counts of a [`Counting`] backend at one moment.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// Calls of `put`.
    pub puts: u64,
    /// Calls of `get`.
    pub gets: u64,
    /// Calls of `get_range`.
    pub get_ranges: u64,
    /// Calls of `stat`.
    pub stats: u64,
    /// Calls of `list`.
    pub lists: u64,
    /// Calls of `delete`.
    pub deletes: u64,
    /// Calls that returned an error (and listing entries that were errors).
    pub errors: u64,
    /// Bytes of successful puts.
    pub bytes_put: u64,
    /// Bytes returned by successful gets and ranged gets.
    pub bytes_got: u64,
    /// Entries listings yielded (not counting errors).
    pub listed: u64,
}

impl OpCounts {
    /// Calls of every kind.
    pub fn ops(&self) -> u64 {
        self.puts + self.gets + self.get_ranges + self.stats + self.lists + self.deletes
    }
}

#[derive(Debug, Default)]
struct Counters {
    puts: AtomicU64,
    gets: AtomicU64,
    get_ranges: AtomicU64,
    stats: AtomicU64,
    lists: AtomicU64,
    deletes: AtomicU64,
    errors: AtomicU64,
    bytes_put: AtomicU64,
    bytes_got: AtomicU64,
    listed: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// A backend that counts the operations on another, by kind, and the bytes
/// moved, and remembers the keys of successful puts — so a test can assert,
/// say, that a second backup of unchanged data put no data object.
///
/// ```
/// use bytes::Bytes;
/// use cairn_backends::{Backend, MemoryBackend, PutMode};
/// use cairn_backends::testing::Counting;
/// # futures::executor::block_on(async {
/// let store = Counting::new(MemoryBackend::new());
/// store.put("data/1", Bytes::from_static(b"abc"), PutMode::CreateOnly).await.unwrap();
/// store.get("data/1").await.unwrap();
/// let counts = store.snapshot();
/// assert_eq!((counts.puts, counts.gets, counts.bytes_put, counts.bytes_got), (1, 1, 3, 3));
/// assert_eq!(store.puts_under("data/"), 1);
/// # });
/// ```
#[derive(Debug)]
pub struct Counting<B> {
    inner: B,
    counters: Counters,
    put_keys: Mutex<Vec<String>>,
}

impl<B> Counting<B> {
    /// Wraps `inner`, with every count at zero.
    pub fn new(inner: B) -> Self {
        Self {
            inner,
            counters: Counters::default(),
            put_keys: Mutex::new(Vec::new()),
        }
    }

    /// The counts now.
    pub fn snapshot(&self) -> OpCounts {
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        OpCounts {
            puts: load(&c.puts),
            gets: load(&c.gets),
            get_ranges: load(&c.get_ranges),
            stats: load(&c.stats),
            lists: load(&c.lists),
            deletes: load(&c.deletes),
            errors: load(&c.errors),
            bytes_put: load(&c.bytes_put),
            bytes_got: load(&c.bytes_got),
            listed: load(&c.listed),
        }
    }

    /// Sets every count to zero and forgets the keys put.
    pub fn reset(&self) {
        let c = &self.counters;
        for counter in [
            &c.puts,
            &c.gets,
            &c.get_ranges,
            &c.stats,
            &c.lists,
            &c.deletes,
            &c.errors,
            &c.bytes_put,
            &c.bytes_got,
            &c.listed,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        self.keys().clear();
    }

    /// The keys of successful puts since the last reset, in completion order.
    pub fn put_keys(&self) -> Vec<String> {
        self.keys().clone()
    }

    /// How many successful puts since the last reset had keys starting with
    /// `prefix`.
    pub fn puts_under(&self, prefix: &str) -> usize {
        self.keys().iter().filter(|k| k.starts_with(prefix)).count()
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    fn keys(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.put_keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts an error if `result` is one, and returns it.
    fn seen<T>(&self, result: Result<T>) -> Result<T> {
        if result.is_err() {
            bump(&self.counters.errors, 1);
        }
        result
    }
}

#[async_trait]
impl<B: Backend> Backend for Counting<B> {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        bump(&self.counters.puts, 1);
        let len = data.len() as u64;
        let result = self.seen(self.inner.put(key, data, mode).await);
        if result.is_ok() {
            bump(&self.counters.bytes_put, len);
            self.keys().push(key.to_owned());
        }
        result
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        bump(&self.counters.gets, 1);
        let result = self.seen(self.inner.get(key).await);
        if let Ok(data) = &result {
            bump(&self.counters.bytes_got, data.len() as u64);
        }
        result
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        bump(&self.counters.get_ranges, 1);
        let result = self.seen(self.inner.get_range(key, range).await);
        if let Ok(data) = &result {
            bump(&self.counters.bytes_got, data.len() as u64);
        }
        result
    }

    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        bump(&self.counters.stats, 1);
        self.seen(self.inner.stat(key).await)
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        bump(&self.counters.lists, 1);
        self.inner
            .list(prefix)
            .inspect(move |entry| match entry {
                Ok(_) => bump(&self.counters.listed, 1),
                Err(_) => bump(&self.counters.errors, 1),
            })
            .boxed()
    }

    async fn delete(&self, key: &str) -> Result<()> {
        bump(&self.counters.deletes, 1);
        self.seen(self.inner.delete(key).await)
    }
}
