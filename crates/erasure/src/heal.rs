//! Durable memory of lost redundancy, and healing it.
//!
//! A put acknowledged with fewer than `k + m` shards (a child down, its
//! circuit open) leaves the object under-replicated: it survives fewer
//! losses than the layout promises. The put writes a heal record (see
//! [`heal_record`](crate::heal_record)) to every child that took a shard, so
//! that any process — the next backup, `scrub --repair`, a service calling
//! [`ErasureBackend::heal`] periodically — can rebuild the missing shards once
//! their children are back, and can say how many objects are degraded.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use cairn_backends::{Error as BError, PutMode};
use futures::future::join_all;
use futures::stream::{self, StreamExt};

use crate::call::Slot;
use crate::heal_record::{decode, encode, heal_prefix, record_key};
use crate::{ErasureBackend, ScrubConflict, ScrubError};

/// Heal records dealt with at once.
const HEAL_CONCURRENCY: usize = 4;

/// How much redundancy is missing, from the heal records: see
/// [`ErasureBackend::degraded`].
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Degraded {
    /// Objects recorded as under-replicated (written while a child was
    /// down, not yet healed).
    pub objects: u64,
    /// Children that could not be listed now (down, or a directory
    /// missing), by name, with the error.
    pub unreachable_children: Vec<String>,
}

impl fmt::Display for Degraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.objects > 0 {
            writeln!(
                f,
                "redundancy degraded: {} objects under-replicated",
                self.objects
            )?;
        }
        for c in &self.unreachable_children {
            writeln!(f, "unreachable child: {c}")?;
        }
        Ok(())
    }
}

/// What [`ErasureBackend::heal`] did.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HealReport {
    /// Heal records found.
    pub records: u64,
    /// Objects whose every shard is now present and verified (their records
    /// are removed).
    pub healed: Vec<String>,
    /// Objects left for later: a child they miss a shard on is still
    /// unreachable, or a rewrite failed.
    pub waiting: Vec<String>,
    /// Records of objects deleted since (removed).
    pub gone: u64,
    /// Shards rewritten.
    pub shards_repaired: u64,
    /// Recorded objects of which no version has `k` good shards.
    pub unrecoverable: Vec<String>,
    /// Recorded objects left untouched because no version could be chosen
    /// safely (see [`ErasureBackend::with_verifier`]).
    pub conflicts: Vec<ScrubConflict>,
    /// Errors met, each naming the object or record and the child.
    pub errors: Vec<ScrubError>,
    /// Children whose heal records could not be listed, by name.
    pub unreachable_children: Vec<String>,
}

impl fmt::Display for HealReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "heal: {} under-replicated objects, {} healed ({} shards rewritten), {} waiting, {} gone",
            self.records,
            self.healed.len(),
            self.shards_repaired,
            self.waiting.len(),
            self.gone
        )?;
        for c in &self.unreachable_children {
            writeln!(f, "unreachable child: {c}")?;
        }
        for k in &self.unrecoverable {
            writeln!(f, "unrecoverable: {k}")?;
        }
        for c in &self.conflicts {
            writeln!(f, "conflict: {}: {}", c.key, c.reason)?;
        }
        for e in &self.errors {
            writeln!(f, "error: {e}")?;
        }
        Ok(())
    }
}

/// The heal records found: record key → children that list it; and the
/// children whose listing failed.
struct Records {
    names: BTreeMap<String, Vec<usize>>,
    failed: Vec<(usize, BError)>,
}

/// What became of one record.
enum Outcome {
    Healed(String),
    Waiting(String),
    Gone,
    Skipped,
}

impl ErasureBackend {
    /// Records durably that shards `missing` of `key` were not written:
    /// a heal record on every child that is not among them. Best effort
    /// (the in-memory hint and a scrub remain if no child takes it).
    pub(crate) async fn record_degraded(&self, key: &str, slots: &[Arc<Slot>], missing: &[usize]) {
        let Some(record) = encode(key, missing) else {
            return;
        };
        let record = Bytes::from(record);
        let name = record_key(key);
        let name = name.as_str();
        let targets = (0..slots.len()).filter(|i| !missing.contains(i));
        let writes = join_all(targets.map(|i| {
            let record = record.clone();
            slots[i].call(&self.config, name, move |b| {
                b.put(name, record.clone(), PutMode::Overwrite)
            })
        }))
        .await;
        drop(writes);
    }

    async fn records(&self) -> Records {
        let slots = self.slots();
        let prefix = heal_prefix();
        let listings = join_all(slots.iter().map(|s| s.list_all(&self.config, &prefix))).await;
        let mut names: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut failed = Vec::new();
        for (i, listing) in listings.into_iter().enumerate() {
            match listing {
                Ok(metas) => {
                    for m in metas {
                        names.entry(m.key).or_default().push(i);
                    }
                }
                Err(e) => failed.push((i, e)),
            }
        }
        Records { names, failed }
    }

