//! [`ErasureBackend`]: a [`Backend`] that stores each object as `k + m`
//! shards on `k + m` child backends.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use async_trait::async_trait;
use bytes::Bytes;
use cairn_backends::{validate_key, Backend, ObjectMeta, PutMode, Result as BResult};
use futures::stream::BoxStream;

use crate::call::Slot;
use crate::config::{check_layout, Child, ErasureConfig};
use crate::format::ShardFormat;
use crate::health::{Health, HealthReport};
use crate::pool::{EncodePool, Gate};
use crate::range::TableCache;
use crate::verify::{Verifier, VerifierSlot};
use crate::{Codec, Error, Result};

/// Objects at least this large are encoded and decoded on the `blocking`
/// thread pool rather than on the caller's executor thread.
pub(crate) const OFFLOAD_BYTES: usize = 256 * 1024;

/// Keys under this prefix on the children are the erasure layer's own
/// bookkeeping (heal records, see [`ErasureBackend::heal`]), stored whole on
/// each child rather than striped. [`ErasureBackend`] refuses them as object
/// keys and leaves them out of listings and scrubs. Cairn's repository keys
/// (`config`, `keys/`, `data/`, `index/`, `snapshots/`, ...) never start
/// with a dot.
pub const RESERVED_PREFIX: &str = ".erasure/";

/// Whether `key` is under [`RESERVED_PREFIX`].
pub(crate) fn is_reserved(key: &str) -> bool {
    key.starts_with(RESERVED_PREFIX)
}

/// [`validate_key`], and not a reserved key.
pub(crate) fn check_key(key: &str) -> BResult<()> {
    validate_key(key)?;
    if is_reserved(key) {
        return Err(cairn_backends::Error::InvalidKey {
            key: key.to_owned(),
            reason: "keys under .erasure/ are reserved for the erasure layer",
        });
    }
    Ok(())
}

/// A shard that a write or read found missing or damaged: the object `key`
/// needs shard `child` rewritten. See [`ErasureBackend::needs_repair`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RepairHint {
    /// The object.
    pub key: String,
    /// The child (and shard index) concerned.
    pub child: usize,
}

