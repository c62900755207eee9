//! [`Prefixed`]: one store seen as a sub-store under a key prefix.

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};

use crate::{validate_key, Backend, Error, ObjectMeta, PutMode, Result};

/// Listing items buffered between the inner listing and the caller.
const LIST_BUFFER: usize = 256;

/// A [`Backend`] that stores every key `k` as `prefix + k` in `inner`, and
/// lists only keys under `prefix` (returned without it).
///
/// What a tenant of a repository is: a whole repository in a namespace of
/// another one (`tenants/<namespace>/`), so its packs, index, snapshots
/// and sessions never mix with anyone else's, and everything under the
/// prefix can be reclaimed at once. Keys are checked with
/// [`validate_key`] *before* the prefix is added, so no key (`..`, an
/// absolute path) reaches outside the namespace. Errors name the key the caller
/// used (without the prefix).
#[derive(Debug, Clone)]
pub struct Prefixed<B> {
    inner: B,
    prefix: String,
}

impl<B: Backend> Prefixed<B> {
    /// Views `inner` under `prefix`, which must be a valid key followed by
    /// `/` (for instance `tenants/0123abcd/`).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for a prefix that does not end in `/` or is not
    /// a valid key without it.
    pub fn new(inner: B, prefix: impl Into<String>) -> Result<Self> {
        let prefix = prefix.into();
        match prefix.strip_suffix('/') {
            Some(p) => validate_key(p)?,
            None => {
                return Err(Error::InvalidKey {
                    key: prefix,
                    reason: "a namespace prefix must end with '/'",
                })
            }
        }
        Ok(Self { inner, prefix })
    }

    /// The wrapped store.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// The prefix every key gets.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn strip(&self, e: Error) -> Error {
        e.strip_key_prefix(&self.prefix)
    }

    fn full(&self, key: &str) -> Result<String> {
        validate_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }
}

#[async_trait]
impl<B: Backend> Backend for Prefixed<B> {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        self.inner
            .put(&self.full(key)?, data, mode)
            .await
            .map_err(|e| self.strip(e))
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        self.inner
            .get(&self.full(key)?)
            .await
            .map_err(|e| self.strip(e))
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.inner
            .get_range(&self.full(key)?, range)
            .await
            .map_err(|e| self.strip(e))
    }
    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        let mut meta = self
            .inner
            .stat(&self.full(key)?)
            .await
            .map_err(|e| self.strip(e))?;
        meta.key = key.to_owned();
        Ok(meta)
    }
    /// The inner listing is gathered before it is handed on (the prefixed
    /// prefix is a new string the inner stream would have to borrow), so a
    /// listing costs memory in proportion to the keys under it, as the
    /// callers that collect listings (prune, open) spend anyway.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        // The inner listing borrows the full prefix, which this call must
        // own: a driver future owns both and hands each item over a small
        // channel, so the listing streams in bounded memory (a tenant's
        // namespace can hold millions of objects) instead of being
        // collected first.
        let strip = self.prefix.len();
        let (mut tx, rx) = futures::channel::mpsc::channel(LIST_BUFFER);
        let driver = async move {
            let full = format!("{}{prefix}", self.prefix);
            let mut items = self.inner.list(&full);
            while let Some(item) = items.next().await {
                let item = match item {
                    Ok(mut m) => {
                        m.key = m.key.get(strip..).unwrap_or_default().to_owned();
                        Ok(m)
                    }
                    Err(e) => Err(self.strip(e)),
                };
                if futures::SinkExt::send(&mut tx, item).await.is_err() {
                    break; // the caller dropped the listing
                }
            }
        };
        // Polled together: the driver fills the channel, the caller drains
        // it; the channel ends when the driver (and its sender) is done.
        let driver = driver.into_stream().filter_map(|()| async { None });
        futures::stream::select(rx.map(Some), driver)
            .filter_map(|item| async { item })
            .boxed()
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner
            .delete(&self.full(key)?)
            .await
            .map_err(|e| self.strip(e))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::{run_conformance, Capabilities};
    use crate::MemoryBackend;
    use std::sync::Arc;

    #[test]
    fn a_prefixed_store_conforms_and_stays_in_its_namespace() {
        futures::executor::block_on(async {
            let mem = Arc::new(MemoryBackend::new());
            let b = |s: &'static str| Bytes::from_static(s.as_bytes());
            mem.put("outside", b("x"), PutMode::CreateOnly)
                .await
                .unwrap();
            let p = Prefixed::new(mem.clone(), "tenants/ab/").unwrap();
            run_conformance(&p, &Capabilities::default()).await;
            p.put("data/1", b("1"), PutMode::CreateOnly).await.unwrap();
            assert_eq!(mem.get("tenants/ab/data/1").await.unwrap(), b("1"));
            let keys: Vec<String> = p.list("").map(|m| m.unwrap().key).collect().await;
            assert_eq!(keys, vec!["data/1".to_owned()]);
            assert_eq!(p.stat("data/1").await.unwrap().key, "data/1");
            for bad in ["../outside", "", "/abs"] {
                assert!(p.get(bad).await.is_err(), "{bad}");
            }
            for bad in ["tenants/ab", "", "../x/"] {
                assert!(Prefixed::new(mem.clone(), bad).is_err(), "{bad}");
            }
        })
    }

    /// A listing that generates a million keys lazily, counting how many
    /// the consumer of it pulled.
    #[derive(Debug, Default)]
    struct Endless {
        mem: MemoryBackend,
        pulled: std::sync::atomic::AtomicUsize,
    }

    #[async_trait]
    impl Backend for Endless {
        async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
            self.mem.put(key, data, mode).await
        }
        async fn get(&self, key: &str) -> Result<Bytes> {
            self.mem.get(key).await
        }
        async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
            self.mem.get_range(key, range).await
        }
        async fn stat(&self, key: &str) -> Result<ObjectMeta> {
            self.mem.stat(key).await
        }
        fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
            futures::stream::iter(0..1_000_000u32)
                .map(move |i| {
                    self.pulled
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Ok(ObjectMeta::new(format!("{prefix}{i:08}"), 1))
                })
                .boxed()
        }
        async fn delete(&self, key: &str) -> Result<()> {
            self.mem.delete(key).await
        }
    }

    #[test]
    fn a_listing_streams_instead_of_collecting_the_namespace() {
        futures::executor::block_on(async {
            let inner = Arc::new(Endless::default());
            let p = Prefixed::new(inner.clone(), "tenants/ab/").unwrap();
            let first: Vec<String> = p
                .list("data/")
                .take(3)
                .map(|m| m.unwrap().key)
                .collect()
                .await;
            assert_eq!(first, ["data/00000000", "data/00000001", "data/00000002"]);
            let pulled = inner.pulled.load(std::sync::atomic::Ordering::Relaxed);
            assert!(pulled <= LIST_BUFFER + 8, "{pulled} items pulled for 3");
        })
    }
}
