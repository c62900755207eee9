//! Writer sessions: how a running backup makes itself visible to pruners,
//! avoids condemned packs, and re-validates at commit.
//!
//! # Sessions on an append-only store
//!
//! A lease is normally refreshed by overwriting `sessions/<id>` and removed
//! by deleting it. A backup host whose store refuses both
//! ([`cairn_backends::AppendOnly`], S3 credentials without delete) gets
//! [`NotPermitted`](cairn_backends::Error::NotPermitted) and switches, for
//! the rest of the session, to create-only objects:
//!
//! - refresh `n`: `sessions/<id>.r<n>` (the same `CRNS` lease document,
//!   counter `n`); the session's counter is the highest `n` seen;
//! - end: `sessions/<id>.end` (the lease document); a session with an end
//!   marker is over.
//!
//! Prune treats them like any lease, and an admin's prune deletes the
//! objects of ended sessions. An end marker the session did not write
//! itself (planted by another key holder) counts as a kill marker: the
//! backup fails at commit instead of committing unseen.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use cairn_backends::PutMode;
use cairn_crypto::ChunkId;

use super::records::{
    condemned_packs, delete_quiet, get_listed, list_names, read_doc, write_at, Lease, KILLED,
    SESSIONS, SESSION_MAGIC,
};
use super::repack::copy_blobs;
use crate::index::{decode_index, Index};
use crate::pack::{PackBuilder, PackEntry, PackId};
use crate::repo::put_idempotent;
use crate::tree::NodeKind;
use crate::{Error, Repository, Result};

/// A lease announcing a running writer (a backup, or a prune).
#[derive(Debug)]
pub struct Session {
    lease: Lease,
    counter: AtomicU64,
    /// Whether the lease is stored: a dry run's session writes nothing (it
    /// commits nothing either, so no prune needs to wait for it).
    stored: bool,
    /// The store refused an overwrite or delete: refresh and end with
    /// create-only objects (see the module docs).
    append: AtomicBool,
}

/// Suffix of a session's end marker on an append-only store.
const END: &str = ".end";
/// Infix of a session's refresh objects on an append-only store.
const REFRESH: &str = ".r";

fn refused(e: &Error) -> bool {
    matches!(e, Error::Backend(b) if b.is_not_permitted())
}

impl Session {
    /// Writes a new lease. Until [`end`](Self::end), every prune that
    /// condemns packs waits for this session before deleting them.
    pub async fn begin(repo: &Repository) -> Result<Session> {
        let session = Self::unstored()?;
        write_at(
            repo,
            SESSION_MAGIC,
            &session.lease.key(),
            &session.lease,
            PutMode::CreateOnly,
        )
        .await?;
        Ok(Session {
            stored: true,
            ..session
        })
    }

