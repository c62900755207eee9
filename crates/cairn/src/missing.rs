//! A child of an erasure layout whose directory is gone.
//!
//! Outside `init`, a missing child directory becomes this backend: every
//! call fails (permanently, naming the directory), the erasure layer counts
//! the child as lost, reads use the other shards, and health shows it.
//! Recreate the directory (empty) and scrub with repair to refill it.

use std::ops::Range;
use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use cairn_backends::{Backend, Error, ObjectMeta, PutMode, Result};
use futures::stream::{self, BoxStream, StreamExt};

/// A backend for a directory that does not exist.
#[derive(Debug)]
pub(crate) struct Missing {
    pub(crate) path: PathBuf,
}

impl Missing {
    fn err(&self, key: &str) -> Error {
        Error::Backend {
            key: key.to_owned(),
            message: format!(
                "directory {} does not exist (lost disk? recreate it empty and scrub with repair)",
                self.path.display()
            ),
            transient: false,
        }
    }
}

#[async_trait]
impl Backend for Missing {
    async fn put(&self, key: &str, _data: Bytes, _mode: PutMode) -> Result<()> {
        Err(self.err(key))
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        Err(self.err(key))
    }
    async fn get_range(&self, key: &str, _range: Range<u64>) -> Result<Bytes> {
        Err(self.err(key))
    }
    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        Err(self.err(key))
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        stream::once(async move { Err(self.err(prefix)) }).boxed()
    }
    async fn delete(&self, key: &str) -> Result<()> {
        Err(self.err(key))
    }
}
