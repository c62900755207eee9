//! Reading, stat-ing and listing striped objects.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cairn_backends::{Error as BError, ObjectMeta, Result as BResult};
use futures::future::{join_all, select, Either};
use futures::stream::{self, BoxStream, FuturesUnordered, StreamExt, TryStreamExt};
use futures_timer::Delay;

use crate::backend::{check_key, is_reserved, OFFLOAD_BYTES};
use crate::call::Slot;
use crate::format::{Shard, ShardHeader, HEADER_LEN};
use crate::{ErasureBackend, Error, Result};

/// Keys of a listing, each with the children that list it.
pub(crate) type Union = BTreeMap<String, Vec<usize>>;

impl ErasureBackend {
    /// Children in the order reads should try them: hot children before
    /// cold ones ([`Labels::is_cold`](crate::Labels::is_cold)), whatever
    /// their health; then closed circuits first, then half-open, then
    /// open; within each, lowest latency average first; ties in shard
    /// order (data shards first: a read of the `k` data shards decodes
    /// without reconstruction).
    pub(crate) fn read_order(slots: &[Arc<Slot>], among: &[usize]) -> Vec<usize> {
        let mut order = among.to_vec();
        let ranks: Vec<(bool, u8, f64)> = slots
            .iter()
            .map(|s| {
                let (state, latency) = s.health.rank();
                (s.child.labels.is_cold(), state, latency)
            })
            .collect();
        order.sort_by(|&a, &b| {
            let (ca, sa, la) = ranks[a];
            let (cb, sb, lb) = ranks[b];
            ca.cmp(&cb).then(sa.cmp(&sb)).then(la.total_cmp(&lb))
        });
        order
    }

    /// How many children of `order` are hot: hedged reads stop there, so
    /// a slow hot child never makes a healthy read touch a cold one.
    pub(crate) fn hot_count(slots: &[Arc<Slot>], order: &[usize]) -> usize {
        order
            .iter()
            .filter(|&&i| !slots[i].child.labels.is_cold())
            .count()
    }

    /// [`Backend::get`](cairn_backends::Backend::get) with the typed error:
    /// [`Error::NotEnoughShards`] when fewer than `k` good shards of one
    /// version could be read, [`Error::Backend`] with `NotFound` when no child
    /// holds the object (and too few children failed for it to hide there).
    ///
    /// When cold children refused their shards (archived: a permanent
    /// error, not "not found") and the others do not make `k`, the read
    /// waits for their restores if [`ErasureConfig::thaw_wait`](crate::ErasureConfig::thaw_wait)
    /// is set and they have a [`Thaw`](crate::Thaw) (see
    /// [`thaw_for_degraded_read`](Self::thaw_for_degraded_read)), and
    /// then reads the hot children and the thawed ones; otherwise it fails
    /// with [`Error::ColdShardsUnreadable`] naming them.
    pub async fn get_object(&self, key: &str) -> Result<Bytes> {
        check_key(key)?;
        let slots = self.slots();
        let all: Vec<usize> = (0..slots.len()).collect();
        let order = Self::read_order(&slots, &all);
        let mut frozen = Vec::new();
        match self.read_in_order(key, &slots, &order, &mut frozen).await {
            Err(Error::NotEnoughShards { have, need, .. }) if !frozen.is_empty() => {
                self.read_after_thaw(key, &slots, frozen, have, need).await
            }
            other => other,
        }
    }

    /// Reads shards from the children in `order` until `k` of one version
    /// verify, and decodes them; notes in `frozen` the cold children that
    /// refused theirs with a permanent error.
    pub(crate) async fn read_in_order(
        &self,
        key: &str,
        slots: &[Arc<Slot>],
        order: &[usize],
        frozen: &mut Vec<usize>,
    ) -> Result<Bytes> {
        let (k, total) = (self.codec.k(), order.len());
        let hot = Self::hot_count(slots, order);
        let read = |i: usize| {
            let slot = Arc::clone(&slots[i]);
            async move {
                // Open circuits come last in `order`: reaching one means the
                // others did not suffice, so it is asked as a last resort.
                let _ = slot.admit();
                (i, slot.call(&self.config, key, |b| b.get(key)).await)
            }
        };
        let mut pending = FuturesUnordered::new();
        let mut next = 0;
        let mut good: Vec<Shard> = Vec::new();
        let mut counts: HashMap<[u8; 32], usize> = HashMap::new();
        let mut best = 0;
        let (mut absent, mut bad) = (Vec::new(), Vec::new());
        loop {
            while pending.len() + best < k && next < total {
                pending.push(read(order[next]));
                next += 1;
            }
            let done = match self.config.hedge_after {
                Some(after) if next < hot => {
                    match select(pending.next(), Delay::new(after)).await {
                        Either::Left((done, _)) => Some(done),
                        Either::Right(_) => None,
                    }
                }
                _ => Some(pending.next().await),
            };
            let Some(done) = done else {
                // Hedge: a shard is slow in coming; ask one more child.
                pending.push(read(order[next]));
                next += 1;
                continue;
            };
            let Some((i, result)) = done else {
                break;
            };
            match result {
                Ok(bytes) => match Shard::parse(bytes).and_then(|s| {
                    self.codec.check(&s, i)?;
                    Ok(s)
                }) {
                    Ok(s) => {
                        let c = counts.entry(s.header.object_checksum).or_default();
                        *c += 1;
                        best = best.max(*c);
                        good.push(s);
                    }
                    Err(_) => {
                        slots[i].corrupt();
                        bad.push(i);
                    }
                },
                Err(e) if e.is_not_found() => absent.push(i),
                Err(e) if !e.is_transient() && slots[i].child.labels.is_cold() => frozen.push(i),
                Err(_) => {}
            }
            if best >= k {
                break;
            }
        }
        drop(pending);
        if best < k {
            if good.is_empty() && bad.is_empty() && absent.len() > self.codec.m() {
                return Err(BError::NotFound { key: key.into() }.into());
            }
            return Err(Error::NotEnoughShards {
                key: key.into(),
                have: best,
                need: k,
            });
        }
        let winner = counts.iter().find(|&(_, &c)| c >= k).map(|(sum, _)| *sum);
        let stale = good
            .iter()
            .filter(|s| Some(s.header.object_checksum) != winner)
            .map(|s| usize::from(s.header.index));
        for i in absent.iter().chain(&bad).copied().chain(stale) {
            self.hint(key, i);
        }
        self.decode(key, good).await
    }

