//! [`Prefixed`]: one store seen as a sub-store under a key prefix.

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;

use crate::{validate_key, Backend, Error, ObjectMeta, PutMode, Result};

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
        let strip = self.prefix.len();
        futures::stream::once(async move {
            let full = format!("{}{prefix}", self.prefix);
            let items: Vec<Result<ObjectMeta>> = self
                .inner
                .list(&full)
                .map(|item| match item {
                    Ok(mut m) => {
                        m.key = m.key.get(strip..).unwrap_or_default().to_owned();
                        Ok(m)
                    }
                    Err(e) => Err(self.strip(e)),
                })
                .collect()
                .await;
            futures::stream::iter(items)
        })
        .flatten()
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
}
