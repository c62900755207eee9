//! Writing and deleting striped objects.

use std::sync::Arc;

use bytes::Bytes;
use cairn_backends::{Error as BError, PutMode};
use futures::future::join_all;

use crate::backend::{check_key, OFFLOAD_BYTES};
use crate::call::Slot;
use crate::format::{Shard, ShardHeader};
use crate::health::Admit;
use crate::{ErasureBackend, Error, Result};

/// How one child took its shard.
enum Took {
    /// Written now.
    Written,
    /// A shard of the very same object was already there.
    Present,
    /// Something else is there (create-only) — another object or a stale one.
    Conflict,
    /// The child failed.
    Failed(BError),
}

impl ErasureBackend {
    /// [`Backend::put`](cairn_backends::Backend::put) with the typed error:
    /// [`Error::QuorumNotReached`] when too few shards became durable.
    pub async fn put_object(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        check_key(key)?;
        self.tables.forget(key);
        // Held until this put is done: bounds the shard sets in memory.
        let _pass = match &self.large_puts {
            Some(gate) if data.len() >= OFFLOAD_BYTES => Some(gate.enter().await),
            _ => None,
        };
        let shards = self.encode(data).await.map_err(|e| e.with_key(key))?;
        let slots = self.slots();
        // Every shard carries the object checksum; read it from shard 0.
        let checksum = ShardHeader::parse(&shards[0])
            .map_err(|e| e.with_key(key))?
            .object_checksum;
        match mode {
            PutMode::CreateOnly => self.put_create(key, &slots, &shards, checksum).await,
            _ => self.put_overwrite(key, &slots, &shards).await,
        }
    }

    /// Writes shard `i` create-only and tells what happened.
    ///
    /// `AlreadyExists` alone proves nothing: the child may have been told
    /// so by a retry of our own write that is not yet visible, or it may
    /// hold a damaged leftover. What is there is read back whole and
    /// verified: a verified shard of this object is [`Took::Present`], a
    /// verified shard of another object is [`Took::Conflict`], anything
    /// that cannot be read or verified (timeout, `NotFound`, garbage) is a
    /// failure of this child ([`Took::Failed`]), never a conflict.
    async fn take(
        &self,
        key: &str,
        i: usize,
        slot: &Slot,
        shard: &Bytes,
        checksum: [u8; 32],
    ) -> Took {
        let result = slot
            .call(&self.config, key, |b| {
                b.put(key, shard.clone(), PutMode::CreateOnly)
            })
            .await;
        match result {
            Ok(()) => Took::Written,
            Err(e) if e.is_already_exists() => self.existing(key, i, slot, checksum).await,
            Err(e) => Took::Failed(e),
        }
    }

    /// Classifies the shard a create-only put found already stored on child `i`.
    async fn existing(&self, key: &str, i: usize, slot: &Slot, checksum: [u8; 32]) -> Took {
        let stored = match slot.call(&self.config, key, |b| b.get(key)).await {
            Ok(bytes) => bytes,
            Err(e) => {
                return Took::Failed(BError::Backend {
                    key: key.to_owned(),
                    message: format!(
                        "child {i} said the shard exists but it cannot be read back: {e}"
                    ),
                    transient: true,
                })
            }
        };
        let verified = Shard::parse(stored).and_then(|s| {
            self.codec.check(&s, i)?;
            Ok(s)
        });
        match verified {
            Ok(s) if s.header.object_checksum == checksum => Took::Present,
            Ok(_) => Took::Conflict,
            Err(e) => {
                slot.corrupt();
                Took::Failed(BError::Backend {
                    key: key.to_owned(),
                    message: format!("child {i} holds a damaged shard: {}", e.with_key(key)),
                    transient: false,
                })
            }
        }
    }

