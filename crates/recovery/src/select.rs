//! Choosing a snapshot: "the state of /srv as of last Tuesday noon, on host db1".

use std::time::SystemTime;

use cairn_cas_core::{Repository, Snapshot};

use crate::{Error, Result};

/// Which snapshots qualify. Empty fields match everything.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct SnapshotFilter {
    /// Only snapshots taken at or before this time (the latest of them wins).
    pub as_of: Option<SystemTime>,
    /// Only this host.
    pub host: Option<String>,
    /// Only snapshots that include this path (exactly, or a parent of it).
    pub path: Option<String>,
    /// Only snapshots carrying all these tags.
    pub tags: Vec<String>,
}

impl SnapshotFilter {
    /// Sets the point in time.
    pub fn as_of(mut self, t: SystemTime) -> Self {
        self.as_of = Some(t);
        self
    }
    /// Sets the host.
    pub fn host(mut self, h: impl Into<String>) -> Self {
        self.host = Some(h.into());
        self
    }
    /// Sets the path.
    pub fn path(mut self, p: impl Into<String>) -> Self {
        self.path = Some(p.into());
        self
    }
    /// Adds a required tag.
    pub fn tag(mut self, t: impl Into<String>) -> Self {
        self.tags.push(t.into());
        self
    }

    /// Whether `s` qualifies.
    pub fn matches(&self, s: &Snapshot) -> bool {
        self.as_of.is_none_or(|t| s.system_time() <= t)
            && self.host.as_ref().is_none_or(|h| &s.hostname == h)
            && self.path.as_ref().is_none_or(|p| {
                s.paths.iter().any(|sp| {
                    p == sp
                        || p.strip_prefix(sp.as_str())
                            .is_some_and(|rest| rest.starts_with('/'))
                        || sp == "/"
                })
            })
            && self.tags.iter().all(|t| s.tags.contains(t))
    }
}

impl std::fmt::Display for SnapshotFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(t) = self.as_of {
            parts.push(format!("as of {}", humantime_rfc3339(t)));
        }
        if let Some(h) = &self.host {
            parts.push(format!("host {h:?}"));
        }
        if let Some(p) = &self.path {
            parts.push(format!("path {p:?}"));
        }
        for t in &self.tags {
            parts.push(format!("tag {t:?}"));
        }
        if parts.is_empty() {
            f.write_str("(any snapshot: the repository has none)")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

fn humantime_rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Snapshot records carry the same form; the filter prints it back.
    Snapshot::time_string(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// The latest snapshot that matches `filter`.
pub async fn select_snapshot(
    repo: &Repository,
    filter: &SnapshotFilter,
) -> Result<(String, Snapshot)> {
    let (all, mut unreadable) = repo.readable_snapshots().await?;
    match all.into_iter().rev().find(|(_, s)| filter.matches(s)) {
        Some(found) => Ok(found),
        // An unreadable record might have been the match: say so, naming it,
        // rather than claiming there is none.
        None if !unreadable.is_empty() => Err(unreadable.remove(0).into()),
        None => Err(Error::NoMatchingSnapshot {
            filter: filter.to_string(),
        }),
    }
}
