//! Stray pieces (an erasure layout's shards of no object) in the prune
//! protocol: which prefixes, what phase 1 condemns, what phase 2 removes.
//! The argument for why this is safe is in the module docs of `prune`.

use std::collections::HashSet;

use cairn_backends::PartialObjects;

use super::gc::{PruneOptions, PrunePlan, PruneReport, Scan};
use crate::Result;

/// Where strays are looked for: the prefixes whose writers all hold a
/// session (so phase 2's wait covers a write in flight), and that hold
/// nearly all the bytes. Leases, records and keys are left alone: a lease
/// is written before its session is visible, and keys and the config are
/// written without one.
pub(crate) const STRAY_PREFIXES: [&str; 2] = ["data/", "index/"];

/// Every stray key under [`STRAY_PREFIXES`], from complete listings.
pub(crate) async fn stray_keys(partial: &dyn PartialObjects) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for prefix in STRAY_PREFIXES {
        out.extend(partial.partial_keys(prefix).await?);
    }
    Ok(out)
}

/// Phase 1: the stray keys no pending record condemns yet, into the plan
/// (or why none could be listed).
pub(crate) async fn plan(partial: &dyn PartialObjects, scan: &Scan, plan: &mut PrunePlan) {
    match stray_keys(partial).await {
        // A stray already condemned by a pending record waits there.
        Ok(keys) => {
            let pending: HashSet<&String> =
                scan.condemned.iter().flat_map(|(_, c)| &c.strays).collect();
            plan.strays = keys.into_iter().filter(|k| !pending.contains(k)).collect();
        }
        Err(e) => plan.strays_unlisted = Some(e.to_string()),
    }
}

/// Removes the pieces of the finished records' stray keys that are stray
/// still, by a complete listing made now (after the wait): a key that a
/// writer was storing when it was condemned is a whole object by now (its
/// writer has ended) and is kept. Without a complete listing nothing is
/// removed; a later prune finds the strays again.
/// Why stray shards were not removed (a later prune finds them again).
/// Serialized as its message, the form the report has always had.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrayError {
    /// The layout's pieces could not be listed completely: no stray is
    /// provably stray, none was removed.
    Listing {
        /// The listing's error.
        reason: String,
    },
    /// Removing the pieces of one stray key failed.
    Delete {
        /// The stray key.
        key: String,
        /// The error (it names the key).
        reason: String,
    },
}

impl std::fmt::Display for StrayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StrayError::Listing { reason } | StrayError::Delete { reason, .. } => {
                f.write_str(reason)
            }
        }
    }
}

impl serde::Serialize for StrayError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

pub(crate) async fn delete(opts: &PruneOptions, strays: Vec<String>, report: &mut PruneReport) {
    if strays.is_empty() {
        return;
    }
    let Some(partial) = &opts.partial else {
        report.strays_kept += strays.len();
        return;
    };
    let now: HashSet<String> = match stray_keys(&**partial).await {
        Ok(keys) => keys.into_iter().collect(),
        Err(e) => {
            report.strays_kept += strays.len();
            report.stray_errors.push(StrayError::Listing {
                reason: e.to_string(),
            });
            return;
        }
    };
    for key in strays {
        if !now.contains(&key) {
            report.strays_kept += 1;
            continue;
        }
        // A child that refuses keeps its piece: the next prune finds the
        // key stray again, so this run goes on.
        match partial.delete_pieces(&key).await {
            Ok(n) => {
                report.stray_pieces_deleted += n;
                report.strays_deleted += 1;
            }
            Err(e) => report.stray_errors.push(StrayError::Delete {
                key,
                reason: e.to_string(),
            }),
        }
    }
}