/// A [`Backend`] that stripes every object over `k + m` child backends with
/// Reed-Solomon coding.
///
/// **Placement**: shard `i` of every object is stored under the object's own
/// key on child `i`. Fixed placement keeps lookups free of any map and makes a
/// child's contents predictable (replacing child `i` means rebuilding shard `i`
/// of everything); its cost is that child `i` always holds data shards
/// (`i < k`) or always parity — harmless, since every shard is the same size.
///
/// **Writes** ([`Backend::put`]) encode the object and write its shards in
/// parallel; the put is acknowledged once the write quorum (default `k + 1`)
/// of shards is durable. An object acknowledged with shards missing is
/// recorded durably: a heal record under [`RESERVED_PREFIX`] on every child
/// that took a shard (format in [`heal_record`](crate::heal_record)), which
/// [`degraded`](Self::degraded) counts and [`heal`](Self::heal) (also run by
/// a repairing [`scrub`](Self::scrub)) acts on once the children are back,
/// from any process. The shards are also noted in an in-memory needs-repair
/// set ([`needs_repair`](Self::needs_repair)).
/// A child whose circuit is open is not written to during its cool-down (its
/// shard is recorded as needing repair) unless the others cannot make the
/// quorum without it.
///
/// *Create-only* puts first write one shard, to the lowest-numbered child that
/// answers (the "leader"); the leader's own create-only check decides the
/// race between concurrent writers of one key, and only the winner writes the
/// other shards. If the leader already holds a shard of the *same* object
/// (same checksum: an earlier put of identical bytes), the put completes any
/// missing shards and then reports `AlreadyExists`, so a retried put repairs a
/// half-written object instead of leaving it. A put that misses its quorum
/// deletes the shards it wrote; if it missed it because at least `k` other
/// children hold shards of a different object under the key (a leader that
/// lost its data), it reports `AlreadyExists`. A stray shard on fewer than `k`
/// children (left by an interrupted delete) does not make the key taken: it
/// counts as a failed shard and scrub later rewrites it as stale. The race is decided by one child only while
/// writers agree on the leader: if the leader fails for one writer but not for
/// another, both may proceed and both may then miss their quorum (no data is
/// acknowledged wrongly; one of them retries).
///
/// *Overwrite* puts write every shard in parallel. Children that fail keep
/// the previous version's shard; reads never mix versions (shards carry the
/// object checksum), and the old version cannot be read back as long as
/// fewer than `k` old shards survive, i.e. while the write quorum exceeds
/// `m` (true of the default `k + 1` whenever `m <= k`). Cairn itself writes
/// every object create-only.
///
/// **Reads** ask the `k` healthiest children (closed circuit, lowest latency
/// average) for their shards, verify each checksum, and ask further children
/// for every shard that is missing, corrupt, stale or slow to fail. Children
/// whose circuit is open are asked last. With
/// [`hedge_after`](ErasureConfig::hedge_after) set, a read that waits that
/// long also asks the next child, so a hung child costs the hedge delay, not
/// the operation timeout.
///
/// **Range reads** of objects in shard format 2 fetch one shard header (with
/// the block checksums of every shard) and then only the 64 KiB blocks of
/// the data shards that hold the range, verifying each block; bad or missing
/// blocks are rebuilt from the same block range of other shards (see
/// [`get_range_object`](Self::get_range_object)). Objects in format 1 (and
/// anything the block path cannot settle) are read whole and sliced.
///
/// **Listing** is the union of the children's listings (held in memory for
/// one prefix, one entry per key: the children's listings stream into it). It is complete or it fails: an object that can be read has
/// `k` shards on `k` children, so while fewer than `k` children fail to
/// list, one of its shards is on a child that answered; with `k` or more
/// failed the listing returns [`Error::IncompleteListing`]
/// ([`cairn_backends::Error::Incomplete`] through the trait). A key is kept
/// when the children listing it plus the children that failed number at
/// least `k` (so leftovers of fewer than `k` shards are left out when every
/// child answered). Sizes come from a ranged read of one shard header per
/// key, `list_concurrency` at a time (so a stale shard, until scrubbed, can
/// report an older size; `stat` reads every header and takes the majority);
/// [`list_keys`](Self::list_keys) skips those reads.
/// Keys under [`RESERVED_PREFIX`] are never listed.
///
/// **Deleting** removes the shards from every child; it succeeds once so few
/// shards can remain (at most `k - 1`) that the object is gone.
#[derive(Debug)]
pub struct ErasureBackend {
    pub(crate) codec: Codec,
    pub(crate) config: ErasureConfig,
    slots: RwLock<Vec<Arc<Slot>>>,
    hints: Mutex<BTreeSet<RepairHint>>,
    pub(crate) verifier: VerifierSlot,
    pub(crate) tables: TableCache,
    /// Shard buffers for large puts (`None` when `encode_buffers` is 0).
    pool: Option<EncodePool>,
    /// Bounds the large puts encoding and storing at once.
    pub(crate) large_puts: Option<Gate>,
}

impl ErasureBackend {
    /// Stripes over `children` (exactly `k + m`: child `i` holds shard `i`)
    /// with `config`, after validating both: [`Error::InvalidParameters`],
    /// [`Error::InvalidConfig`] or [`Error::PlacementImpossible`].
    pub fn new(children: Vec<Child>, config: ErasureConfig) -> Result<ErasureBackend> {
        let codec = Codec::new(config.k, config.m)?;
        config.validate()?;
        check_layout(&config, &children)?;
        let slots = children
            .into_iter()
            .map(|child| {
                Arc::new(Slot {
                    child,
                    health: Health::new(config.health.clone()),
                })
            })
            .collect();
        Ok(ErasureBackend {
            codec,
            slots: RwLock::new(slots),
            hints: Mutex::new(BTreeSet::new()),
            verifier: VerifierSlot::default(),
            tables: TableCache::default(),
            pool: (config.encode_buffers > 0).then(|| EncodePool::new(config.encode_buffers)),
            large_puts: (config.encode_buffers > 0).then(|| Gate::new(config.encode_buffers)),
            config,
        })
    }

