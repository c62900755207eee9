//! `repair index`: rebuild the index from the pack headers.

use std::collections::{HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};

use super::{pack_id_of, read_header_of, stored_packs, DamagedObject};
use crate::pack::{PackEntry, PackId};
use crate::{Error, Repository, Result};

/// Pack headers read at once.
const HEADER_CONCURRENCY: usize = 8;

/// Settings for [`rebuild_index`].
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct RepairIndexOptions {
    /// Only report what would be written and removed.
    pub dry_run: bool,
}

impl RepairIndexOptions {
    /// Sets dry-run mode.
    pub fn dry_run(mut self, on: bool) -> Self {
        self.dry_run = on;
        self
    }
}

/// What [`rebuild_index`] found and did.
#[non_exhaustive]
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RepairIndexReport {
    /// Objects under `data/` whose header was read and authenticated.
    pub packs_read: usize,
    /// Packs that could not be used (unreadable, bad name, header failing
    /// authentication); their blobs are not indexed.
    pub damaged_packs: Vec<DamagedObject>,
    /// Index objects that could not be read or decoded.
    pub damaged_index: Vec<DamagedObject>,
    /// Readable index objects replaced because they list a pack that is
    /// missing or damaged.
    pub stale_index: Vec<String>,
    /// Packs indexed by the new objects.
    pub packs_indexed: usize,
    /// Index objects written (empty in a dry run).
    pub written: Vec<String>,
    /// Index objects removed (empty in a dry run).
    pub removed: Vec<String>,
}

impl RepairIndexReport {
    /// Whether the index needed no change.
    pub fn was_clean(&self) -> bool {
        self.damaged_index.is_empty() && self.stale_index.is_empty() && self.packs_indexed == 0
    }
}

/// Rebuilds the index from the packs: lists `data/`, reads and
/// authenticates every pack's header, and writes index objects for every
/// good pack not listed by an intact index object — the packs of damaged
/// index objects, of index objects that name a missing or damaged pack, and
/// those an interrupted backup left unindexed. Only after the new objects
/// are stored are the damaged and stale ones removed; then the in-memory
/// index is reloaded.
pub async fn rebuild_index(
    repo: &Repository,
    opts: &RepairIndexOptions,
) -> Result<RepairIndexReport> {
    // It deletes the index objects it replaces: an admin's job.
    if !opts.dry_run {
        repo.require_admin("repair the index")?;
    }
    let backend = repo.backend().clone();
    let mut report = RepairIndexReport::default();
    let stored = stored_packs(&*backend).await?;
    let keys = repo.keys().clone();
    let mut headers = futures::stream::iter(stored)
        .map(|(key, size)| {
            let (backend, keys) = (backend.clone(), keys.clone());
            async move {
                let r = match pack_id_of(&key) {
                    None => Err(Error::corrupt(&key, "not a pack name (data/xx/<64 hex>)")),
                    Some(id) => read_header_of(&*backend, &keys, &key, size)
                        .await
                        .map(|e| (id, e)),
                };
                (key, r)
            }
        })
        .buffer_unordered(HEADER_CONCURRENCY);
    let mut good: HashMap<PackId, Vec<PackEntry>> = HashMap::new();
    while let Some((key, r)) = headers.next().await {
        match r {
            Ok((id, entries)) => {
                report.packs_read += 1;
                good.insert(id, entries);
            }
            Err(e) if e.is_backend_failure() => return Err(e),
            Err(e) => report.damaged_packs.push(DamagedObject {
                object: key,
                reason: e.to_string(),
            }),
        }
    }
    drop(headers);

    let damaged: HashSet<String> = report
        .damaged_packs
        .iter()
        .map(|d| d.object.clone())
        .collect();
    let (covered, replace) = classify_index(repo, &good, &damaged, &mut report).await?;
    let mut new: Vec<(PackId, Vec<PackEntry>)> = good
        .into_iter()
        .filter(|(id, _)| !covered.contains(id))
        .collect();
    new.sort_by_key(|(id, _)| *id);
    report.packs_indexed = new.len();
    report.damaged_packs.sort_by(|a, b| a.object.cmp(&b.object));
    if opts.dry_run {
        return Ok(report);
    }
    if !new.is_empty() {
        report.written = repo.write_index(&new).await?;
    }
    for name in replace {
        // Written above under the same name (same content): keep it.
        if report.written.contains(&name) {
            continue;
        }
        match backend.delete(&name).await {
            Ok(()) => report.removed.push(name),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    repo.reload_index().await?;
    if !report.written.is_empty() || !report.removed.is_empty() {
        let added = crate::journal::counts([("index", report.written.len() as u64)]);
        let removed = crate::journal::counts([("index", report.removed.len() as u64)]);
        let op = crate::journal::Operation::RepairIndex {
            written: report.written.clone(),
            removed: report.removed.clone(),
        };
        crate::journal::record_after(repo, op, added, removed).await?;
    }
    Ok(report)
}

/// Reads every index object. Returns the packs listed by intact objects
/// (kept), and the objects to replace: undecodable ones, and those listing a
/// pack whose header failed or that is not stored.
async fn classify_index(
    repo: &Repository,
    good: &HashMap<PackId, Vec<PackEntry>>,
    damaged: &HashSet<String>,
    report: &mut RepairIndexReport,
) -> Result<(HashSet<PackId>, Vec<String>)> {
    let names: Vec<String> = repo
        .backend()
        .list("index/")
        .map_ok(|m| m.key)
        .try_collect()
        .await?;
    let mut covered = HashSet::new();
    let mut replace = Vec::new();
    for name in names {
        match repo.read_index_object(repo.keys().clone(), &name).await {
            Ok(packs) => {
                if intact(repo, &packs, good, damaged).await? {
                    covered.extend(packs.iter().map(|(id, _)| *id));
                } else {
                    report.stale_index.push(name.clone());
                    replace.push(name);
                }
            }
            Err(e) if e.is_backend_failure() => return Err(e),
            Err(e) => {
                report.damaged_index.push(DamagedObject {
                    object: name.clone(),
                    reason: e.to_string(),
                });
                replace.push(name);
            }
        }
    }
    Ok((covered, replace))
}

/// Whether every pack an index object lists is usable. A pack missing from
/// the scan may have been stored by a backup since `data/` was listed (its
/// index object can then be listed here): only a pack that is still not
/// there makes the object stale, never one that is merely new.
async fn intact(
    repo: &Repository,
    packs: &[(PackId, Vec<PackEntry>)],
    good: &HashMap<PackId, Vec<PackEntry>>,
    damaged: &HashSet<String>,
) -> Result<bool> {
    for (id, _) in packs {
        if good.contains_key(id) {
            continue;
        }
        if damaged.contains(&id.key()) {
            return Ok(false);
        }
        match repo.backend().stat(&id.key()).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}
