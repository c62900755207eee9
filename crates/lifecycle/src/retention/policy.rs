//! The policy and its options: what to keep, how to group, which zone.

use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};
use serde::Serialize;

use super::RetentionDuration;
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
    pub(super) const ALL: [Bucket; 5] = [
        Bucket::Hourly,
        Bucket::Daily,
        Bucket::Weekly,
        Bucket::Monthly,
        Bucket::Yearly,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Bucket::Hourly => "hourly",
            Bucket::Daily => "daily",
            Bucket::Weekly => "weekly",
            Bucket::Monthly => "monthly",
            Bucket::Yearly => "yearly",
        }
    }

    /// The bucket's label for a time: equal labels, same bucket.
    pub(super) fn label(self, t: &ZonedDateTime) -> String {
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