    /// The same backend with `verifier` deciding which version of an object
    /// [`scrub`](Self::scrub) and [`heal`](Self::heal) may rewrite towards.
    ///
    /// Shard checksums are unkeyed, so whoever can write to children can
    /// plant a self-consistent version of an object; shard counts cannot
    /// tell it from the genuine one. So scrub only *overwrites* shards
    /// (stale ones of another version) when the verifier says the winning
    /// version is [`Verdict::Valid`](crate::Verdict::Valid); without a
    /// verified winner it fills in only missing and corrupt shards of an
    /// object with a single version, and reports everything else in
    /// [`ScrubReport::conflicts`](crate::ScrubReport::conflicts). For Cairn
    /// repositories use [`content_hash_verifier`](crate::content_hash_verifier).
    pub fn with_verifier(mut self, verifier: Arc<dyn Verifier>) -> Self {
        self.verifier = VerifierSlot(Some(verifier));
        self
    }

    /// The codec.
    pub fn codec(&self) -> &Codec {
        &self.codec
    }

    /// The configuration.
    pub fn config(&self) -> &ErasureConfig {
        &self.config
    }

    /// The children, in shard order.
    pub fn children(&self) -> Vec<Child> {
        self.slots().iter().map(|s| s.child.clone()).collect()
    }

    pub(crate) fn slots(&self) -> Vec<Arc<Slot>> {
        self.slots.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces child `index` (a dead disk, a lost bucket) with `child`, for
    /// instance an empty one; a [`scrub`](Self::scrub) with `repair` then
    /// rebuilds every shard it should hold. Placement rules are checked again;
    /// the new child starts with a fresh health record.
    pub fn replace_child(&self, index: usize, child: Child) -> Result<()> {
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        if index >= slots.len() {
            return Err(Error::InvalidConfig {
                reason: format!("no child {index}: there are {}", slots.len()),
            });
        }
        let mut children: Vec<Child> = slots.iter().map(|s| s.child.clone()).collect();
        children[index] = child.clone();
        check_layout(&self.config, &children)?;
        slots[index] = Arc::new(Slot {
            child,
            health: Health::new(self.config.health.clone()),
        });
        Ok(())
    }

    /// Health of every child: breaker state, counters, latency.
    pub fn health_report(&self) -> HealthReport {
        let slots = self.slots();
        HealthReport {
            children: slots
                .iter()
                .enumerate()
                .map(|(i, s)| s.health.report(i, &s.child.name, &s.child.labels))
                .collect(),
        }
    }

    fn hints(&self) -> MutexGuard<'_, BTreeSet<RepairHint>> {
        self.hints.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Shards this process saw fail (writes that missed a child, reads that
    /// found a shard missing or corrupt) since they were last repaired. Held
    /// in memory only; a [`scrub`](Self::scrub) finds the same and more.
    pub fn needs_repair(&self) -> Vec<RepairHint> {
        self.hints().iter().cloned().collect()
    }

    pub(crate) fn hint(&self, key: &str, child: usize) {
        let mut hints = self.hints();
        if hints.len() < self.config.max_repair_hints {
            hints.insert(RepairHint {
                key: key.to_owned(),
                child,
            });
        }
    }

    pub(crate) fn clear_hint(&self, key: &str, child: usize) {
        self.hints().remove(&RepairHint {
            key: key.to_owned(),
            child,
        });
    }

    pub(crate) async fn encode(&self, data: Bytes) -> Result<Vec<Bytes>> {
        if data.len() < OFFLOAD_BYTES {
            return self.codec.encode(&data);
        }
        let codec = self.codec.clone();
        let Some(pool) = self.pool.clone() else {
            return blocking::unblock(move || codec.encode(&data)).await;
        };
        let buf = pool.take();
        let total = codec.total();
        blocking::unblock(move || {
            let mut buf = buf;
            // `data` (the caller's object) is freed here, as before.
            match codec.encode_into(&data, ShardFormat::V2, &mut buf) {
                Ok(stride) => Ok(pool.shards(buf, stride, total)),
                Err(e) => {
                    pool.give_back(buf);
                    Err(e)
                }
            }
        })
        .await
    }
}

#[async_trait]
impl Backend for ErasureBackend {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> BResult<()> {
        Ok(self.put_object(key, data, mode).await?)
    }

    async fn get(&self, key: &str) -> BResult<Bytes> {
        Ok(self.get_object(key).await?)
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> BResult<Bytes> {
        Ok(self.get_range_object(key, range).await?)
    }

    async fn stat(&self, key: &str) -> BResult<ObjectMeta> {
        Ok(self.stat_object(key).await?)
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, BResult<ObjectMeta>> {
        self.list_objects(prefix)
    }

    async fn delete(&self, key: &str) -> BResult<()> {
        Ok(self.delete_object(key).await?)
    }
}
