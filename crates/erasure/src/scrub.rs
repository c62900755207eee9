//! Scrub: read every shard of every object, find missing, corrupt and stale
//! shards, and optionally rebuild them.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use cairn_backends::PutMode;
use futures::future::join_all;
use futures::stream::{self, StreamExt};

use crate::format::Shard;
use crate::heal::child_error;
use crate::verify::{choose, Candidate, Choice};
use crate::{ErasureBackend, Result, ScrubConflict, ScrubError, ScrubOptions, ScrubReport};

/// The state of one shard slot of one object.
enum Found {
    Good(Shard),
    Missing,
    Corrupt,
    Unreachable(String),
}

impl ErasureBackend {
    /// The version of `key` that scrub may repair towards, with whether a
    /// verifier vouches for it; `None` (and the report says why) when there
    /// is none: no version decodes, or the choice would be a guess.
    async fn pick_version(
        &self,
        key: &str,
        reads: &[Found],
        report: &mut ScrubReport,
    ) -> Option<([u8; 32], Bytes, bool)> {
        // A BTreeMap: the order candidates are tried in never depends on
        // hashing, so nothing is decided by chance.
        let mut versions: BTreeMap<[u8; 32], usize> = BTreeMap::new();
        for f in reads {
            if let Found::Good(s) = f {
                *versions.entry(s.header.object_checksum).or_default() += 1;
            }
        }
        let mut candidates = Vec::new();
        for (&sum, &n) in versions.iter().filter(|&(_, &n)| n >= self.codec.k()) {
            let shards = reads
                .iter()
                .filter_map(|f| match f {
                    Found::Good(s) if s.header.object_checksum == sum => Some(s.clone()),
                    _ => None,
                })
                .collect();
            if let Ok(data) = self.decode(key, shards).await {
                candidates.push(Candidate {
                    checksum: sum,
                    shards: n,
                    data,
                });
            }
        }
        if candidates.is_empty() {
            if reads.iter().any(|f| !matches!(f, Found::Missing)) {
                report.unrecoverable.push(key.to_owned());
            }
            return None;
        }
        match choose(&self.verifier, key, candidates) {
            Choice::Verified(sum, data) => Some((sum, data, true)),
            Choice::Unverified(sum, data) => Some((sum, data, false)),
            Choice::Conflict(reason) => {
                report.conflicts.push(ScrubConflict {
                    key: key.to_owned(),
                    reason,
                });
                None
            }
        }
    }

    /// Walks every object (the union of the children's listings, in key
    /// order), reads all its shards and classifies them; with
    /// `opts.repair`, decodes the current version and rewrites the missing
    /// and corrupt shards, and the stale ones when a verifier vouches for
    /// the version (see [`with_verifier`](Self::with_verifier)); a repairing
    /// walk over everything then runs [`heal`](Self::heal) (see
    /// [`ScrubReport::heal`]). Resumable through `start_after`/`last_key`.
    ///
    /// The walk holds the keys of `opts.prefix` in memory. Do not run a
    /// repairing scrub over keys being deleted at the same time: it may
    /// rewrite shards of an object that a delete is removing.
    pub async fn scrub(&self, opts: ScrubOptions) -> Result<ScrubReport> {
        let (union, failed) = self.union_listing(&opts.prefix).await;
        // With k or more children unheard, objects may have no shard on the
        // children that listed: the walk cannot be complete (see `list`).
        let unheard = failed.len() >= self.codec.k();
        let mut report = ScrubReport::default();
        for (i, e) in failed {
            report.errors.push(ScrubError::Listing {
                child: i,
                reason: e.to_string(),
            });
        }
        let keys = union
            .into_keys()
            .filter(|k| opts.start_after.as_ref().is_none_or(|after| k > after));
        let mut report = self.scrub_keys(keys, &opts, report).await?;
        report.complete &= !unheard;
        let whole = opts.prefix.is_empty() && opts.start_after.is_none();
        if opts.repair && whole && report.complete {
            // The walk rewrote what it could; heal retires the records of
            // objects that are whole again (and says what still is not).
            report.heal = Some(self.heal().await);
        }
        Ok(report)
    }

    /// Scrubs (and with `repair`, repairs) just the objects in the
    /// needs-repair set ([`needs_repair`](Self::needs_repair)).
    pub async fn repair_hinted(&self, repair: bool) -> Result<ScrubReport> {
        let mut keys: Vec<String> = self.needs_repair().into_iter().map(|h| h.key).collect();
        keys.dedup();
        let opts = ScrubOptions::new().repair(repair);
        self.scrub_keys(keys.into_iter(), &opts, ScrubReport::default())
            .await
    }

