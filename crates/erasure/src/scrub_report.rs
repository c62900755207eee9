//! What [`ErasureBackend::scrub`](crate::ErasureBackend::scrub)(crate::ErasureBackend::scrub) is asked to
//! do and what it reports.

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::HealReport;

/// What [`ErasureBackend::scrub`](crate::ErasureBackend::scrub) walks and whether it repairs.
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
/// counting (see [`ErasureBackend::with_verifier`](crate::ErasureBackend::with_verifier)).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScrubConflict {
    /// The object.
    pub key: String,
    /// The versions found and why none was rewritten towards.
    pub reason: String,
}

/// An error a scrub or heal met, naming the object (or heal record) and
/// the child. Serialized with a `kind` tag in snake case
/// (`{"kind": "listing", "child": 2, "reason": "…"}`); `Display` gives the
/// one-line message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScrubError {
    /// A child's listing failed (the walk may then be incomplete).
    Listing {
        /// The child's index in the layout.
        child: usize,
        /// The error.
        reason: String,
    },
    /// An object to repair could not be re-encoded.
    Encode {
        /// The object.
        key: String,
        /// The error.
        reason: String,
    },
    /// A call to one child about one object failed, or what it returned
    /// did not decode.
    Child {
        /// What was being done (`reading`, `removing`, `decoding`).
        operation: &'static str,
        /// The object or heal record.
        object: String,
        /// The child's index in the layout.
        child: usize,
        /// The error.
        reason: String,
    },
}

impl fmt::Display for ScrubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScrubError::Listing { child, reason } => write!(f, "listing child {child}: {reason}"),
            ScrubError::Encode { key, reason } => write!(f, "re-encoding {key:?}: {reason}"),
            ScrubError::Child {
                operation,
                object,
                child,
                reason,
            } => write!(f, "{operation} {object} on child {child}: {reason}"),
        }
    }
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
    pub errors: Vec<ScrubError>,
    /// With `repair`, after a complete walk of everything: what
    /// [`ErasureBackend::heal`](crate::ErasureBackend::heal) then did with the heal records.
    pub heal: Option<HealReport>,
    /// The last key examined: pass it as `start_after` to resume.
    pub last_key: Option<String>,
    /// Whether the walk reached the end (not stopped by `limit` or `cancel`)
    /// of a complete listing (fewer than `k` children failed to list).
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

impl ScrubReport {
    pub(crate) fn add(&mut self, other: ScrubReport) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_errors_serialize_tagged_and_print_their_lines() {
        let mut r = ScrubReport::default();
        r.errors.push(ScrubError::Listing {
            child: 2,
            reason: "refused".into(),
        });
        r.errors.push(ScrubError::Child {
            operation: "removing",
            object: ".erasure/heal/ab".into(),
            child: 0,
            reason: "gone".into(),
        });
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v["errors"][0],
            serde_json::json!({"kind": "listing", "child": 2, "reason": "refused"})
        );
        assert_eq!(v["errors"][1]["operation"], "removing");
        assert_eq!(r.errors[0].to_string(), "listing child 2: refused");
        assert_eq!(
            r.errors[1].to_string(),
            "removing .erasure/heal/ab on child 0: gone"
        );
    }
}