    /// Decodes verified shards, on the thread pool when they are large.
    pub(crate) async fn decode(&self, key: &str, shards: Vec<Shard>) -> Result<Bytes> {
        let size = shards.first().map_or(0, |s| s.payload.len()) * self.codec.k();
        let result = if size < OFFLOAD_BYTES {
            self.codec.decode_shards(shards)
        } else {
            let codec = self.codec.clone();
            blocking::unblock(move || codec.decode_shards(shards)).await
        };
        result.map_err(|e| e.with_key(key))
    }

    /// [`Backend::stat`](cairn_backends::Backend::stat): reads every hot
    /// child's shard header (a ranged read), and the cold children's only
    /// if the hot ones do not settle it, and reports the length of the
    /// version that at least `k` of them agree on.
    pub async fn stat_object(&self, key: &str) -> Result<ObjectMeta> {
        check_key(key)?;
        let slots = self.slots();
        let (cold, hot): (Vec<usize>, Vec<usize>) =
            (0..slots.len()).partition(|&i| slots[i].child.labels.is_cold());
        let read = |among: Vec<usize>| {
            join_all(among.into_iter().map(|i| {
                let slot = &slots[i];
                async move {
                    let head = slot
                        .call(&self.config, key, |b| {
                            b.get_range(key, 0..HEADER_LEN as u64)
                        })
                        .await;
                    (i, head)
                }
            }))
        };
        let mut heads = read(hot).await;
        let settled = {
            let mut counts: HashMap<[u8; 32], usize> = HashMap::new();
            for (i, h) in &heads {
                if let Ok(Ok(h)) = h.as_ref().map(|h| ShardHeader::parse(h)) {
                    if usize::from(h.index) == *i {
                        *counts.entry(h.object_checksum).or_default() += 1;
                    }
                }
            }
            counts.values().any(|&n| n >= self.codec.k())
        };
        if !settled {
            heads.extend(read(cold).await);
        }
        let mut versions: HashMap<([u8; 32], u64), usize> = HashMap::new();
        let (mut absent, mut seen) = (0, 0);
        for (i, head) in heads {
            match head.map(|h| ShardHeader::parse(&h)) {
                Ok(Ok(h)) if usize::from(h.index) == i => {
                    seen += 1;
                    *versions
                        .entry((h.object_checksum, h.object_len))
                        .or_default() += 1;
                }
                Ok(_) => {
                    seen += 1;
                    slots[i].corrupt();
                }
                Err(e) if e.is_not_found() => absent += 1,
                Err(_) => {}
            }
        }
        let best = versions.into_iter().max_by_key(|&(_, n)| n);
        match best {
            Some(((_, len), n)) if n >= self.codec.k() => Ok(ObjectMeta::new(key, len)),
            _ if seen == 0 && absent > self.codec.m() => {
                Err(BError::NotFound { key: key.into() }.into())
            }
            b => Err(Error::NotEnoughShards {
                key: key.into(),
                have: b.map_or(0, |(_, n)| n),
                need: self.codec.k(),
            }),
        }
    }

