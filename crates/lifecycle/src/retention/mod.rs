//! Retention policies: which snapshots to keep, as a pure function.
//!
//! [`plan_retention`] takes snapshot records and a [`KeepPolicy`] and returns a
//! [`RetentionPlan`]: for every snapshot, keep or remove, and every reason it
//! is kept. It reads nothing and writes nothing; [`forget`](crate::prune::forget)
//! acts on a plan.
//!
//! # Semantics (restic's, so that policies carry over)
//!
//! Snapshots are grouped (by default by host and paths, see [`GroupBy`]) and
//! each group is planned on its own, newest first:
//!
//! - `keep-last n`: the `n` newest snapshots.
//! - `keep-{hourly,daily,weekly,monthly,yearly} n`: walking from the newest,
//!   the newest snapshot of each calendar bucket (hour, day, ISO week, month,
//!   year), for the `n` newest buckets *that hold a snapshot* (empty buckets do
//!   not count). When a rule still has buckets left after the walk, the oldest
//!   snapshot is kept too (restic ≥ 0.14: this keeps history as long as the
//!   budget allows).
//! - `keep-within d`: every snapshot strictly newer than `anchor - d`.
//! - `keep-within-{hourly,…,yearly} d`: the newest snapshot of each bucket
//!   among those strictly newer than `anchor - d`.
//! - `keep-tag t1,t2`: every snapshot carrying all of `t1`, `t2` (several
//!   `keep-tag` lists: any of them).
//!
//! A snapshot is kept if any rule keeps it (the rules are a union: adding a
//! rule never removes a snapshot another rule keeps). Durations are calendar
//! durations (`1y2m3d4h`), subtracted in the plan's time zone.
//!
//! # Differences from restic
//!
//! - The anchor of `within` rules is chosen: the newest snapshot of the group
//!   (restic's behaviour, [`Anchor::Latest`]) or a given instant
//!   ([`Anchor::At`], e.g. now).
//! - Calendar buckets use a stated time zone ([`PlanOptions::time_zone`], UTC
//!   by default) instead of the machine's, so two machines agree. In a zone
//!   with daylight saving the repeated hour of the autumn change is one hourly
//!   bucket, and a day is a civil day (23 or 25 hours around the change).
//! - A policy with no rule, or one that would remove every snapshot of a
//!   group, is refused ([`Error::RemovesEverything`](crate::Error)) unless
//!   [`PlanOptions::allow_remove_all`] is set.
//! - Snapshots with equal times are ordered by id, so plans are deterministic.

mod duration;
mod policy;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

pub use duration::RetentionDuration;
pub use policy::{Anchor, Bucket, GroupBy, KeepPolicy, PlanOptions};

use crate::snapshot::Snapshot;
use crate::{Error, Result, SnapshotId};

/// The values a group shares.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GroupKey {
    /// Host name, when grouping by host.
    pub host: Option<String>,
    /// Sorted paths, when grouping by paths.
    pub paths: Option<Vec<String>>,
    /// Sorted tags, when grouping by tags.
    pub tags: Option<Vec<String>>,
}

impl std::fmt::Display for GroupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(h) = &self.host {
            parts.push(format!("host {h}"));
        }
        if let Some(p) = &self.paths {
            parts.push(format!("paths [{}]", p.join(", ")));
        }
        if let Some(t) = &self.tags {
            parts.push(format!("tags [{}]", t.join(", ")));
        }
        match parts.is_empty() {
            true => f.write_str("all snapshots"),
            false => f.write_str(&parts.join(", ")),
        }
    }
}

/// The fate of one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Snapshot id.
    pub id: SnapshotId,
    /// Its time.
    pub time: Timestamp,
    /// Kept or removed.
    pub keep: bool,
    /// Why it is kept (empty when removed), e.g. `daily 2026-11-28`,
    /// `within 7d`, `tag release`.
    pub reasons: Vec<String>,
}

/// One group's decisions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupPlan {
    /// What the group's snapshots share.
    pub key: GroupKey,
    /// Every snapshot of the group, newest first.
    pub decisions: Vec<Decision>,
}

/// The outcome of [`plan_retention`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionPlan {
    /// One entry per group, in key order.
    pub groups: Vec<GroupPlan>,
}

