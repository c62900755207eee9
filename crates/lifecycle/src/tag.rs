//! `tag`: change snapshots' tags, restic's way. A snapshot record is
//! immutable and named by its hash, so a new record (the same snapshot,
//! the new tags, `original` naming the first record of the line) replaces
//! the old one, which is then removed as a forget removes it: a signed
//! tombstone, then the record deleted. Admins only, since it removes
//! records. Order: new records, then one `tag` journal entry naming each
//! old -> new pair, then the removals, so a failure at any point leaves
//! every snapshot readable under at least one id. A held snapshot's hold
//! moves to its new record before the old one goes.

use serde::Serialize;

use crate::journal::{counts, record, Operation, SnapshotPair};
use crate::snapshot::snapshot_key;
use crate::{Error, Repository, Result, SnapshotId};

/// How [`tag_snapshots`] changes tags: `set` (if given) replaces them all,
/// then `remove` takes some away and `add` adds some.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagChange {
    /// Tags to add.
    pub add: Vec<String>,
    /// Tags to remove.
    pub remove: Vec<String>,
    /// Tags that replace every current one.
    pub set: Option<Vec<String>>,
}

impl TagChange {
    /// Adds `tag`.
    pub fn add_tag(mut self, tag: impl Into<String>) -> Self {
        self.add.push(tag.into());
        self
    }
    /// Removes `tag`.
    pub fn remove_tag(mut self, tag: impl Into<String>) -> Self {
        self.remove.push(tag.into());
        self
    }
    /// Replaces every tag with `tags`.
    pub fn set_tags(mut self, tags: Vec<String>) -> Self {
        self.set = Some(tags);
        self
    }

    /// `tags` after the change: sorted, without duplicates or empty tags.
    pub fn apply(&self, tags: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self.set.clone().unwrap_or_else(|| tags.to_vec());
        out.retain(|t| !self.remove.contains(t));
        out.extend(self.add.iter().cloned());
        out.retain(|t| !t.is_empty());
        out.sort();
        out.dedup();
        out
    }
}

/// One snapshot whose tags changed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retagged {
    /// The record replaced (now removed).
    pub original: SnapshotId,
    /// The record that replaces it.
    pub new: SnapshotId,
    /// Its tags.
    pub tags: Vec<String>,
}

/// What [`tag_snapshots`] did.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TagReport {
    /// Snapshots given new records.
    pub changed: Vec<Retagged>,
    /// Snapshots whose tags the change leaves as they are (not rewritten).
    pub unchanged: Vec<SnapshotId>,
}

/// Applies `change` to the tags of the snapshots `ids` (full ids; each
/// must be live, [`Error::SnapshotNotFound`] otherwise, before anything is
/// written). See the module docs for what is written in which order.
pub async fn tag_snapshots(
    repo: &Repository,
    ids: &[SnapshotId],
    change: &TagChange,
) -> Result<TagReport> {
    repo.require_admin("tag snapshots")?;
    if change.set.is_none() && change.add.is_empty() && change.remove.is_empty() {
        return Err(Error::InvalidOption {
            what: "tag: nothing to change (give --add, --remove or --set)".into(),
        });
    }
    let live = repo.snapshots().await?;
    let mut report = TagReport::default();
    let mut todo = Vec::new();
    for id in ids {
        let Some((_, snap)) = live.iter().find(|(l, _)| l == id) else {
            return Err(Error::SnapshotNotFound {
                query: id.to_string(),
            });
        };
        let tags = change.apply(&snap.tags);
        if tags == snap.tags || todo.iter().any(|(i, _)| i == id) {
            report.unchanged.push(*id);
            continue;
        }
        let mut new = snap.clone();
        new.tags = tags;
        new.original = Some(snap.original.unwrap_or(*id));
        todo.push((*id, new));
    }
    if todo.is_empty() {
        return Ok(report);
    }
    let held = crate::hold::active_holds(repo).await?;
    for (id, snap) in todo {
        let new = repo.save_snapshot(&snap).await?;
        if let Some(h) = held.get(&id) {
            repo.write_hold(new.as_ref(), h.until.clone(), &h.reason)
                .await?;
        }
        report.changed.push(Retagged {
            original: id,
            new,
            tags: snap.tags,
        });
    }
    let pairs: Vec<SnapshotPair> = report
        .changed
        .iter()
        .map(|r| SnapshotPair::new(&r.original, &r.new))
        .collect();
    let n = pairs.len() as u64;
    let op = Operation::Tag { snapshots: pairs };
    record(
        repo,
        op,
        counts([("snapshots", n)]),
        counts([("snapshots", n)]),
    )
    .await?;
    for r in &report.changed {
        replace_record(repo, &r.original, held.contains_key(&r.original)).await?;
    }
    Ok(report)
}

/// Removes a replaced record as a forget does (signed tombstone, then the
/// delete; an append-only store keeps it under the tombstone), and the
/// hold that moved to its replacement.
async fn replace_record(repo: &Repository, id: &SnapshotId, held: bool) -> Result<()> {
    let signed = repo.authority().is_some();
    if signed {
        repo.write_tombstone(id.as_ref()).await?;
    }
    match repo.backend().delete(&snapshot_key(id)).await {
        Err(e) if signed && e.is_not_permitted() => {}
        Err(e) if !e.is_not_found() => return Err(e.into()),
        _ => {}
    }
    if held {
        let hold = format!("{}{id}", crate::hold::HOLDS);
        match repo.backend().delete(&hold).await {
            Err(e) if !e.is_not_found() && !e.is_not_permitted() => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}
