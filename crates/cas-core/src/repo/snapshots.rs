//! Snapshot records: storing, loading, listing and finding them.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::{put_idempotent, Repository, LOAD_CONCURRENCY};
use crate::open::{get_capped, list_tolerant, MAX_SNAPSHOT_SIZE};
use crate::snapshot::{decode_doc, encode_doc, snapshot_key, Snapshot, SNAPSHOT_MAGIC};
use crate::{Error, Result};

impl Repository {
    /// Stores a snapshot record; returns its id. Call only after the packs and
    /// index objects it needs are stored.
    pub async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<String> {
        let bytes = encode_doc(&self.keys, SNAPSHOT_MAGIC, snapshot)?;
        let id = blake3::hash(&bytes).to_hex().to_string();
        put_idempotent(&*self.backend, &snapshot_key(&id), Bytes::from(bytes)).await?;
        Ok(id)
    }

    /// Loads one snapshot record by full id.
    pub async fn load_snapshot(&self, id: &str) -> Result<Snapshot> {
        let key = snapshot_key(id);
        let bytes = get_capped(&*self.backend, &key, MAX_SNAPSHOT_SIZE).await?;
        if blake3::hash(&bytes).to_hex().as_str() != id {
            return Err(Error::corrupt(&key, "contents do not match the name"));
        }
        decode_doc(&self.keys, SNAPSHOT_MAGIC, &key, &bytes)
    }

    /// The ids of every snapshot record stored (without reading them).
    pub async fn snapshot_ids(&self) -> Result<Vec<String>> {
        Ok(self
            .backend
            .list("snapshots/")
            .map_ok(|m| m.key.trim_start_matches("snapshots/").to_owned())
            .try_collect()
            .await?)
    }

    /// Every snapshot, oldest first; fails if any record cannot be read.
    pub async fn snapshots(&self) -> Result<Vec<(String, Snapshot)>> {
        let (all, mut errors) = self.readable_snapshots().await?;
        match errors.is_empty() {
            true => Ok(all),
            false => Err(errors.remove(0)),
        }
    }

    /// Every snapshot that can be read, oldest first, and the errors of
    /// those that cannot: one damaged record (or one written by a newer
    /// version) must not stop backups, selection or `check`.
    ///
    /// A listing that cannot be shown complete (an erasure layout with
    /// too many children silent) gives the snapshots heard, and its error
    /// among the errors.
    pub async fn readable_snapshots(&self) -> Result<(Vec<(String, Snapshot)>, Vec<Error>)> {
        let (heard, incomplete) = list_tolerant(&*self.backend, "snapshots/").await?;
        let ids: Vec<String> = heard
            .into_iter()
            .map(|m| m.key.trim_start_matches("snapshots/").to_owned())
            .collect();
        let loaded: Vec<Result<(String, Snapshot)>> = futures::stream::iter(ids)
            .map(|id| async move {
                let s = self.load_snapshot(&id).await?;
                Ok((id, s))
            })
            .buffer_unordered(LOAD_CONCURRENCY)
            .collect()
            .await;
        let (mut all, mut errors) = (Vec::new(), Vec::new());
        errors.extend(incomplete.map(Error::from));
        for r in loaded {
            match r {
                Ok(s) => all.push(s),
                Err(e) => errors.push(e),
            }
        }
        all.sort_by(|a, b| (a.1.system_time(), &a.0).cmp(&(b.1.system_time(), &b.0)));
        Ok((all, errors))
    }

    /// Finds a snapshot by `latest` (the newest readable one), a full id, or
    /// an unambiguous id prefix (whose record must then be readable).
    pub async fn find_snapshot(&self, query: &str) -> Result<(String, Snapshot)> {
        let not_found = || Error::SnapshotNotFound {
            query: query.to_owned(),
        };
        if query == "latest" {
            return self
                .readable_snapshots()
                .await?
                .0
                .into_iter()
                .last()
                .ok_or_else(not_found);
        }
        let mut matches: Vec<String> = self
            .snapshot_ids()
            .await?
            .into_iter()
            .filter(|id| id.starts_with(query))
            .collect();
        match matches.len() {
            0 => Err(not_found()),
            1 => {
                let id = matches.remove(0);
                let snap = self.load_snapshot(&id).await?;
                Ok((id, snap))
            }
            count => Err(Error::AmbiguousSnapshot {
                prefix: query.to_owned(),
                count,
            }),
        }
    }
}
