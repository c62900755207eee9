//! Snapshot records: storing, loading, listing and finding them; and
//! tombstones, the admin-signed removals that hide (and let prune drop) a
//! forgotten snapshot.
//!
//! A snapshot is live when its record is stored and no *valid* tombstone
//! (signed by the admin authority this handle trusts, or pinned by the link
//! that retired an older one: see `signed.rs` and `authority.rs`)
//! names it. Tombstones that do not verify — written by a backup host, which
//! knows the master key but not the authority — are ignored and reported.
//! A handle opened with a version 1 key file has no authority to verify
//! with, so it ignores every tombstone (it shows forgotten snapshots until
//! an admin's prune deletes their records): the safe direction.

use std::collections::HashSet;
use std::time::SystemTime;

use bytes::Bytes;
use cairn_backends::{ObjectMeta, PutMode};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use super::signed::{encode_signed, Tombstone, MAX_SIGNED_SIZE, TOMBSTONES, TOMBSTONE_MAGIC};
use super::{put_idempotent, Repository, LOAD_CONCURRENCY};
use crate::open::{get_capped, list_tolerant, MAX_SNAPSHOT_SIZE};
use crate::snapshot::{decode_doc, encode_doc, snapshot_key, Snapshot, SNAPSHOT_MAGIC};
use crate::{Error, Result, SnapshotId, SnapshotQuery};

/// The snapshot ids of a `snapshots/` listing; names that are not ids
/// (planted or damaged objects) come back as errors naming the object.
fn parse_names(names: Vec<String>) -> (Vec<SnapshotId>, Vec<Error>) {
    let (mut ids, mut bad) = (Vec::new(), Vec::new());
    for key in names {
        match key.trim_start_matches("snapshots/").parse() {
            Ok(id) => ids.push(id),
            Err(_) => bad.push(Error::corrupt(&key, "its name is not a snapshot id")),
        }
    }
    (ids, bad)
}

impl Repository {
    /// Stores a snapshot record; returns its id. Call only after the packs and
    /// index objects it needs are stored.
    pub async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<SnapshotId> {
        let bytes = encode_doc(&self.keys(), SNAPSHOT_MAGIC, snapshot)?;
        let id = SnapshotId::of(&bytes);
        let bytes = Bytes::from(bytes);
        put_idempotent(&*self.backend, &snapshot_key(&id), bytes.clone()).await?;
        self.cache_written(&snapshot_key(&id), &bytes).await;
        Ok(id)
    }

    /// Loads one snapshot record by id.
    /// Read through the local cache, if any.
    pub async fn load_snapshot(&self, id: &SnapshotId) -> Result<Snapshot> {
        let key = snapshot_key(id);
        let (keys, id, k) = (self.keys(), *id, key.clone());
        self.read_meta(&key, MAX_SNAPSHOT_SIZE, move |bytes| {
            if SnapshotId::of(bytes) != id {
                return Err(Error::corrupt(&k, "contents do not match the name"));
            }
            decode_doc(&keys, SNAPSHOT_MAGIC, &k, bytes)
        })
        .await
    }

    /// The ids of every live snapshot record stored (without reading them;
    /// snapshots with a valid tombstone, and objects whose names are not
    /// snapshot ids, are left out).
    pub async fn snapshot_ids(&self) -> Result<Vec<SnapshotId>> {
        let records = self
            .backend
            .list("snapshots/")
            .map_ok(|m| m.key)
            .try_collect::<Vec<String>>();
        let (names, tombs, refreshed) = futures::join!(
            records,
            list_tolerant(&*self.backend, TOMBSTONES),
            self.refresh_authority()
        );
        refreshed?;
        let (ids, _) = parse_names(names?);
        let names: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        let dead = self.tombstones_in(&names, tombs?.0).await?.valid;
        Ok(ids.into_iter().filter(|id| !dead.contains(id)).collect())
    }

    /// The tombstones of stored snapshot records: the ids validly
    /// forgotten, and the tombstone objects ignored because their signature
    /// does not verify under this handle's authority (or it has none).
    /// Tombstones whose record is gone are not read (they stay, so that a
    /// copy of the record stored again stays forgotten, but cost only a
    /// listing entry).
    pub async fn tombstones(&self) -> Result<Tombstones> {
        let ((heard, _), tombs) = self.list_records().await?;
        let ids: Vec<String> = heard
            .into_iter()
            .map(|m| m.key.trim_start_matches("snapshots/").to_owned())
            .collect();
        self.tombstones_in(&ids, tombs).await
    }

