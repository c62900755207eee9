//! [`PartialObjects`]: for stores that keep an object as several pieces
//! (an erasure layout keeps `k + m` shards on `k + m` children), the pieces
//! that do not make up an object.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;

/// A store whose objects are made of pieces stored separately, which can
/// therefore hold pieces that form no object: left by a delete that failed
/// on some of the places, or by a write that crashed half-way. Such pieces
/// are invisible to [`Backend::list`](crate::Backend::list) (a key is listed
/// only when it may be readable) and so to anything that works from
/// listings; this trait finds them and removes them.
///
/// The store only reports and removes; deciding *when* a key's pieces may be
/// removed is the caller's: a key with too few pieces may be an object that
/// a running writer is in the middle of storing. Cairn's prune condemns such
/// keys and removes them only after every writer it saw has ended (see
/// `cairn_cas_core::prune`).
#[async_trait]
pub trait PartialObjects: Send + Sync + Debug {
    /// Keys under `prefix` of which some pieces are stored but too few to
    /// form an object, in key order. Complete or an error: a store that
    /// cannot hear from every place a piece may be fails with
    /// [`Error::Incomplete`](crate::Error::Incomplete) rather than report
    /// fewer pieces than there are (a whole object would look partial).
    async fn partial_keys(&self, prefix: &str) -> Result<Vec<String>>;

    /// Removes every stored piece of `key` from every place; a place that
    /// holds none is fine. Returns how many pieces were removed. Fails if
    /// any place could not be asked (its piece may remain).
    async fn delete_pieces(&self, key: &str) -> Result<usize>;
}

#[async_trait]
impl<T: PartialObjects + ?Sized> PartialObjects for Arc<T> {
    async fn partial_keys(&self, prefix: &str) -> Result<Vec<String>> {
        (**self).partial_keys(prefix).await
    }
    async fn delete_pieces(&self, key: &str) -> Result<usize> {
        (**self).delete_pieces(key).await
    }
}
