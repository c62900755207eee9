//! Scrub: read every shard of every object, find missing, corrupt and stale
//! shards, and optionally rebuild them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use cairn_backends::PutMode;
use futures::future::join_all;
use futures::stream::{self, StreamExt};

use crate::format::Shard;
use crate::verify::{choose, Candidate, Choice};
use crate::{ErasureBackend, HealReport, Result};

/// What [`ErasureBackend::scrub`] walks and whether it repairs.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct ScrubOptions {
    /// Only objects whose key starts with this. Default `""` (all).
    pub prefix: String,
    /// Resume after this key (a previous report's `last_key`). Keys are walked
    /// in byte order.
    pub start_after: Option<String>,
    /// Stop after this many objects.
    pub limit: Option<usize>,
    /// Rewrite missing (create-only), corrupt and stale (overwrite) shards.
    pub repair: bool,
    /// Set to stop the walk early; the report says where it stopped.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Objects checked at once. Default 4.
    pub concurrency: usize,
}

impl Default for ScrubOptions {
    fn default() -> Self {
        ScrubOptions {
            prefix: String::new(),
            start_after: None,
            limit: None,
            repair: false,
            cancel: None,
            concurrency: 4,
        }
    }
}

impl ScrubOptions {
    /// Check only (no repair), everything.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets [`repair`](Self::repair).
    pub fn repair(mut self, repair: bool) -> Self {
        self.repair = repair;
        self
    }
    /// Sets [`prefix`](Self::prefix).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
    /// Sets [`start_after`](Self::start_after).
    pub fn start_after(mut self, key: impl Into<String>) -> Self {
        self.start_after = Some(key.into());
        self
    }
    /// Sets [`limit`](Self::limit).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
    /// Sets [`concurrency`](Self::concurrency) (at least 1).
    pub fn concurrency(mut self, objects: usize) -> Self {
        self.concurrency = objects.max(1);
        self
    }
    /// Sets [`cancel`](Self::cancel).
    pub fn cancel(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }
}

/// An object whose shards disagree in a way scrub will not settle by
/// counting (see [`ErasureBackend::with_verifier`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScrubConflict {
    /// The object.
    pub key: String,
    /// The versions found and why none was rewritten towards.
    pub reason: String,
}

/// What a scrub found and did.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScrubReport {
    /// Objects examined.
    pub objects_scanned: u64,
    /// Objects whose every shard was present, verified and current.
    pub objects_healthy: u64,
    /// Shards verified and current.
    pub shards_ok: u64,
    /// Shards absent from their child.
    pub shards_missing: u64,
    /// Shards that failed their checksum, did not parse or sat in the wrong slot.
    pub shards_corrupt: u64,
    /// Verified shards of another version of the object than the decodable one.
    pub shards_stale: u64,
    /// Shards whose child could not be read (errors, timeouts).
    pub shards_unreachable: u64,
    /// Shards rewritten.
    pub shards_repaired: u64,
    /// Objects of which no version has `k` good shards (including leftovers of
    /// an interrupted delete), by key. Their shards are not counted in the
    /// `shards_*` figures, which describe recoverable objects.
    pub unrecoverable: Vec<String>,
    /// Objects with versions that scrub would not choose between (no
    /// verifier vouches for one), left untouched.
    pub conflicts: Vec<ScrubConflict>,
    /// Errors met (listing, reading, rewriting), each naming key and child.
    pub errors: Vec<String>,
    /// With `repair`, after a complete walk of everything: what
    /// [`ErasureBackend::heal`] then did with the heal records.
    pub heal: Option<HealReport>,
    /// The last key examined: pass it as `start_after` to resume.
    pub last_key: Option<String>,
    /// Whether the walk reached the end (not stopped by `limit` or `cancel`).
    pub complete: bool,
}

impl fmt::Display for ScrubReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "objects: {} scanned, {} healthy, {} unrecoverable",
            self.objects_scanned,
            self.objects_healthy,
            self.unrecoverable.len()
        )?;
        writeln!(
            f,
            "shards: {} ok, {} missing, {} corrupt, {} stale, {} unreachable, {} repaired",
            self.shards_ok,
            self.shards_missing,
            self.shards_corrupt,
            self.shards_stale,
            self.shards_unreachable,
            self.shards_repaired
        )?;
        for key in &self.unrecoverable {
            writeln!(f, "unrecoverable: {key}")?;
        }
        for c in &self.conflicts {
            writeln!(f, "conflict: {}: {}", c.key, c.reason)?;
        }
        for e in &self.errors {
            writeln!(f, "error: {e}")?;
        }
        if let Some(h) = &self.heal {
            write!(f, "{h}")?;
        }
        match (&self.last_key, self.complete) {
            (_, true) => writeln!(f, "complete"),
            (Some(k), false) => writeln!(f, "stopped after {k:?}"),
            (None, false) => writeln!(f, "stopped before any object"),
        }
    }
}

/// The state of one shard slot of one object.
enum Found {
    Good(Shard),
    Missing,
    Corrupt,
    Unreachable(String),
}

impl ScrubReport {
    fn add(&mut self, other: ScrubReport) {
        self.objects_scanned += other.objects_scanned;
        self.objects_healthy += other.objects_healthy;
        self.shards_ok += other.shards_ok;
        self.shards_missing += other.shards_missing;
        self.shards_corrupt += other.shards_corrupt;
        self.shards_stale += other.shards_stale;
        self.shards_unreachable += other.shards_unreachable;
        self.shards_repaired += other.shards_repaired;
        self.unrecoverable.extend(other.unrecoverable);
        self.conflicts.extend(other.conflicts);
        self.errors.extend(other.errors);
    }
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
        let mut report = ScrubReport::default();
        for (i, e) in failed {
            report.errors.push(format!("listing child {i}: {e}"));
        }
        let keys = union
            .into_keys()
            .filter(|k| opts.start_after.as_ref().is_none_or(|after| k > after));
        let mut report = self.scrub_keys(keys, &opts, report).await?;
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
    /// bad ones. Never fails as a whole: problems go into the report.
    pub(crate) async fn scrub_object(&self, key: &str, repair: bool) -> ScrubReport {
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
                    report
                        .errors
                        .push(format!("reading {key:?} from child {i}: {e}"));
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
                report.errors.push(format!("re-encoding {key:?}: {e}"));
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
                Err(e) => report
                    .errors
                    .push(format!("rewriting {key:?} on child {i}: {e}")),
            }
        }
        report
    }
}