    /// A session whose lease is not written: for a dry run, which stores
    /// nothing and commits nothing.
    fn unstored() -> Result<Session> {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|e| Error::Internal {
            what: format!("no randomness from the operating system: {e}"),
        })?;
        let lease = Lease {
            id: hex::encode(id),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            pid: std::process::id(),
            counter: 0,
            started: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        };
        Ok(Session {
            lease,
            counter: AtomicU64::new(0),
            stored: false,
            append: AtomicBool::new(false),
        })
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.lease.id
    }

    /// Bumps the lease's counter: proof of life that needs no clock.
    pub async fn refresh(&self, repo: &Repository) -> Result<()> {
        if !self.stored {
            return Ok(());
        }
        let mut lease = self.lease.clone();
        lease.counter = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.append.load(Ordering::SeqCst) {
            match write_at(
                repo,
                SESSION_MAGIC,
                &lease.key(),
                &lease,
                PutMode::Overwrite,
            )
            .await
            {
                Err(e) if refused(&e) => self.append.store(true, Ordering::SeqCst),
                r => return r,
            }
        }
        let key = format!("{}{REFRESH}{}", lease.key(), lease.counter);
        write_at(repo, SESSION_MAGIC, &key, &lease, PutMode::CreateOnly).await
    }

    /// Whether a pruner declared this session dead (it then no longer
    /// waits for it, so nothing this session wrote may be acknowledged).
    /// An end marker this session did not write counts too: a pruner
    /// stops waiting for a session that looks ended.
    /// On a tenant's view, a shredded tenant counts as killed too: nothing
    /// may be acknowledged into a destroyed namespace.
    pub async fn killed(&self, repo: &Repository) -> Result<bool> {
        if matches!(
            repo.ensure_tenant_live().await,
            Err(Error::TenantShredded { .. })
        ) {
            return Ok(true);
        }
        for key in [
            format!("{KILLED}{}", self.lease.id),
            format!("{}{END}", self.lease.key()),
        ] {
            match repo.backend().stat(&key).await {
                Ok(_) => return Ok(true),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(false)
    }

    /// Fails with [`Error::SessionExpired`] if a pruner declared this
    /// session dead. Called after uploads and before making them count
    /// (writing the index object that names new packs, deleting the index
    /// objects a consolidated one replaces): a pruner that declared this
    /// session dead may delete the stray shards of a put that was still in
    /// flight (see the `prune` module docs), and a put that returns after
    /// that must not be relied on.
    pub async fn ensure_alive(&self, repo: &Repository) -> Result<()> {
        repo.ensure_tenant_live().await?;
        if self.stored && self.killed(repo).await? {
            return Err(Error::SessionExpired {
                session: self.lease.id.clone(),
            });
        }
        Ok(())
    }

    /// Removes the lease (or, on an append-only store, writes its end marker).
    pub async fn end(self, repo: &Repository) -> Result<()> {
        if !self.stored {
            return Ok(());
        }
        if !self.append.load(Ordering::SeqCst) {
            match delete_quiet(repo, &self.lease.key()).await {
                Err(e) if refused(&e) => {}
                r => return r,
            }
        }
        let key = format!("{}{END}", self.lease.key());
        match write_at(repo, SESSION_MAGIC, &key, &self.lease, PutMode::CreateOnly).await {
            Err(Error::Backend(e)) if e.is_already_exists() => Ok(()),
            r => r,
        }
    }
}

impl Lease {
    pub fn key(&self) -> String {
        format!("{SESSIONS}{}", self.id)
    }
}

/// Live sessions (lease present, not killed) with their counters.
pub async fn live_sessions(repo: &Repository) -> Result<std::collections::BTreeMap<String, u64>> {
    let killed: HashSet<String> = list_names(repo, KILLED)
        .await?
        .into_iter()
        .map(|k| k.trim_start_matches(KILLED).to_owned())
        .collect();
    let mut out = std::collections::BTreeMap::new();
    for (id, objects) in session_objects(repo).await? {
        if killed.contains(&id) || objects.ended {
            continue;
        }
        let Some(key) = objects.lease else {
            // Only refresh objects (the lease itself unreadable or gone
            // meanwhile): still a writer, at its highest refresh.
            if let Some(n) = objects.refreshed {
                out.insert(id, n);
            }
            continue;
        };
        match read_doc::<Lease>(repo, SESSION_MAGIC, &key).await {
            Ok(l) => {
                out.insert(id, l.counter.max(objects.refreshed.unwrap_or(0)));
            }
            Err(Error::Backend(e)) if e.is_not_found() => {} // ended meanwhile
            // An unreadable lease still counts as a writer (counter 0): it
            // is waited for until declared stale like any other.
            Err(_) => {
                out.insert(id, objects.refreshed.unwrap_or(0));
            }
        }
    }
    Ok(out)
}

/// The objects of one session under `sessions/`.
#[derive(Default)]
struct SessionObjects {
    lease: Option<String>,
    refreshed: Option<u64>,
    ended: bool,
    all: Vec<String>,
}

async fn session_objects(repo: &Repository) -> Result<BTreeMap<String, SessionObjects>> {
    let mut out: BTreeMap<String, SessionObjects> = BTreeMap::new();
    for key in list_names(repo, SESSIONS).await? {
        let name = key.trim_start_matches(SESSIONS);
        let (id, rest) = name.split_once('.').unwrap_or((name, ""));
        let o = out.entry(id.to_owned()).or_default();
        if rest.is_empty() {
            o.lease = Some(key.clone());
        } else if format!(".{rest}") == END {
            o.ended = true;
        } else if let Some(n) = rest.strip_prefix('r').and_then(|n| n.parse::<u64>().ok()) {
            o.refreshed = o.refreshed.max(Some(n));
        }
        o.all.push(key);
    }
    Ok(out)
}

/// Deletes the objects of sessions that ended on an append-only store
/// (their end marker last, so a crash leaves them still marked ended).
/// Returns how many objects went. Stops quietly if this store refuses
/// deletes too.
pub async fn clean_ended(repo: &Repository) -> Result<usize> {
    let mut removed = 0;
    for (id, mut objects) in session_objects(repo).await? {
        if !objects.ended {
            continue;
        }
        let end = format!("{SESSIONS}{id}{END}");
        objects.all.retain(|k| *k != end);
        objects.all.push(end);
        for key in objects.all {
            match delete_quiet(repo, &key).await {
                Err(e) if refused(&e) => return Ok(removed),
                r => r?,
            }
            removed += 1;
        }
    }
    Ok(removed)
}

/// An index of every index object, leaving out the entries of `exclude`
/// (condemned packs: a writer must not dedup against them). Undecodable
/// index objects are skipped: a blob they describe is simply uploaded again.
pub async fn index_excluding(repo: &Repository, exclude: &HashSet<PackId>) -> Result<Index> {
    // An object consolidated (deleted) while we read: list again, the
    // consolidated one was written before it went.
    let mut attempts = 0;
    loop {
        match load_excluding(repo, exclude).await {
            Err(Error::Backend(e)) if e.is_not_found() && attempts < 8 => attempts += 1,
            r => return r,
        }
    }
}

async fn load_excluding(repo: &Repository, exclude: &HashSet<PackId>) -> Result<Index> {
    use futures::stream::{StreamExt, TryStreamExt};
    let mut loaded: Vec<(PackId, Vec<PackEntry>)> = Vec::new();
    // Fetched several at a time, in listing order: one after another, every
    // backup waited one round trip per index object (issue 23; counted in
    // the facade's `tests/fixed_costs.rs`). Through the metadata cache or
    // beside `data/`, the order of requests depended on thread timing and
    // `recovery tests/interleave.rs` no longer replayed a seed (2026-12-08).
    let names = list_names(repo, "index/").await?;
    let mut fetched = futures::stream::iter(&names)
        .map(|name| async move { Ok::<_, Error>((name, get_listed(repo, "index/", name).await?)) })
        .buffered(crate::repo::LOAD_CONCURRENCY);
    while let Some((name, bytes)) = fetched.try_next().await? {
        if let Ok(packs) = decode_index(&repo.keys(), name, &bytes) {
            loaded.extend(packs.into_iter().filter(|(p, _)| !exclude.contains(p)));
        }
    }
    // Only packs known to exist. An index object proves nothing about its
    // packs: one replayed after a prune names packs long deleted, and a
    // backup deduplicating against them would acknowledge a snapshot that
    // cannot be restored. Listed after the index was read: a pack is stored
    // before its index object, so any pack of an index just read is listed
    // unless it is gone (one listing, not a round trip per pack or blob).
    let stored = super::replay::stored_packs(repo).await?;
    loaded.retain(|(p, _)| stored.contains(p));
    let mut index = Index::with_capacity(loaded.iter().map(|(_, e)| e.len()).sum());
    for (pack, entries) in &loaded {
        index.add_pack(*pack, entries);
    }
    index.compact();
    Ok(index)
}

/// What a backup knows from its start: its lease, the packs condemned then,
/// and the index it deduplicates against (without those packs).
#[doc(hidden)]
pub struct WriterStart {
    pub session: Session,
    pub condemned: HashSet<PackId>,
    pub dedup: Arc<RwLock<Index>>,
}

/// Start of a backup: the lease first, then the condemned set, then the
/// dedup index without condemned packs. The order is the protocol: a prune
/// that lists sessions after condemning sees this one, or this one sees its
/// condemned record; and an index loaded before the lease might name packs
/// deleted before it. (Reads, such as the parent snapshot's trees, go
/// through the repository's own index: condemned packs still exist.)
#[doc(hidden)]
pub async fn writer_start(repo: &Repository, dry_run: bool) -> Result<WriterStart> {
    let session = match dry_run {
        true => Session::unstored()?,
        false => Session::begin(repo).await?,
    };
    let started = async {
        let condemned = condemned_packs(repo).await?;
        let dedup = index_excluding(repo, &condemned).await?;
        Ok::<_, Error>((condemned, dedup))
    }
    .await;
    match started {
        Ok((condemned, dedup)) => Ok(WriterStart {
            session,
            condemned,
            dedup: Arc::new(RwLock::new(dedup)),
        }),
        Err(e) => {
            let _ = session.end(repo).await;
            Err(e)
        }
    }
}

/// Commit-time re-validation: packs condemned since the backup started may
/// hold blobs the new snapshot references (deduplicated before the
/// condemnation). Those blobs are read back and stored again in new packs,
/// so the snapshot references nothing condemned. Returns how many blobs were
/// stored again.
#[doc(hidden)]
pub async fn revalidate(
    repo: &Repository,
    session: &Session,
    root: ChunkId,
    known: &HashSet<PackId>,
) -> Result<usize> {
    let condemned = condemned_packs(repo).await?;
    if condemned.is_subset(known) {
        return Ok(0);
    }
    // Read through every pack but those condemned before the start: those
    // may be deleted at any moment (their prunes do not wait for us), and
    // this backup never deduplicated against them, so every blob it
    // references is elsewhere.
    *repo.index_mut() = index_excluding(repo, known).await?;
    // Where a blob can stay: packs condemned by nobody.
    let live = index_excluding(repo, &condemned).await?;
    let mut needed: Vec<(PackId, PackEntry)> = Vec::new();
    let mut need = |id: &ChunkId| -> Result<()> {
        if live.contains(id) {
            return Ok(());
        }
        let loc = repo.index().get(id).ok_or(Error::MissingBlob { id: *id })?;
        needed.push((loc.pack, loc.entry));
        Ok(())
    };
    let mut seen: HashSet<ChunkId> = HashSet::new();
    let mut stack = vec![root];
    while let Some(tree_id) = stack.pop() {
        if !seen.insert(tree_id) {
            continue;
        }
        need(&tree_id)?;
        for node in repo.load_tree(&tree_id).await?.nodes {
            match node.kind {
                NodeKind::Dir { subtree } => stack.push(subtree),
                NodeKind::File { chunks } => {
                    for c in chunks {
                        if seen.insert(c) {
                            need(&c)?;
                        }
                    }
                }
                NodeKind::Symlink { .. } => {}
            }
        }
    }
    let stored = needed.len();
    let new_packs = copy_blobs(repo, &needed).await?;
    if !new_packs.is_empty() {
        session.ensure_alive(repo).await?;
        repo.write_index(&new_packs).await?;
    }
    // From now on this process reads only packs condemned by nobody (the
    // copies just written included).
    *repo.index_mut() = index_excluding(repo, &condemned).await?;
    Ok(stored)
}

pub async fn upload(repo: &Repository, b: PackBuilder) -> Result<(PackId, Vec<PackEntry>)> {
    let pack = b.finish(&repo.keys())?;
    put_idempotent(&**repo.backend(), &pack.id.key(), pack.bytes).await?;
    Ok((pack.id, pack.entries))
}