    /// Every child's listing of `prefix`, merged (without the keys under
    /// [`RESERVED_PREFIX`](crate::RESERVED_PREFIX), which are not striped objects); and the children
    /// whose listing failed. The children's listings stream into one map
    /// as they arrive, so memory holds each key once (with the children
    /// that list it), not once per child.
    pub(crate) async fn union_listing(&self, prefix: &str) -> (Union, Vec<(usize, BError)>) {
        let slots = self.slots();
        let config = &self.config;
        let union = Mutex::new(Union::new());
        let listings = join_all(slots.iter().enumerate().map(|(i, slot)| {
            let union = &union;
            slot.list_each(config, prefix, move |meta| {
                if !is_reserved(&meta.key) {
                    let mut u = union.lock().unwrap_or_else(|e| e.into_inner());
                    u.entry(meta.key).or_default().push(i);
                }
            })
        }))
        .await;
        let failed: Vec<(usize, BError)> = listings
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| r.err().map(|e| (i, e)))
            .collect();
        let mut union = union.into_inner().unwrap_or_else(|e| e.into_inner());
        if !failed.is_empty() {
            // A child that failed part-way counts as unheard, not as a
            // holder of what it listed before failing.
            union.retain(|_, holders| {
                holders.retain(|i| !failed.iter().any(|(f, _)| f == i));
                !holders.is_empty()
            });
        }
        (union, failed)
    }

    /// The keys under `prefix`, complete or failing with
    /// [`Error::IncompleteListing`] by the same rule as
    /// [`list`](cairn_backends::Backend::list), without reading a shard
    /// header per key: for callers that need names, not sizes (a listing
    /// through the [`Backend`](cairn_backends::Backend) trait must report
    /// each object's size, which only a shard header knows). Keys come in
    /// order.
    pub async fn list_keys(&self, prefix: &str) -> Result<Vec<String>> {
        let k = self.codec.k();
        let (union, failed) = self.union_listing(prefix).await;
        if failed.len() >= k {
            return Err(self.incomplete(prefix, &failed));
        }
        let unheard = failed.len();
        Ok(union
            .into_iter()
            .filter(|(_, h)| h.len() + unheard >= k)
            .map(|(key, _)| key)
            .collect())
    }

    /// [`Backend::list`](cairn_backends::Backend::list), complete or ending
    /// with [`Error::IncompleteListing`] after the keys that were heard.
    ///
    /// **The rule.** An object that can be read has at least `k` shards, on
    /// `k` different children. If fewer than `k` children failed to list,
    /// at least one of its shards is on a child that listed, so the union of
    /// the listings holds every readable object: the listing is complete.
    /// With `k` or more failed, an object could hide on them alone, and the
    /// listing fails. (The write quorum does not help: shards of an
    /// acknowledged object can be lost later, and the object stays readable
    /// while `k` remain.)
    ///
    /// A key is kept when the children that list it plus the children that
    /// failed number at least `k`: it may be readable. Keys held by fewer
    /// (leftovers of an interrupted delete, or of a put that missed its
    /// quorum) cannot be read whatever the failed children hold, and are
    /// left out; with failed children, a kept key may still turn out
    /// unreadable (`get` says [`Error::NotEnoughShards`]; scrub lists them
    /// as unrecoverable).
    pub(crate) fn list_objects<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxStream<'a, BResult<ObjectMeta>> {
        let k = self.codec.k();
        stream::once(self.union_listing(prefix))
            .flat_map(move |(union, failed)| {
                let unheard = failed.len();
                let keys = union
                    .into_iter()
                    .filter(move |(_, h)| h.len() + unheard >= k)
                    .map(Ok);
                // With k or more children unheard, what was heard is still
                // listed, followed by the marker: a reader may go on with a
                // warning, a deleter must stop at it.
                let marker =
                    (unheard >= k).then(|| Err(BError::from(self.incomplete(prefix, &failed))));
                stream::iter(keys.chain(marker))
            })
            .map(move |item| async move {
                let (key, holders) = item?;
                self.size_of(&key, &holders).await
            })
            .buffer_unordered(self.config.list_concurrency)
            .try_filter_map(|m| async move { Ok(m) })
            .boxed()
    }

    fn incomplete(&self, prefix: &str, failed: &[(usize, BError)]) -> Error {
        let slots = self.slots();
        Error::IncompleteListing {
            prefix: prefix.to_owned(),
            failed: failed
                .iter()
                .map(|(i, e)| format!("child {i} ({}): {e}", slots[*i].child.name))
                .collect(),
            tolerated: self.codec.k() - 1,
        }
    }

    /// The original length of `key` from the first readable shard header of
    /// one of `holders`; `None` if they all say it is gone.
    async fn size_of(&self, key: &str, holders: &[usize]) -> BResult<Option<ObjectMeta>> {
        let slots = self.slots();
        let mut last = None;
        for i in Self::read_order(&slots, holders) {
            let slot = &slots[i];
            match slot
                .call(&self.config, key, |b| {
                    b.get_range(key, 0..HEADER_LEN as u64)
                })
                .await
            {
                Ok(head) => match ShardHeader::parse(&head) {
                    Ok(h) => return Ok(Some(ObjectMeta::new(key, h.object_len))),
                    Err(e) => {
                        slot.corrupt();
                        last = Some(e.with_key(key).into());
                    }
                },
                Err(e) if e.is_not_found() => {}
                Err(e) => last = Some(e),
            }
        }
        // Every holder said "not found": deleted since the listing.
        match last {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }
}
