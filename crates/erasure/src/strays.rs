//! Stray shards: shards under keys that hold too few of them to form an
//! object (a delete that failed on some children, a write that crashed
//! half-way). [`list`](cairn_backends::Backend::list) leaves such keys out,
//! so nothing that works from listings ever sees them; these calls find
//! and remove them. Deciding when that is safe is the caller's (a key with
//! few shards may be an object a writer is storing right now): Cairn's
//! prune condemns them and removes them once every writer it saw has ended.

use async_trait::async_trait;
use cairn_backends::{Error as BError, PartialObjects, Result as BResult};
use futures::future::join_all;

use crate::backend::check_key;
use crate::{ErasureBackend, Error, Result};

/// A key with shards on fewer than `k` children.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialKey {
    /// The object key.
    pub key: String,
    /// The children that hold a shard under it.
    pub holders: Vec<usize>,
}

impl ErasureBackend {
    /// Keys under `prefix` that some child lists but fewer than `k`
    /// children do: whatever those shards are, no object can be decoded
    /// from them. Needs *every* child's listing — with one unheard, a key
    /// seen on `k - 1` children may be a whole object — and otherwise fails
    /// with [`Error::IncompleteListing`] (so it never reports a readable
    /// object as partial).
    ///
    /// Keys listed by `k` or more children are objects as far as this call
    /// goes, even if some of those shards are damaged: a scrub reports
    /// those (as unrecoverable), and an unreferenced one is deleted as an
    /// object.
    pub async fn partial_keys_of(&self, prefix: &str) -> Result<Vec<PartialKey>> {
        let (union, failed) = self.union_listing(prefix).await;
        if !failed.is_empty() {
            let slots = self.slots();
            return Err(Error::IncompleteListing {
                prefix: prefix.to_owned(),
                failed: failed
                    .iter()
                    .map(|(i, e)| format!("child {i} ({}): {e}", slots[*i].child.name))
                    .collect(),
                tolerated: 0,
            });
        }
        let k = self.codec.k();
        Ok(union
            .into_iter()
            .filter(|(_, holders)| holders.len() < k)
            .map(|(key, mut holders)| {
                holders.sort_unstable();
                PartialKey { key, holders }
            })
            .collect())
    }

    /// Deletes the shard of `key` on every child, child by child (unlike
    /// [`Backend::delete`](cairn_backends::Backend::delete), which succeeds
    /// once the object is unreadable and may leave shards behind). Returns
    /// how many shards were deleted; children without one count as done.
    /// Fails with the first child's error if any child could not be asked.
    pub async fn delete_shards(&self, key: &str) -> Result<usize> {
        check_key(key)?;
        self.tables.forget(key);
        let slots = self.slots();
        let results = join_all(
            slots
                .iter()
                .map(|slot| slot.call(&self.config, key, |b| b.delete(key))),
        )
        .await;
        let mut deleted = 0;
        let mut first_error: Option<BError> = None;
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(()) => {
                    deleted += 1;
                    self.clear_hint(key, i);
                }
                Err(e) if e.is_not_found() => self.clear_hint(key, i),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e.into()),
            None => Ok(deleted),
        }
    }
}

/// What Cairn's prune uses: keys with stray shards, and their removal.
#[async_trait]
impl PartialObjects for ErasureBackend {
    async fn partial_keys(&self, prefix: &str) -> BResult<Vec<String>> {
        Ok(self
            .partial_keys_of(prefix)
            .await?
            .into_iter()
            .map(|p| p.key)
            .collect())
    }

    async fn delete_pieces(&self, key: &str) -> BResult<usize> {
        Ok(self.delete_shards(key).await?)
    }
}
