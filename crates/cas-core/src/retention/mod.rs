//! Retention policies: which snapshots to keep, as a pure function.
//!
//! [`plan_retention`] takes snapshot records and a [`KeepPolicy`] and returns a
//! [`RetentionPlan`]: for every snapshot, keep or remove, and every reason it
//! is kept. It reads nothing and writes nothing; [`forget`](crate::forget)
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

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};
use serde::Serialize;

pub use duration::RetentionDuration;

use crate::snapshot::Snapshot;
use crate::{Error, Result};

/// Which snapshots to keep. An empty policy keeps nothing (and is refused
/// unless [`PlanOptions::allow_remove_all`]); `u32::MAX` counts mean unlimited.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeepPolicy {
    /// Keep the newest `n` snapshots.
    pub last: u32,
    /// Keep the newest snapshot of each of the newest `n` hours that hold one.
    pub hourly: u32,
    /// … days.
    pub daily: u32,
    /// … ISO weeks.
    pub weekly: u32,
    /// … months.
    pub monthly: u32,
    /// … years.
    pub yearly: u32,
    /// Keep every snapshot newer than anchor minus this.
    pub within: Option<RetentionDuration>,
    /// Keep the newest snapshot of each hour newer than anchor minus this.
    pub within_hourly: Option<RetentionDuration>,
    /// … of each day.
    pub within_daily: Option<RetentionDuration>,
    /// … of each ISO week.
    pub within_weekly: Option<RetentionDuration>,
    /// … of each month.
    pub within_monthly: Option<RetentionDuration>,
    /// … of each year.
    pub within_yearly: Option<RetentionDuration>,
    /// Keep snapshots that carry every tag of any one of these lists.
    pub tags: Vec<Vec<String>>,
}

impl KeepPolicy {
    /// Whether no rule is set.
    pub fn is_empty(&self) -> bool {
        *self == KeepPolicy::default()
    }
    /// Sets `keep-last`.
    pub fn last(mut self, n: u32) -> Self {
        self.last = n;
        self
    }
    /// Sets `keep-hourly`.
    pub fn hourly(mut self, n: u32) -> Self {
        self.hourly = n;
        self
    }
    /// Sets `keep-daily`.
    pub fn daily(mut self, n: u32) -> Self {
        self.daily = n;
        self
    }
    /// Sets `keep-weekly`.
    pub fn weekly(mut self, n: u32) -> Self {
        self.weekly = n;
        self
    }
    /// Sets `keep-monthly`.
    pub fn monthly(mut self, n: u32) -> Self {
        self.monthly = n;
        self
    }
    /// Sets `keep-yearly`.
    pub fn yearly(mut self, n: u32) -> Self {
        self.yearly = n;
        self
    }
    /// Sets `keep-within`.
    pub fn within(mut self, d: RetentionDuration) -> Self {
        self.within = Some(d);
        self
    }
    /// Sets `keep-within-<unit>` for a calendar unit.
    pub fn within_bucket(mut self, unit: Bucket, d: RetentionDuration) -> Self {
        let slot = match unit {
            Bucket::Hourly => &mut self.within_hourly,
            Bucket::Daily => &mut self.within_daily,
            Bucket::Weekly => &mut self.within_weekly,
            Bucket::Monthly => &mut self.within_monthly,
            Bucket::Yearly => &mut self.within_yearly,
        };
        *slot = Some(d);
        self
    }
    /// Adds a `keep-tag` list (a snapshot must carry all of them).
    pub fn tag<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags.push(tags.into_iter().map(Into::into).collect());
        self
    }
}

/// A calendar bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// Hour of the day (civil, in the plan's zone).
    Hourly,
    /// Civil day.
    Daily,
    /// ISO 8601 week (Monday first; week 1 holds the year's first Thursday).
    Weekly,
    /// Month.
    Monthly,
    /// Year.
    Yearly,
}

impl Bucket {
    const ALL: [Bucket; 5] = [
        Bucket::Hourly,
        Bucket::Daily,
        Bucket::Weekly,
        Bucket::Monthly,
        Bucket::Yearly,
    ];

    fn name(self) -> &'static str {
        match self {
            Bucket::Hourly => "hourly",
            Bucket::Daily => "daily",
            Bucket::Weekly => "weekly",
            Bucket::Monthly => "monthly",
            Bucket::Yearly => "yearly",
        }
    }

    /// The bucket's label for a time: equal labels, same bucket.
    fn label(self, t: &ZonedDateTime) -> String {
        match self {
            Bucket::Hourly => format!(
                "{:04}-{:02}-{:02} {:02}h",
                t.year(),
                t.month(),
                t.day(),
                t.hour()
            ),
            Bucket::Daily => format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day()),
            Bucket::Weekly => {
                let w = t.iso_week_date();
                format!("{:04}-W{:02}", w.year(), w.week())
            }
            Bucket::Monthly => format!("{:04}-{:02}", t.year(), t.month()),
            Bucket::Yearly => format!("{:04}", t.year()),
        }
    }
}

