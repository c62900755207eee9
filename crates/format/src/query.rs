//! [`SnapshotQuery`]: the one way to say which snapshots — by id prefix,
//! host, paths, tags and time — used to pick one (`Repository::find_snapshot`:
//! the newest match), list several (`Repository::select_snapshots`) or
//! scope a forget (`prune::forget`).
//!

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;

use crate::{Error, IdPrefix, Result, Snapshot, SnapshotId};

/// Which snapshots qualify. Every condition given must hold; an empty
/// query matches every snapshot (so "the" snapshot it finds is the latest).
///
/// ```
/// use cairn_format::{jiff::Timestamp, SnapshotQuery};
/// // "The state of /srv/www on db1 as of noon", as a restore wants it:
/// let noon: Timestamp = "2026-11-24T12:00:00Z".parse()?;
/// let q = SnapshotQuery::latest().host("db1").covering("/srv/www").as_of(noon);
/// assert_eq!(q.to_string(), r#"host "db1", covering "/srv/www", as of 2026-11-24T12:00:00Z"#);
/// // What a command line gives: `latest` or an id prefix.
/// assert_eq!("latest".parse::<SnapshotQuery>()?, SnapshotQuery::latest());
/// assert!("3fa2".parse::<SnapshotQuery>()?.id.is_some());
/// assert!("3fz!".parse::<SnapshotQuery>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotQuery {
    /// Only the snapshot whose id starts with this (when finding one, the
    /// prefix must name exactly one).
    pub id: Option<IdPrefix>,
    /// Only these hosts (any of them), if not empty.
    pub hosts: Vec<String>,
    /// Only snapshots whose backup paths include every one of these exactly
    /// (as `forget --path` and restic mean it).
    pub paths: Vec<String>,
    /// Only snapshots that contain every one of these paths: one of the
    /// backup paths is the path itself or a directory above it (what a
    /// restore of `/srv/www` needs from a backup of `/srv`).
    pub covering: Vec<String>,
    /// Only snapshots carrying every one of these tags.
    pub tags: Vec<String>,
    /// Only snapshots carrying every tag of at least one of these lists, if
    /// not empty (`--tag a,b --tag c`: a and b, or c).
    pub tag_groups: Vec<Vec<String>>,
    /// Only snapshots taken at or before this time.
    pub before: Option<Timestamp>,
    /// Only snapshots taken at or after this time.
    pub after: Option<Timestamp>,
}

impl SnapshotQuery {
    /// Every snapshot; as a pick, the latest.
    pub fn latest() -> Self {
        Self::default()
    }

    /// Sets the id prefix.
    pub fn id(mut self, prefix: impl Into<IdPrefix>) -> Self {
        self.id = Some(prefix.into());
        self
    }
    /// Adds a host (any of the hosts given qualifies).
    pub fn host(mut self, h: impl Into<String>) -> Self {
        self.hosts.push(h.into());
        self
    }
    /// Adds a backup path the snapshot must have been given exactly.
    pub fn path(mut self, p: impl Into<String>) -> Self {
        self.paths.push(p.into());
        self
    }
    /// Adds a path the snapshot must contain (the path or a parent backed up).
    pub fn covering(mut self, p: impl Into<String>) -> Self {
        self.covering.push(p.into());
        self
    }
    /// Adds a tag the snapshot must carry.
    pub fn tag(mut self, t: impl Into<String>) -> Self {
        self.tags.push(t.into());
        self
    }
    /// Adds an alternative list of tags (the snapshot must carry all tags
    /// of one of the lists).
    pub fn tag_group<S: Into<String>>(mut self, group: impl IntoIterator<Item = S>) -> Self {
        self.tag_groups
            .push(group.into_iter().map(Into::into).collect());
        self
    }
    /// Only snapshots taken at or before `t` (the latest of them is "the" one).
    pub fn as_of(mut self, t: Timestamp) -> Self {
        self.before = Some(t);
        self
    }
    /// Only snapshots taken at or after `t`.
    pub fn after(mut self, t: Timestamp) -> Self {
        self.after = Some(t);
        self
    }

    /// Whether anything but the id is asked for.
    pub fn has_filters(&self) -> bool {
        Self {
            id: None,
            ..self.clone()
        } != Self::default()
    }

    /// Whether the snapshot `id` with record `s` qualifies.
    pub fn matches(&self, id: &SnapshotId, s: &Snapshot) -> bool {
        self.id.as_ref().is_none_or(|p| id.starts_with(p))
            && (self.hosts.is_empty() || self.hosts.contains(&s.hostname))
            && self.paths.iter().all(|p| s.paths.contains(p))
            && self.covering.iter().all(|p| covers(&s.paths, p))
            && self.tags.iter().all(|t| s.tags.contains(t))
            && (self.tag_groups.is_empty()
                || self
                    .tag_groups
                    .iter()
                    .any(|g| g.iter().all(|t| s.tags.contains(t))))
            && self.before.is_none_or(|t| s.time <= t)
            && self.after.is_none_or(|t| s.time >= t)
    }
}

/// Whether a backup of `paths` contains `p`.
fn covers(paths: &[String], p: &str) -> bool {
    paths.iter().any(|sp| {
        p == sp
            || sp == "/"
            || p.strip_prefix(sp.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// `latest`, or a snapshot id prefix (garbage is [`Error::InvalidId`]).
impl FromStr for SnapshotQuery {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "latest" => Ok(Self::latest()),
            prefix => Ok(Self::latest().id(prefix.parse::<IdPrefix>()?)),
        }
    }
}

impl From<SnapshotId> for SnapshotQuery {
    fn from(id: SnapshotId) -> Self {
        Self::latest().id(id)
    }
}

impl From<IdPrefix> for SnapshotQuery {
    fn from(id: IdPrefix) -> Self {
        Self::latest().id(id)
    }
}

impl fmt::Display for SnapshotQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(p) = &self.id {
            parts.push(p.to_string());
        }
        let quoted = |v: &[String]| v.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>();
        if !self.hosts.is_empty() {
            parts.push(format!("host {}", quoted(&self.hosts).join(" or ")));
        }
        for p in &self.paths {
            parts.push(format!("path {p:?}"));
        }
        for p in &self.covering {
            parts.push(format!("covering {p:?}"));
        }
        for t in &self.tags {
            parts.push(format!("tag {t:?}"));
        }
        if !self.tag_groups.is_empty() {
            let groups: Vec<String> = self
                .tag_groups
                .iter()
                .map(|g| quoted(g).join(" and "))
                .collect();
            parts.push(format!("tags {}", groups.join(" or ")));
        }
        if let Some(t) = self.after {
            parts.push(format!("after {t:.0}"));
        }
        if let Some(t) = self.before {
            parts.push(format!("as of {t:.0}"));
        }
        match parts.is_empty() {
            true => f.write_str("latest"),
            false => f.write_str(&parts.join(", ")),
        }
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