    async fn put_create(
        &self,
        key: &str,
        slots: &[Arc<Slot>],
        shards: &[Bytes],
        checksum: [u8; 32],
    ) -> Result<()> {
        let quorum = self.config.quorum();
        let mut first_error = None;
        let mut failed = Vec::new();
        // Leader: the lowest-numbered child that answers decides the race.
        // Children with an open circuit are passed over while others remain.
        let (mut order, open): (Vec<usize>, Vec<usize>) =
            (0..slots.len()).partition(|&i| slots[i].admit() == Admit::Yes);
        let open_now = open.clone();
        order.extend(open);
        let mut leader = None;
        let mut same = false;
        for i in order {
            match self.take(key, i, &slots[i], &shards[i], checksum).await {
                Took::Written => leader = Some(i),
                Took::Present => {
                    leader = Some(i);
                    same = true;
                }
                Took::Conflict => return Err(BError::AlreadyExists { key: key.into() }.into()),
                Took::Failed(e) => {
                    first_error.get_or_insert(e.to_string());
                    failed.push(i);
                    continue;
                }
            }
            break;
        }
        let Some(leader) = leader else {
            return Err(self.missed(key, 0, first_error));
        };
        let candidates: Vec<usize> = (0..slots.len())
            .filter(|&i| i != leader && !failed.contains(&i))
            .collect();
        let rest = self.skip_open(candidates, &open_now, 1, &mut failed);
        let results = join_all(
            rest.iter()
                .map(|&i| self.take(key, i, &slots[i], &shards[i], checksum)),
        )
        .await;
        let mut written = if same { vec![] } else { vec![leader] };
        let mut acked = 1;
        let mut conflicts = 0;
        for (&i, took) in rest.iter().zip(results) {
            match took {
                Took::Written => {
                    written.push(i);
                    acked += 1;
                }
                Took::Present => acked += 1,
                Took::Conflict => {
                    first_error
                        .get_or_insert(format!("child {i} holds another object under {key:?}"));
                    conflicts += 1;
                    failed.push(i);
                }
                Took::Failed(e) => {
                    first_error.get_or_insert(e.to_string());
                    failed.push(i);
                }
            }
        }
        if acked < quorum {
            // Leave nothing behind that a later create-only put would take
            // for a complete object. Best effort: a shard that stays has
            // fewer than k siblings and shows up in a scrub as unrecoverable.
            let undo = join_all(
                written
                    .iter()
                    .map(|&i| slots[i].call(&self.config, key, |b| b.delete(key))),
            )
            .await;
            drop(undo);
            if conflicts >= self.codec.k() {
                // Enough shards of another object to decode it: the key is
                // taken, even though the leader did not know (e.g. its disk
                // was replaced and not yet rebuilt).
                return Err(BError::AlreadyExists { key: key.into() }.into());
            }
            return Err(self.missed(key, acked, first_error));
        }
        for &i in &failed {
            self.hint(key, i);
        }
        if !failed.is_empty() {
            self.record_degraded(key, slots, &failed).await;
        }
        if same {
            return Err(BError::AlreadyExists { key: key.into() }.into());
        }
        Ok(())
    }

    /// Drops the children whose circuit is open from `candidates` (marking
    /// them failed) — unless the others, with `acked` shards already
    /// written, could not reach the quorum: then an open circuit is tried
    /// anyway, since failing the write for sure is worse than a slow call.
    fn skip_open(
        &self,
        candidates: Vec<usize>,
        open: &[usize],
        acked: usize,
        failed: &mut Vec<usize>,
    ) -> Vec<usize> {
        let (closed, skipped): (Vec<usize>, Vec<usize>) =
            candidates.iter().partition(|i| !open.contains(i));
        if acked + closed.len() < self.config.quorum() || skipped.is_empty() {
            return candidates;
        }
        failed.extend(skipped);
        closed
    }

    async fn put_overwrite(&self, key: &str, slots: &[Arc<Slot>], shards: &[Bytes]) -> Result<()> {
        let open: Vec<usize> = (0..slots.len())
            .filter(|&i| slots[i].admit() == Admit::Open)
            .collect();
        let mut failed = Vec::new();
        let targets = self.skip_open((0..slots.len()).collect(), &open, 0, &mut failed);
        let results = join_all(targets.iter().map(|&i| {
            let shard = shards[i].clone();
            slots[i].call(&self.config, key, move |b| {
                b.put(key, shard.clone(), PutMode::Overwrite)
            })
        }))
        .await;
        let mut first_error = None;
        for (&i, r) in targets.iter().zip(results) {
            if let Err(e) = r {
                first_error.get_or_insert(e.to_string());
                failed.push(i);
            }
        }
        let acked = slots.len() - failed.len();
        // Failed children keep the previous version's shard (stale): both
        // cases need a repair.
        for &i in &failed {
            self.hint(key, i);
        }
        if acked < self.config.quorum() {
            return Err(self.missed(key, acked, first_error));
        }
        if !failed.is_empty() {
            self.record_degraded(key, slots, &failed).await;
        }
        Ok(())
    }

    fn missed(&self, key: &str, acked: usize, first: Option<String>) -> Error {
        Error::QuorumNotReached {
            key: key.to_owned(),
            acked,
            needed: self.config.quorum(),
            first_error: first.unwrap_or_else(|| "no child answered".into()),
        }
    }

    /// [`Backend::delete`](cairn_backends::Backend::delete) with the typed
    /// error. Succeeds once at most `k - 1` shards can remain (so the object
    /// can no longer be read); shards left on children that failed are not
    /// listed any more: [`partial_keys_of`](Self::partial_keys_of) finds them
    /// and [`delete_shards`](Self::delete_shards) removes them (Cairn's prune
    /// does both, when it is safe).
    pub async fn delete_object(&self, key: &str) -> Result<()> {
        check_key(key)?;
        self.tables.forget(key);
        let slots = self.slots();
        let results = join_all(
            slots
                .iter()
                .map(|slot| slot.call(&self.config, key, |b| b.delete(key))),
        )
        .await;
        let (mut deleted, mut absent) = (0, 0);
        let mut first_error = None;
        for r in results {
            match r {
                Ok(()) => deleted += 1,
                Err(e) if e.is_not_found() => absent += 1,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        // Shards possibly left: on the children that failed.
        let gone = deleted + absent > self.config.m;
        match (gone, deleted, first_error) {
            (true, 0, _) => Err(BError::NotFound { key: key.into() }.into()),
            (true, _, _) => Ok(()),
            (false, _, Some(e)) => Err(e.into()),
            (false, _, None) => Err(BError::NotFound { key: key.into() }.into()),
        }
    }
}