    /// Lists snapshot records (tolerantly) and tombstones at once: two
    /// round trips side by side, not one after the other (with the
    /// records' contents in the local cache, the listings are most of what
    /// `snapshots` waits for). A tombstone written between the two
    /// listings may be missed: the snapshot then shows, the safe direction.
    #[allow(clippy::type_complexity)]
    async fn list_records(
        &self,
    ) -> Result<(
        (Vec<ObjectMeta>, Option<cairn_backends::Error>),
        Vec<ObjectMeta>,
    )> {
        // The authority chain is refreshed in the same round: tombstones
        // are judged by the newest chain (an admin removed meanwhile by
        // another handle signs nothing this one accepts).
        let (records, tombs, refreshed) = futures::join!(
            list_tolerant(&*self.backend, "snapshots/"),
            list_tolerant(&*self.backend, TOMBSTONES),
            self.refresh_authority()
        );
        refreshed?;
        Ok((records?, tombs?.0))
    }

    /// The tombstones among `heard` (a listing of `tombstones/`) whose
    /// record is in `stored`, checked.
    async fn tombstones_in(&self, stored: &[String], heard: Vec<ObjectMeta>) -> Result<Tombstones> {
        let stored: HashSet<&str> = stored.iter().map(String::as_str).collect();
        let mut out = Tombstones::default();
        // Read side by side (each is one small GET): a repository with
        // many forgotten records still on its storage (append-only, or
        // not yet pruned) must not make `snapshots` wait for them in turn.
        let mut wanted: Vec<(String, SnapshotId)> = Vec::new();
        for m in heard {
            let name = m.key.trim_start_matches(TOMBSTONES);
            if !stored.contains(name) {
                continue;
            }
            // A stored record's name that is no snapshot id: nothing it
            // could hide (listings skip such names).
            match name.parse::<SnapshotId>() {
                Ok(id) => wanted.push((m.key, id)),
                Err(_) => out.ignored.push(m.key),
            }
        }
        let mut checked = futures::stream::iter(wanted)
            .map(|(object, id)| async move {
                let r = self.check_tombstone(&object, &id).await;
                (object, id, r)
            })
            .buffer_unordered(LOAD_CONCURRENCY);
        while let Some((object, id, r)) = checked.next().await {
            match r {
                Ok(true) => {
                    out.valid.insert(id);
                }
                Ok(false) => out.ignored.push(object),
                Err(e) if e.is_backend_failure() => return Err(e),
                Err(_) => out.ignored.push(object),
            }
        }
        out.ignored.sort();
        Ok(out)
    }

    async fn check_tombstone(&self, object: &str, id: &str) -> Result<bool> {
        let Some(authority) = self.authority_chain() else {
            return Ok(false);
        };
        let bytes = match get_capped(&*self.backend, object, MAX_SIGNED_SIZE).await {
            Err(Error::Backend(e)) if e.is_not_found() => return Ok(false),
            r => r?,
        };
        let t: Tombstone = authority.decode(TOMBSTONE_MAGIC, &self.config.id, object, &bytes)?;
        Ok(t.snapshot == id)
    }