impl RetentionPlan {
    /// Every decision, group by group.
    pub fn decisions(&self) -> impl Iterator<Item = &Decision> {
        self.groups.iter().flat_map(|g| g.decisions.iter())
    }
    /// Ids of the snapshots kept.
    pub fn keep(&self) -> Vec<SnapshotId> {
        self.decisions().filter(|d| d.keep).map(|d| d.id).collect()
    }
    /// Ids of the snapshots to remove.
    pub fn remove(&self) -> Vec<SnapshotId> {
        self.decisions().filter(|d| !d.keep).map(|d| d.id).collect()
    }
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

fn group_key(g: GroupBy, s: &Snapshot) -> GroupKey {
    GroupKey {
        host: g.host.then(|| s.hostname.clone()),
        paths: g.paths.then(|| sorted(&s.paths)),
        tags: g.tags.then(|| sorted(&s.tags)),
    }
}

/// Applies `policy` to `snapshots` (id and record).
pub fn plan_retention(
    snapshots: &[(SnapshotId, Snapshot)],
    policy: &KeepPolicy,
    opts: &PlanOptions,
) -> Result<RetentionPlan> {
    if policy.is_empty() && !opts.allow_remove_all {
        return Err(Error::RemovesEverything {
            group: "every group (the policy has no rule)".into(),
        });
    }
    let mut groups: BTreeMap<GroupKey, Vec<(SnapshotId, Timestamp, &Snapshot)>> = BTreeMap::new();
    for (id, s) in snapshots {
        groups
            .entry(group_key(opts.group_by, s))
            .or_default()
            .push((*id, s.time, s));
    }
    let mut out = Vec::with_capacity(groups.len());
    for (key, mut list) in groups {
        // Newest first; equal times by id, so the plan does not depend on
        // listing order.
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let decisions = plan_group(&list, policy, opts)?;
        if !opts.allow_remove_all && !decisions.iter().any(|d| d.keep) {
            return Err(Error::RemovesEverything {
                group: key.to_string(),
            });
        }
        out.push(GroupPlan { key, decisions });
    }
    Ok(RetentionPlan { groups: out })
}

struct Counted {
    bucket: Option<Bucket>,
    left: u32,
    last: Option<String>,
}

struct Within {
    bucket: Bucket,
    since: Timestamp,
    text: String,
    last: Option<String>,
}

fn plan_group(
    list: &[(SnapshotId, Timestamp, &Snapshot)],
    policy: &KeepPolicy,
    opts: &PlanOptions,
) -> Result<Vec<Decision>> {
    let Some(newest) = list.first() else {
        return Ok(Vec::new());
    };
    let anchor = match opts.anchor {
        Anchor::Latest => newest.1,
        Anchor::At(t) => t,
    };
    let anchor = anchor.to_zoned_datetime(opts.time_zone.clone());
    let counts = [
        policy.hourly,
        policy.daily,
        policy.weekly,
        policy.monthly,
        policy.yearly,
    ];
    let mut counted: Vec<Counted> = std::iter::once((None, policy.last))
        .chain(Bucket::ALL.iter().map(|b| Some(*b)).zip(counts))
        .filter(|(_, n)| *n > 0)
        .map(|(bucket, left)| Counted {
            bucket,
            left,
            last: None,
        })
        .collect();
    let within_durations = [
        policy.within_hourly,
        policy.within_daily,
        policy.within_weekly,
        policy.within_monthly,
        policy.within_yearly,
    ];
    let mut within = Vec::new();
    for (bucket, d) in Bucket::ALL.iter().zip(within_durations) {
        if let Some(d) = d {
            within.push(Within {
                bucket: *bucket,
                since: d.before(&anchor)?,
                text: d.to_string(),
                last: None,
            });
        }
    }
    let keep_within = match policy.within {
        Some(d) => Some((d.before(&anchor)?, d)),
        None => None,
    };

    let mut out = Vec::with_capacity(list.len());
    for (nr, (id, t, s)) in list.iter().enumerate() {
        let oldest = nr + 1 == list.len();
        let zoned = t.to_zoned_datetime(opts.time_zone.clone());
        let mut reasons = Vec::new();
        for tags in &policy.tags {
            if !tags.is_empty() && tags.iter().all(|t| s.tags.contains(t)) {
                reasons.push(format!("tag {}", tags.join(",")));
            }
        }
        if let Some((since, d)) = keep_within {
            if *t > since {
                reasons.push(format!("within {d}"));
            }
        }
        for c in counted.iter_mut().filter(|c| c.left > 0) {
            let label = match c.bucket {
                Some(b) => b.label(&zoned),
                // keep-last: every snapshot is a bucket of its own.
                None => format!("#{}", nr + 1),
            };
            let same = c.last.as_deref() == Some(label.as_str());
            if !same || oldest {
                let rule = c.bucket.map_or("last", Bucket::name);
                // restic marks the extra keep of the oldest snapshot "oldest".
                let extra = if same { "oldest " } else { "" };
                reasons.push(format!("{extra}{rule} {label}"));
                c.last = Some(label);
                if c.left != u32::MAX {
                    c.left -= 1;
                }
            }
        }
        for w in within.iter_mut().filter(|w| *t > w.since) {
            let label = w.bucket.label(&zoned);
            let same = w.last.as_deref() == Some(label.as_str());
            if !same || oldest {
                let extra = if same { "oldest " } else { "" };
                let rule = w.bucket.name();
                reasons.push(format!("{extra}within-{rule} {label} ({})", w.text));
                w.last = Some(label);
            }
        }
        out.push(Decision {
            id: *id,
            time: *t,
            keep: !reasons.is_empty(),
            reasons,
        });
    }
    Ok(out)
}
