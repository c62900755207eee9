//! [`Repository::epoch_usage`]: what is still stored under each key epoch.

use std::collections::BTreeMap;

use cairn_crypto::SealingKey;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::repo::LOAD_CONCURRENCY;
use crate::{Repository, Result};

/// Objects stored under one key epoch.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EpochUsage {
    /// The epoch (0: the keys derived from the master key).
    pub epoch: u32,
    /// Packs whose blobs are sealed under it.
    pub packs: u64,
    /// Their bytes.
    pub pack_bytes: u64,
    /// Index objects sealed under it.
    pub index_objects: u64,
    /// Their bytes.
    pub index_bytes: u64,
    /// Snapshot records sealed under it (never re-sealed: their ids are
    /// the hash of their bytes; see the `epochs` module docs).
    pub snapshots: u64,
    /// Their bytes.
    pub snapshot_bytes: u64,
}

/// What [`Repository::epoch_usage`] found.
#[non_exhaustive]
#[derive(Debug, Clone, Default, Serialize)]
pub struct EpochReport {
    /// The epoch new data is sealed under.
    pub current: u32,
    /// Every epoch this handle holds and every epoch found stored, ascending.
    pub epochs: Vec<EpochUsage>,
    /// Objects whose epoch could not be read (damaged, or gone meanwhile).
    pub unreadable: Vec<String>,
}

impl EpochReport {
    /// Bytes of packs and index objects under `epoch` (what a prune's
    /// repack retires).
    pub fn data_bytes(&self, epoch: u32) -> u64 {
        self.epochs
            .iter()
            .filter(|u| u.epoch == epoch)
            .map(|u| u.pack_bytes + u.index_bytes)
            .sum()
    }
}

impl Repository {
    /// Bytes still stored under each key epoch: packs (by their blobs'
    /// sealed header), index objects and snapshot records. Reads 5 bytes
    /// of every such object (one ranged read each).
    pub async fn epoch_usage(&self) -> Result<EpochReport> {
        let keys = self.keys();
        let mut by: BTreeMap<u32, EpochUsage> = keys
            .epochs()
            .into_iter()
            .map(|epoch| {
                let u = EpochUsage {
                    epoch,
                    ..EpochUsage::default()
                };
                (epoch, u)
            })
            .collect();
        let mut unreadable = Vec::new();
        // Where the sealed message starts: packs begin with their first
        // blob, index objects are one sealed message, records have a
        // 5-byte magic and version first.
        for (prefix, at) in [("data/", 0u64), ("index/", 0), ("snapshots/", 5)] {
            let listed: Vec<_> = self.backend.list(prefix).try_collect().await?;
            let mut reads = futures::stream::iter(listed)
                .map(|m| async move {
                    let r = self.backend.get_range(&m.key, at..at + 5).await;
                    (m, r)
                })
                .buffer_unordered(LOAD_CONCURRENCY);
            while let Some((m, r)) = reads.next().await {
                let epoch = match r {
                    Ok(b) => SealingKey::sealed_epoch(&b).ok(),
                    Err(e) if e.is_not_found() => None,
                    Err(e) => return Err(e.into()),
                };
                let Some(epoch) = epoch else {
                    unreadable.push(m.key);
                    continue;
                };
                let u = by.entry(epoch).or_insert_with(|| EpochUsage {
                    epoch,
                    ..EpochUsage::default()
                });
                let (count, bytes) = match prefix {
                    "data/" => (&mut u.packs, &mut u.pack_bytes),
                    "index/" => (&mut u.index_objects, &mut u.index_bytes),
                    _ => (&mut u.snapshots, &mut u.snapshot_bytes),
                };
                *count += 1;
                *bytes += m.size;
            }
        }
        unreadable.sort();
        Ok(EpochReport {
            current: keys.epoch(),
            epochs: by.into_values().collect(),
            unreadable,
        })
    }
}