    /// Writes an admin-signed tombstone for snapshot `id` (forget). A
    /// tombstone planted under that name that does not verify is replaced.
    #[doc(hidden)]
    pub async fn write_tombstone(&self, id: &str) -> Result<()> {
        let admin = self.admin_key("forget snapshots")?;
        let record = Tombstone {
            snapshot: id.to_owned(),
            time: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            key: self.key_name.trim_start_matches("keys/").to_owned(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
        };
        let bytes = encode_signed(&admin, TOMBSTONE_MAGIC, &self.config.id, &record)?;
        let object = format!("{TOMBSTONES}{id}");
        match self
            .backend
            .put(&object, Bytes::from(bytes.clone()), PutMode::CreateOnly)
            .await
        {
            Err(e) if e.is_already_exists() => {
                if !matches!(self.check_tombstone(&object, id).await, Ok(true)) {
                    self.backend
                        .put(&object, Bytes::from(bytes), PutMode::Overwrite)
                        .await?;
                }
                Ok(())
            }
            r => Ok(r?),
        }
    }

    /// Every snapshot, oldest first; fails if any record cannot be read.
    pub async fn snapshots(&self) -> Result<Vec<(SnapshotId, Snapshot)>> {
        let (all, mut errors) = self.readable_snapshots().await?;
        match errors.is_empty() {
            true => Ok(all),
            false => Err(errors.remove(0)),
        }
    }

    /// Every snapshot that can be read, oldest first, and the errors of
    /// those that cannot: one damaged record (or one written by a newer
    /// version) must not stop backups, selection or `check`.
    ///
    /// A listing that cannot be shown complete (an erasure layout with
    /// too many children silent) gives the snapshots heard, and its error
    /// among the errors.
    pub async fn readable_snapshots(&self) -> Result<(Vec<(SnapshotId, Snapshot)>, Vec<Error>)> {
        let ((heard, incomplete), tombs) = self.list_records().await?;
        if incomplete.is_none() {
            // Records another process's prune deleted leave the cache.
            let listed = heard.iter().map(|m| m.key.clone()).collect();
            self.cache_retain("snapshots", listed).await;
        }
        let (ids, bad_names) = parse_names(heard.into_iter().map(|m| m.key).collect());
        let names: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        let dead = self.tombstones_in(&names, tombs).await?.valid;
        let ids: Vec<SnapshotId> = ids.into_iter().filter(|id| !dead.contains(id)).collect();
        let keys = self.keys();
        let names = ids.iter().map(|id| snapshot_key(id)).collect();
        let mut cached = self
            .cached_many(names, MAX_SNAPSHOT_SIZE, move |name, bytes| {
                let id = name.trim_start_matches("snapshots/");
                if blake3::hash(bytes).to_hex().as_str() != id {
                    return Err(Error::corrupt(name, "contents do not match the name"));
                }
                decode_doc::<Snapshot>(&keys, SNAPSHOT_MAGIC, name, bytes)
            })
            .await;
        let (mut hits, mut missing) = (Vec::new(), Vec::new());
        for id in ids {
            match cached.remove(&snapshot_key(&id)) {
                Some(s) => hits.push(Ok((id, s))),
                None => missing.push(id),
            }
        }
        let mut loaded: Vec<Result<(SnapshotId, Snapshot)>> = futures::stream::iter(missing)
            .map(|id| async move {
                let s = self.load_snapshot(&id).await?;
                Ok((id, s))
            })
            .buffer_unordered(LOAD_CONCURRENCY)
            .collect()
            .await;
        loaded.append(&mut hits);
        let (mut all, mut errors) = (Vec::new(), Vec::new());
        errors.extend(incomplete.map(Error::from));
        errors.extend(bad_names);
        for r in loaded {
            match r {
                Ok(s) => all.push(s),
                Err(e) => errors.push(e),
            }
        }
        all.sort_by(|a, b| (a.1.time, &a.0).cmp(&(b.1.time, &b.0)));
        Ok((all, errors))
    }

    /// Every readable snapshot `query` selects, oldest first, and the
    /// errors of the records that cannot be read (as
    /// [`readable_snapshots`](Self::readable_snapshots)).
    pub async fn select_snapshots(
        &self,
        query: &SnapshotQuery,
    ) -> Result<(Vec<(SnapshotId, Snapshot)>, Vec<Error>)> {
        let (mut all, errors) = self.readable_snapshots().await?;
        all.retain(|(id, s)| query.matches(id, s));
        Ok((all, errors))
    }

    /// The snapshot `query` picks: with an id prefix, the one snapshot it
    /// names (its record must be readable, and it must meet the rest of the
    /// query); otherwise the newest snapshot that matches.
    ///
    /// [`Error::AmbiguousSnapshot`] when the prefix names several;
    /// [`Error::SnapshotNotFound`] when nothing matches — unless a record
    /// that could not be read might have been the match, which is then the
    /// error returned (naming it) rather than a claim that there is none.
    pub async fn find_snapshot(&self, query: &SnapshotQuery) -> Result<(SnapshotId, Snapshot)> {
        let not_found = || Error::SnapshotNotFound {
            query: query.to_string(),
        };
        if let Some(prefix) = &query.id {
            let id = prefix.resolve(&self.snapshot_ids().await?)?;
            let snap = self.load_snapshot(&id).await?;
            return match query.matches(&id, &snap) {
                true => Ok((id, snap)),
                false => Err(not_found()),
            };
        }
        let (all, mut unreadable) = self.select_snapshots(query).await?;
        // A damaged snapshot that `repair snapshots` replaced (without
        // `--forget`) has its repaired copy's time: "the latest" is the
        // copy, whatever order the two ids sort in.
        let replaced: HashSet<SnapshotId> = all.iter().filter_map(|(_, s)| s.original).collect();
        match all.into_iter().rev().find(|(id, _)| !replaced.contains(id)) {
            Some(found) => Ok(found),
            None if !unreadable.is_empty() => Err(unreadable.remove(0)),
            None => Err(not_found()),
        }
    }
}

/// What [`Repository::tombstones`] found.
#[non_exhaustive]
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tombstones {
    /// Snapshots forgotten by a valid admin signature.
    pub valid: HashSet<SnapshotId>,
    /// Tombstone objects ignored (no valid signature): a sign of a key
    /// holder without the admin authority trying to remove snapshots.
    pub ignored: Vec<String>,
}