/// What snapshots are grouped by before a policy is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupBy {
    /// Group by host name.
    pub host: bool,
    /// Group by the set of paths backed up.
    pub paths: bool,
    /// Group by the set of tags.
    pub tags: bool,
}

impl Default for GroupBy {
    fn default() -> Self {
        GroupBy {
            host: true,
            paths: true,
            tags: false,
        }
    }
}

impl std::str::FromStr for GroupBy {
    type Err = Error;
    /// Parses `host,paths,tags` (any subset; empty: one group).
    fn from_str(s: &str) -> Result<Self> {
        let mut g = GroupBy {
            host: false,
            paths: false,
            tags: false,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "host" => g.host = true,
                "paths" | "path" => g.paths = true,
                "tags" | "tag" => g.tags = true,
                other => {
                    return Err(Error::InvalidOption {
                        what: format!("group-by {other:?} (expected host, paths or tags)"),
                    })
                }
            }
        }
        Ok(g)
    }
}

/// Where `within` rules count back from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The newest snapshot of each group (restic's behaviour).
    Latest,
    /// A given instant (e.g. now).
    At(Timestamp),
}

/// How a policy is applied.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Grouping of snapshots.
    pub group_by: GroupBy,
    /// Anchor of `within` rules.
    pub anchor: Anchor,
    /// Zone of the calendar buckets (UTC by default).
    pub time_zone: TimeZone,
    /// Allow a plan that removes every snapshot of a group.
    pub allow_remove_all: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            group_by: GroupBy::default(),
            anchor: Anchor::Latest,
            time_zone: TimeZone::UTC,
            allow_remove_all: false,
        }
    }
}

impl PlanOptions {
    /// Sets the grouping.
    pub fn group_by(mut self, g: GroupBy) -> Self {
        self.group_by = g;
        self
    }
    /// Sets the anchor.
    pub fn anchor(mut self, a: Anchor) -> Self {
        self.anchor = a;
        self
    }
    /// Sets the time zone of calendar buckets.
    pub fn time_zone(mut self, tz: TimeZone) -> Self {
        self.time_zone = tz;
        self
    }
    /// Sets the zone of calendar buckets by IANA name (`Europe/Berlin`,
    /// `UTC`), from the time-zone database bundled in this build.
    pub fn time_zone_named(self, name: &str) -> Result<Self> {
        let tz = TimeZone::get(name).map_err(|e| Error::InvalidOption {
            what: format!("time zone {name:?}: {e}"),
        })?;
        Ok(self.time_zone(tz))
    }
    /// Anchors `within` rules at the current time (this machine's clock:
    /// it decides which snapshot *records* are forgotten, never which data
    /// is deleted under a running backup).
    pub fn anchor_now(self) -> Self {
        self.anchor(Anchor::At(Timestamp::now()))
    }
    /// Allows removing every snapshot of a group.
    pub fn allow_remove_all(mut self, yes: bool) -> Self {
        self.allow_remove_all = yes;
        self
    }
}

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
    pub id: String,
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
    pub fn keep(&self) -> Vec<String> {
        self.decisions()
            .filter(|d| d.keep)
            .map(|d| d.id.clone())
            .collect()
    }
    /// Ids of the snapshots to remove.
    pub fn remove(&self) -> Vec<String> {
        self.decisions()
            .filter(|d| !d.keep)
            .map(|d| d.id.clone())
            .collect()
    }
}

/// A snapshot's time as a timestamp (`object` names it in the error).
pub fn snapshot_timestamp(object: &str, s: &Snapshot) -> Result<Timestamp> {
    s.time
        .parse::<Timestamp>()
        .map_err(|e| Error::corrupt(object, format!("time {:?}: {e}", s.time)))
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
    snapshots: &[(String, Snapshot)],
    policy: &KeepPolicy,
    opts: &PlanOptions,
) -> Result<RetentionPlan> {
    if policy.is_empty() && !opts.allow_remove_all {
        return Err(Error::RemovesEverything {
            group: "every group (the policy has no rule)".into(),
        });
    }
    let mut groups: BTreeMap<GroupKey, Vec<(String, Timestamp, &Snapshot)>> = BTreeMap::new();
    for (id, s) in snapshots {
        let t = snapshot_timestamp(&crate::snapshot_key(id), s)?;
        groups
            .entry(group_key(opts.group_by, s))
            .or_default()
            .push((id.clone(), t, s));
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
    list: &[(String, Timestamp, &Snapshot)],
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
            id: id.clone(),
            time: *t,
            keep: !reasons.is_empty(),
            reasons,
        });
    }
    Ok(out)
}
