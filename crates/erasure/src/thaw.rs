//! Cold children that need a restore request before a read (S3 GLACIER,
//! DEEP_ARCHIVE): a child's [`Thaw`] issues it, and
//! [`ErasureBackend::thaw_for_degraded_read`] says which cold shards a
//! degraded read of an object needs and asks for them. With
//! [`ErasureConfig::thaw_wait`](crate::ErasureConfig::thaw_wait) set, a
//! read that needs them does this itself and waits (polling, on
//! `futures-timer`'s runtime-agnostic delays) before it decodes.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use cairn_backends::Result as BResult;
use futures_timer::Delay;
use serde::Serialize;

use crate::call::{with_timeout, Slot};
use crate::format::{ShardHeader, HEADER_LEN};
use crate::{ErasureBackend, Error, Result};

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
                if with_timeout(t.thaw(key), self.config.op_timeout, key).await?
                    == ThawState::Pending
                {
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

impl ErasureBackend {
    /// The rest of a read whose cold children `frozen` refused their
    /// shards (it had `have` of the `need`): thaws what it needs, waiting
    /// up to `thaw_wait`, then reads the hot children and the thawed ones
    /// first.
    pub(crate) async fn read_after_thaw(
        &self,
        key: &str,
        slots: &[Arc<Slot>],
        frozen: Vec<usize>,
        have: usize,
        need: usize,
    ) -> Result<Bytes> {
        let names = |among: &[usize]| -> Vec<String> {
            among
                .iter()
                .map(|&i| format!("child {i} ({})", slots[i].child.name))
                .collect()
        };
        let unreadable = |cold: &[usize]| Error::ColdShardsUnreadable {
            key: key.to_owned(),
            have,
            need,
            cold: names(cold),
        };
        let Some(wait) = self.config.thaw_wait else {
            return Err(unreadable(&frozen));
        };
        if frozen.iter().all(|&i| slots[i].child.thaw.is_none()) {
            return Err(unreadable(&frozen));
        }
        let started = Instant::now();
        let thawed = loop {
            let cold = self.thaw_for_degraded_read(key).await?;
            if cold.pending.is_empty() {
                break cold.needed;
            }
            let waited = started.elapsed();
            if waited >= wait {
                return Err(Error::ThawPending {
                    key: key.to_owned(),
                    pending: names(&cold.pending),
                    waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                });
            }
            Delay::new(self.config.thaw_poll.min(wait - waited)).await;
        };
        // The thawed children right after the hot ones: the health ranking
        // may by now put another cold child first (the frozen reads counted
        // as failures), and that one may still be archived.
        let all: Vec<usize> = (0..slots.len()).collect();
        let by_health = Self::read_order(slots, &all);
        let hot = by_health
            .iter()
            .filter(|&&i| !slots[i].child.labels.is_cold());
        let rest = by_health
            .iter()
            .filter(|i| slots[**i].child.labels.is_cold());
        let order: Vec<usize> = hot
            .copied()
            .chain(thawed.iter().copied())
            .chain(rest.copied().filter(|i| !thawed.contains(i)))
            .collect();
        let mut frozen = Vec::new();
        match self.read_in_order(key, slots, &order, &mut frozen).await {
            Err(Error::NotEnoughShards { have, need, .. }) if !frozen.is_empty() => {
                Err(Error::ColdShardsUnreadable {
                    key: key.to_owned(),
                    have,
                    need,
                    cold: names(&frozen),
                })
            }
            other => other,
        }
    }
}

/// A [`Thaw`] for tests: restores are modelled by state, not time. A
/// request moves a key to pending; [`MemoryThaw::complete`] (the archive
/// "finishing" its restores) makes every pending key ready, and so does
/// asking again often enough when built with [`MemoryThaw::ready_after`].
#[derive(Debug, Default)]
pub struct MemoryThaw {
    /// Each requested key: its state and how often it was asked since.
    keys: Mutex<BTreeMap<String, (ThawState, u32)>>,
    requests: Mutex<u64>,
    /// Asks after the request at which a pending key becomes ready.
    ready_after: Option<u32>,
}

impl MemoryThaw {
    /// No key requested yet; restores complete only by [`complete`](Self::complete).
    pub fn new() -> Self {
        Self::default()
    }

    /// A thaw whose restores complete on the `asks`-th ask after the
    /// request (a read polling it sees them finish).
    pub fn ready_after(asks: u32) -> Self {
        MemoryThaw {
            ready_after: Some(asks),
            ..Self::default()
        }
    }

    /// Completes every pending restore.
    pub fn complete(&self) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        for (s, _) in keys.values_mut() {
            *s = ThawState::Ready;
        }
    }

    /// Whether `key` has been restored (what an archive backend checks
    /// before serving a read).
    pub fn is_ready(&self, key: &str) -> bool {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(key).map(|(s, _)| *s) == Some(ThawState::Ready)
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
        let Some((state, asks)) = keys.get_mut(key) else {
            *self.requests.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            let state = match self.ready_after {
                Some(0) => ThawState::Ready,
                _ => ThawState::Pending,
            };
            keys.insert(key.to_owned(), (state, 0));
            return Ok(state);
        };
        *asks = asks.saturating_add(1);
        if self.ready_after.is_some_and(|n| *asks >= n) {
            *state = ThawState::Ready;
        }
        Ok(*state)
    }
}
