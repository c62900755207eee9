//! [`AppendOnly`]: a backend that can only grow (the storage-side recipe
//! is in its docs).

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::{Backend, Error, ObjectMeta, PutMode, Result};

/// A [`Backend`] that refuses [`delete`](Backend::delete) and overwriting
/// puts with [`Error::NotPermitted`]; create-only puts, reads and listings
/// pass through.
///
/// For backup hosts. A compromised host (ransomware, a stolen laptop) holds
/// the repository key, so it could otherwise delete every snapshot and
/// pack; through this wrapper it can add objects and read, nothing else.
/// Prune runs elsewhere, from an admin machine with full access.
///
/// The wrapper is only as strong as where it runs: on the backup host it
/// stops mistakes and the Cairn library, not an attacker who talks to the
/// storage directly with the same credentials. Pair it with storage that
/// enforces the same rule:
///
/// - **S3**: give backup hosts an IAM policy allowing `s3:GetObject`,
///   `s3:PutObject` and `s3:ListBucket` on the repository prefix, and *not*
///   `s3:DeleteObject` / `s3:DeleteObjectVersion`. Because `PutObject` can
///   replace an existing key, also enable bucket versioning (a replaced
///   object keeps its old version, which only the admin can delete) or
///   S3 Object Lock in governance mode with a retention at least as long
///   as your prune interval; create-only puts use `If-None-Match: *`.
///   The admin machine that runs `forget` and `prune` uses credentials
///   with delete rights.
/// - **Local / SFTP / NFS**: a server-side account that can create files
///   but not unlink or rename over them.
///
/// What Cairn needs from an append-only writer: every repository object is
/// written create-only, except backup session leases, which a backup
/// refreshes and removes; when a refresh or removal is refused with
/// [`Error::NotPermitted`], the session switches to create-only refresh
/// objects and an end marker (`cairn_cas_core::prune::Session`), and the
/// admin's prune removes them.
#[derive(Debug, Clone)]
pub struct AppendOnly<B> {
    inner: B,
}

impl<B: Backend> AppendOnly<B> {
    /// Wraps `inner`.
    pub fn new(inner: B) -> Self {
        Self { inner }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }
}

const REASON: &str = "the store is append-only (backup host)";

#[async_trait]
impl<B: Backend> Backend for AppendOnly<B> {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        match mode {
            PutMode::CreateOnly => self.inner.put(key, data, mode).await,
            _ => Err(Error::NotPermitted {
                key: key.to_owned(),
                operation: "overwrite",
                reason: REASON,
            }),
        }
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.inner.get_range(key, range).await
    }
    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.inner.stat(key).await
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn delete(&self, key: &str) -> Result<()> {
        Err(Error::NotPermitted {
            key: key.to_owned(),
            operation: "delete",
            reason: REASON,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::MemoryBackend;

    #[test]
    fn creates_and_reads_but_never_deletes_or_overwrites() {
        futures::executor::block_on(async {
            let store = AppendOnly::new(MemoryBackend::new());
            let b = |s: &'static str| Bytes::from_static(s.as_bytes());
            store.put("a", b("1"), PutMode::CreateOnly).await.unwrap();
            assert_eq!(store.get("a").await.unwrap(), b("1"));
            let again = store.put("a", b("2"), PutMode::CreateOnly).await;
            assert!(again.unwrap_err().is_already_exists());
            for r in [
                store.put("a", b("2"), PutMode::Overwrite).await,
                store.put("new", b("2"), PutMode::Overwrite).await,
                store.delete("a").await,
                store.delete("missing").await,
            ] {
                let e = r.unwrap_err();
                assert!(e.is_not_permitted() && !e.is_transient(), "{e}");
            }
            assert_eq!(store.get("a").await.unwrap(), b("1"));
            assert!(store.inner().stat("new").await.unwrap_err().is_not_found());
        })
    }
}