    fn child_names(&self, failed: &[(usize, BError)]) -> Vec<String> {
        let slots = self.slots();
        failed
            .iter()
            .map(|(i, e)| format!("child {i} ({}): {e}", slots[*i].child.name))
            .collect()
    }

    /// How many objects are under-replicated, from the heal records on the
    /// children (a listing of each, nothing else read), and which children
    /// cannot be reached now. Objects damaged behind the layer's back (a
    /// disk replaced) are not recorded: [`scrub`](Self::scrub) finds those.
    pub async fn degraded(&self) -> Degraded {
        let r = self.records().await;
        Degraded {
            objects: r.names.len() as u64,
            unreachable_children: self.child_names(&r.failed),
        }
    }

    /// Rebuilds the missing shards of every object a heal record names
    /// whose missing children can be reached again, and removes the records
    /// of objects that are whole. Each object is scrubbed with repair
    /// (shards verified before anything is rewritten; overwrites only
    /// towards a verified version, see [`with_verifier`](Self::with_verifier)).
    /// Objects that miss shards only on children that cannot be listed now
    /// are not read at all (they wait). Safe to run at any time and from
    /// any process, periodically or after each backup.
    pub async fn heal(&self) -> HealReport {
        let Records { names, failed } = self.records().await;
        let unreachable: BTreeSet<usize> = failed.iter().map(|(i, _)| *i).collect();
        let mut report = HealReport {
            records: names.len() as u64,
            unreachable_children: self.child_names(&failed),
            ..HealReport::default()
        };
        let mut outcomes = stream::iter(names)
            .map(|(name, holders)| {
                let unreachable = &unreachable;
                async move {
                    let mut r = HealReport::default();
                    let out = self.heal_one(&name, &holders, unreachable, &mut r).await;
                    (out, r)
                }
            })
            .buffer_unordered(HEAL_CONCURRENCY);
        while let Some((out, r)) = outcomes.next().await {
            match out {
                Outcome::Healed(k) => report.healed.push(k),
                Outcome::Waiting(k) => report.waiting.push(k),
                Outcome::Gone => report.gone += 1,
                Outcome::Skipped => {}
            }
            report.shards_repaired += r.shards_repaired;
            report.unrecoverable.extend(r.unrecoverable);
            report.conflicts.extend(r.conflicts);
            report.errors.extend(r.errors);
        }
        report.healed.sort();
        report.waiting.sort();
        report
    }

    async fn heal_one(
        &self,
        name: &str,
        holders: &[usize],
        unreachable: &BTreeSet<usize>,
        report: &mut HealReport,
    ) -> Outcome {
        let Some((key, missing)) = self.read_record(name, holders, report).await else {
            return Outcome::Skipped;
        };
        if missing.iter().all(|i| unreachable.contains(i)) {
            return Outcome::Waiting(key);
        }
        let s = self.scrub_object(&key, true).await;
        report.shards_repaired += s.shards_repaired;
        report.errors.extend(s.errors);
        let total = self.codec.k() + self.codec.m();
        let whole = s.shards_ok + s.shards_repaired == total as u64;
        let gone = s.shards_ok + s.shards_repaired == 0
            && s.shards_unreachable == 0
            && s.unrecoverable.is_empty()
            && s.conflicts.is_empty()
            && s.shards_corrupt + s.shards_stale == 0;
        report.unrecoverable.extend(s.unrecoverable);
        report.conflicts.extend(s.conflicts);
        if !(whole || gone) {
            return Outcome::Waiting(key);
        }
        self.drop_record(name, report).await;
        if gone {
            Outcome::Gone
        } else {
            Outcome::Healed(key)
        }
    }

    /// Reads the record `name` from the first of `holders` that has a valid
    /// copy.
    async fn read_record(
        &self,
        name: &str,
        holders: &[usize],
        report: &mut HealReport,
    ) -> Option<(String, Vec<usize>)> {
        let slots = self.slots();
        for &i in holders {
            match slots[i].call(&self.config, name, |b| b.get(name)).await {
                Ok(bytes) => match decode(name, &bytes) {
                    Ok(r) => return Some(r),
                    Err(e) => report.errors.push(child_error("decoding", name, i, e)),
                },
                Err(e) if e.is_not_found() => {}
                Err(e) => report.errors.push(child_error("reading", name, i, e)),
            }
        }
        None
    }

    async fn drop_record(&self, name: &str, report: &mut HealReport) {
        let slots = self.slots();
        let deletes = join_all(
            slots
                .iter()
                .map(|s| s.call(&self.config, name, |b| b.delete(name))),
        )
        .await;
        for (i, d) in deletes.into_iter().enumerate() {
            match d {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                // Left behind: the next heal finds the object whole and
                // removes it then.
                Err(e) => report.errors.push(child_error("removing", name, i, e)),
            }
        }
    }
}

/// A [`ScrubError::Child`].
pub(crate) fn child_error(
    operation: &'static str,
    object: &str,
    child: usize,
    e: impl std::fmt::Display,
) -> ScrubError {
    ScrubError::Child {
        operation,
        object: object.to_owned(),
        child,
        reason: e.to_string(),
    }
}
