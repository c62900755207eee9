//! Cold children that need a restore request before a read (S3 GLACIER,
//! DEEP_ARCHIVE): a child's [`Thaw`] issues it, and
//! [`ErasureBackend::thaw_for_degraded_read`] says which cold shards a
//! degraded read of an object needs and asks for them.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Mutex;

use async_trait::async_trait;
use cairn_backends::Result as BResult;
use serde::Serialize;

use crate::format::{ShardHeader, HEADER_LEN};
use crate::{ErasureBackend, Result};

/// Whether a shard on a cold child can be read now.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThawState {
    /// Readable now.
    Ready,
    /// A restore request is in flight: ask again later.
    Pending,
}

/// Restore requests of a cold child (implemented by the backend: an S3
/// `RestoreObject`, a tape robot). Calls must be idempotent: asking
/// again for a key whose restore is in flight issues nothing new.
#[async_trait]
pub trait Thaw: Send + Sync + Debug {
    /// Issues a restore request for `key` unless one is in flight or it is
    /// readable, and says which.
    async fn thaw(&self, key: &str) -> BResult<ThawState>;
}

/// What a degraded read of one object needs from cold children.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ColdNeed {
    /// Verified shards the hot children hold.
    pub hot_shards: usize,
    /// Cold children (shard indexes) the read needs, in read order; empty
    /// when the hot children suffice.
    pub needed: Vec<usize>,
    /// Those of them whose restore is still pending (children without a
    /// [`Thaw`] are taken as readable).
    pub pending: Vec<usize>,
}

impl ErasureBackend {
    /// Which cold shards a read of `key` needs, with their restore
    /// requests issued: reads the hot children's shard headers, and when
    /// fewer than `k` agree, asks the first cold children in read order
    /// (as many as are missing) to thaw. A caller retries until
    /// [`ColdNeed::pending`] is empty, then reads as usual.
    pub async fn thaw_for_degraded_read(&self, key: &str) -> Result<ColdNeed> {
        crate::backend::check_key(key)?;
        let slots = self.slots();
        let all: Vec<usize> = (0..slots.len()).collect();
        let order = Self::read_order(&slots, &all);
        let (hot, cold): (Vec<usize>, Vec<usize>) = order
            .into_iter()
            .partition(|&i| !slots[i].child.labels.is_cold());
        let mut versions: BTreeMap<[u8; 32], usize> = BTreeMap::new();
        for &i in &hot {
            let head = slots[i]
                .call(&self.config, key, |b| {
                    b.get_range(key, 0..HEADER_LEN as u64)
                })
                .await;
            if let Ok(Ok(h)) = head.map(|h| ShardHeader::parse(&h)) {
                if usize::from(h.index) == i {
                    *versions.entry(h.object_checksum).or_default() += 1;
                }
            }
        }
        let hot_shards = versions.values().copied().max().unwrap_or(0);
        let missing = self.codec.k().saturating_sub(hot_shards);
        let needed: Vec<usize> = cold.into_iter().take(missing).collect();
        let mut pending = Vec::new();
        for &i in &needed {
            if let Some(t) = &slots[i].child.thaw {
                if t.thaw(key).await? == ThawState::Pending {
                    pending.push(i);
                }
            }
        }
        Ok(ColdNeed {
            hot_shards,
            needed,
            pending,
        })
    }
}

/// A [`Thaw`] for tests: restores are modelled by state, not time. A
/// request moves a key to pending; [`MemoryThaw::complete`] (the archive
/// "finishing" its restores) makes every pending key ready.
#[derive(Debug, Default)]
pub struct MemoryThaw {
    keys: Mutex<BTreeMap<String, ThawState>>,
    requests: Mutex<u64>,
}

impl MemoryThaw {
    /// No key requested yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Completes every pending restore.
    pub fn complete(&self) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        for s in keys.values_mut() {
            *s = ThawState::Ready;
        }
    }

    /// Whether `key` has been restored (what an archive backend checks
    /// before serving a read).
    pub fn is_ready(&self, key: &str) -> bool {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(key) == Some(&ThawState::Ready)
    }

    /// Restore requests issued (not counting repeats while pending).
    pub fn requests(&self) -> u64 {
        *self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Thaw for MemoryThaw {
    async fn thaw(&self, key: &str) -> BResult<ThawState> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let state = keys.entry(key.to_owned()).or_insert_with(|| {
            *self.requests.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            ThawState::Pending
        });
        Ok(*state)
    }
}