    async fn scrub_keys(
        &self,
        keys: impl Iterator<Item = String>,
        opts: &ScrubOptions,
        mut report: ScrubReport,
    ) -> Result<ScrubReport> {
        let limit = opts.limit.unwrap_or(usize::MAX);
        let cancelled = || {
            opts.cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::Relaxed))
        };
        let mut results = stream::iter(keys.take(limit))
            .take_while(|_| futures::future::ready(!cancelled()))
            .map(|key| async move {
                let r = self.scrub_object(&key, opts.repair).await;
                (key, r)
            })
            .buffered(opts.concurrency.max(1));
        let mut stopped = false;
        let mut seen = 0usize;
        while let Some((key, r)) = results.next().await {
            report.add(r);
            report.last_key = Some(key);
            seen += 1;
            if seen >= limit || cancelled() {
                stopped = true;
                break;
            }
        }
        drop(results);
        // Stopped by the limit on what was in fact the last key: the next
        // call (from `last_key`) finds nothing and reports complete.
        report.complete = !stopped && !cancelled();
        Ok(report)
    }

    /// Reads and classifies every shard of `key`; with `repair`, rewrites the
    /// bad ones. Never fails as a whole: problems go into the report. (One
    /// object of [`scrub`](Self::scrub); the durability simulation asks
    /// after each event whether its object can still be rebuilt.)
    pub async fn scrub_object(&self, key: &str, repair: bool) -> ScrubReport {
        let mut report = ScrubReport {
            objects_scanned: 1,
            ..ScrubReport::default()
        };
        let slots = self.slots();
        let reads = join_all(slots.iter().enumerate().map(|(i, slot)| async move {
            match slot.call(&self.config, key, |b| b.get(key)).await {
                Ok(bytes) => match Shard::parse(bytes).and_then(|s| {
                    self.codec.check(&s, i)?;
                    Ok(s)
                }) {
                    Ok(s) => Found::Good(s),
                    Err(_) => {
                        slot.corrupt();
                        Found::Corrupt
                    }
                },
                Err(e) if e.is_not_found() => Found::Missing,
                Err(e) => Found::Unreachable(e.to_string()),
            }
        }))
        .await;
        let Some((sum, data, verified)) = self.pick_version(key, &reads, &mut report).await else {
            return report;
        };
        let mut todo = Vec::new();
        for (i, f) in reads.into_iter().enumerate() {
            match f {
                Found::Good(s) if s.header.object_checksum == sum => report.shards_ok += 1,
                Found::Good(_) => {
                    report.shards_stale += 1;
                    todo.push((i, PutMode::Overwrite));
                }
                Found::Corrupt => {
                    report.shards_corrupt += 1;
                    todo.push((i, PutMode::Overwrite));
                }
                Found::Missing => {
                    report.shards_missing += 1;
                    todo.push((i, PutMode::CreateOnly));
                }
                Found::Unreachable(e) => {
                    report.shards_unreachable += 1;
                    report.errors.push(child_error("reading", key, i, e));
                }
            }
        }
        if !verified && report.shards_stale > 0 {
            // Counting shards cannot tell a forged or stale version from the
            // genuine one: leave every shard as it is.
            report.conflicts.push(ScrubConflict {
                key: key.to_owned(),
                reason: format!(
                    "{} shards of another version beside {} of the decodable one, and no \
                     verifier vouches for it: nothing rewritten",
                    report.shards_stale, report.shards_ok
                ),
            });
            return report;
        }
        if todo.is_empty() && report.shards_unreachable == 0 {
            report.objects_healthy = 1;
            for i in 0..slots.len() {
                self.clear_hint(key, i);
            }
        }
        if !repair || todo.is_empty() {
            return report;
        }
        let shards = match self.encode(data).await {
            Ok(s) => s,
            Err(e) => {
                report.errors.push(ScrubError::Encode {
                    key: key.to_owned(),
                    reason: e.to_string(),
                });
                return report;
            }
        };
        let writes = join_all(todo.iter().map(|&(i, mode)| {
            let shard = shards[i].clone();
            slots[i].call(&self.config, key, move |b| b.put(key, shard.clone(), mode))
        }))
        .await;
        for (&(i, _), w) in todo.iter().zip(writes) {
            match w {
                Ok(()) => {
                    report.shards_repaired += 1;
                    self.clear_hint(key, i);
                }
                Err(e) => report.errors.push(child_error("rewriting", key, i, e)),
            }
        }
        report
    }
}
