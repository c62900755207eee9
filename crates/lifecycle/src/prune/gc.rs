//! Prune: scan, plan, then execute (repack, condemn, and delete what the
//! protocol allows). See the module docs of `prune` for the protocol.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cairn_backends::PartialObjects;
use cairn_crypto::ChunkId;
use serde::Serialize;

use super::phase2;
use super::records::{
    get_listed, list_names, load_condemned, pack_of_key, write_hashed, Condemned, CONDEMNED,
    CONDEMNED_MAGIC,
};
use super::repack::copy_blobs;
use super::session::Session;
use super::strays;
use crate::index::{decode_index, Index};
use crate::pack::{PackEntry, PackId};
use crate::tree::NodeKind;
use crate::{Error, Repository, Result, SnapshotId};

/// Settings of a prune.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// Unused bytes allowed to stay in partly used packs, in percent of the
    /// used bytes (restic's `--max-unused`, default 5).
    pub max_unused_percent: f64,
    /// Bound on the bytes of packs repacked in one run.
    pub max_repack_bytes: u64,
    /// Minimum time, by the pruner's clock, between condemning a pack and
    /// deleting it. An extra defence only: 0 is safe.
    pub grace: Duration,
    /// Earlier prune runs that must have seen a session's counter unchanged
    /// before it is declared dead (at least 1).
    pub stale_runs: u32,
    /// Also required before a session is declared dead: this long, by the
    /// pruner's clock, since a run first saw its counter at that value.
    /// Safety never depends on it (a writer declared dead fails at commit);
    /// it keeps a tight prune loop from failing backups that are merely
    /// reading for a while. Default 1 hour; crash tests use 0.
    pub stale_after: Duration,
    /// The store's view of pieces that form no object (an erasure layout's
    /// stray shards): with it, a prune also condemns and removes those
    /// under `data/` and `index/` (see the module docs). Without it, stray
    /// pieces stay (they are invisible to everything else).
    pub partial: Option<Arc<dyn PartialObjects>>,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            max_unused_percent: 5.0,
            max_repack_bytes: u64::MAX,
            grace: Duration::ZERO,
            stale_runs: 2,
            stale_after: Duration::from_secs(3600),
            partial: None,
        }
    }
}

impl PruneOptions {
    /// Sets `max_unused_percent`.
    pub fn max_unused_percent(mut self, p: f64) -> Self {
        self.max_unused_percent = p;
        self
    }
    /// Sets `max_repack_bytes`.
    pub fn max_repack_bytes(mut self, b: u64) -> Self {
        self.max_repack_bytes = b;
        self
    }
    /// Sets `grace`.
    pub fn grace(mut self, g: Duration) -> Self {
        self.grace = g;
        self
    }
    /// Sets `stale_after`.
    pub fn stale_after(mut self, d: Duration) -> Self {
        self.stale_after = d;
        self
    }
    /// Sets `partial`: the store's stray pieces (for an erasure layout, the
    /// `ErasureBackend` itself) are condemned and removed too.
    pub fn partial_objects(mut self, p: Arc<dyn PartialObjects>) -> Self {
        self.partial = Some(p);
        self
    }
    /// Sets `stale_runs`.
    pub fn stale_runs(mut self, n: u32) -> Self {
        self.stale_runs = n.max(1);
        self
    }
}

/// A condemned record waiting for deletion.
#[derive(Debug, Clone, Serialize)]
pub struct PendingRecord {
    /// Its object name.
    pub name: String,
    /// Packs it condemns.
    pub packs: usize,
    /// Live sessions that it still waits for (when the plan was made).
    pub waiting_for: Vec<String>,
}

/// What a prune would do: an inspectable value (`--dry-run` prints it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrunePlan {
    /// Snapshots whose trees were walked.
    pub snapshots: usize,
    /// Packs stored, and their bytes.
    pub packs: usize,
    /// Bytes of all packs.
    pub bytes_total: u64,
    /// Bytes of referenced blobs.
    pub bytes_used: u64,
    /// Packs to condemn because nothing references them.
    pub packs_to_delete: Vec<PackId>,
    /// Their bytes.
    pub bytes_to_delete: u64,
    /// Partly used packs to repack (hex ids), including every used pack
    /// sealed under an old key epoch.
    pub packs_to_repack: Vec<PackId>,
    /// Of those, the packs repacked because they are sealed under a key
    /// epoch older than the current one: their blobs are re-encrypted.
    pub packs_to_reencrypt: Vec<PackId>,
    /// Bytes of blobs read from them.
    pub bytes_to_download: u64,
    /// Bytes written into new packs (about the same).
    pub bytes_to_upload: u64,
    /// Bytes freed once the condemned packs are deleted.
    pub bytes_freed: u64,
    /// Index objects now (a prune consolidates them).
    pub index_objects: usize,
    /// Records condemned by earlier runs.
    pub pending: Vec<PendingRecord>,
    /// Keys whose stored pieces form no object (stray erasure shards), to
    /// condemn; empty without [`PruneOptions::partial`].
    pub strays: Vec<String>,
    /// Why strays were not looked for, when they could not be (a child's
    /// listing failed: a partial listing cannot prove a key is stray).
    pub strays_unlisted: Option<String>,
    /// Snapshot records still stored under a valid admin tombstone (their
    /// data is not referenced; the prune deletes the records).
    pub tombstoned_records: Vec<SnapshotId>,
    /// Tombstones ignored because no valid admin signature is on them: the
    /// snapshots they name are kept (a backup host cannot forget).
    pub ignored_tombstones: Vec<String>,
    #[serde(skip)]
    pub(crate) repack_blobs: Vec<(PackId, PackEntry)>,
    #[serde(skip)]
    pub(crate) condemn: Vec<PackId>,
}

/// What a prune did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    /// The plan executed.
    pub plan: PrunePlan,
    /// The condemned record written by this run, if any.
    pub condemned: Option<String>,
    /// Packs deleted (by this run, from any record whose wait was over).
    pub packs_deleted: usize,
    /// Their bytes.
    pub bytes_deleted: u64,
    /// Condemned packs found referenced again, and kept.
    pub packs_kept: usize,
    /// Index objects written / deleted by the consolidation.
    pub index_written: usize,
    /// Index objects deleted.
    pub index_deleted: usize,
    /// Records still waiting for sessions (deleted by a later run).
    pub still_pending: usize,
    /// Sessions declared dead.
    pub sessions_killed: Vec<String>,
    /// Stray keys whose pieces were removed, and how many pieces.
    pub strays_deleted: usize,
    /// Pieces (shards) removed with them.
    pub stray_pieces_deleted: usize,
    /// Stray keys of finished records kept: whole objects by now (a write
    /// that was in flight), or not provable (a listing failed).
    pub strays_kept: usize,
    /// Stray keys whose removal failed (a later prune finds them again).
    pub stray_errors: Vec<super::strays::StrayError>,
    /// Kill markers removed (their sessions ended).
    pub kill_markers_removed: usize,
    /// The journal entry recording this prune.
    pub journal_entry: Option<String>,
    /// Snapshot records deleted because a valid tombstone names them.
    pub records_deleted: usize,
    /// Objects of ended append-only sessions removed (see `Session`).
    pub leases_cleaned: usize,
    /// What was reclaimed from shredded tenants (the whole repository's
    /// prune only; see [`crate::tenant`]).
    pub shredded: crate::tenant::ReclaimReport,
}

/// The packs (and their entries) one index object describes.
pub(crate) type IndexObject = Vec<(PackId, Vec<PackEntry>)>;

/// A complete view of the repository, read in the order the protocol
/// needs: condemned records, then packs, then index, then snapshots.
pub(crate) struct Scan {
    pub(crate) condemned: Vec<(String, Condemned)>,
    pub(crate) listed: HashMap<PackId, u64>,
    pub(crate) index_objects: Vec<(String, IndexObject)>,
    pub(crate) entries: HashMap<PackId, Vec<PackEntry>>,
    pub(crate) holders: HashMap<ChunkId, Vec<PackId>>,
    pub(crate) referenced: HashSet<ChunkId>,
    pub(crate) snapshots: usize,
    /// Some index object is sealed under an old key epoch: consolidate.
    pub(crate) old_index: bool,
}

pub(crate) async fn scan(repo: &Repository) -> Result<Scan> {
    // An index object consolidated or a snapshot forgotten by someone else
    // while we read: start over (bounded), never plan on a partial view.
    // Likewise a tree missing from the index just read: a backup stored its
    // index object after our index listing and its snapshot record before
    // our snapshot listing (data, then index, then snapshot); the next
    // listing of the index has it. A blob that stays missing is damage and
    // fails the plan after the last attempt.
    let mut attempts = 0;
    loop {
        match scan_once(repo).await {
            Err(Error::Backend(e)) if e.is_not_found() && attempts < 8 => attempts += 1,
            Err(Error::MissingBlob { .. }) if attempts < 8 => attempts += 1,
            r => return r,
        }
    }
}

async fn scan_once(repo: &Repository) -> Result<Scan> {
    let condemned = load_condemned(repo).await?;
    let mut listed = HashMap::new();
    {
        use futures::TryStreamExt;
        let mut stream = repo.backend().list("data/");
        while let Some(m) = stream.try_next().await? {
            if let Some(p) = pack_of_key(&m.key) {
                listed.insert(p, m.size);
            }
        }
    }
    let mut index_objects = Vec::new();
    let mut old_index = false;
    let current = repo.keys().epoch();
    for name in list_names(repo, "index/").await? {
        let bytes = get_listed(repo, "index/", &name).await?;
        old_index |= super::retire::is_old(&bytes, current);
        let packs = decode_index(&repo.keys(), &name, &bytes)?;
        index_objects.push((name, packs));
    }
    let mut entries: HashMap<PackId, Vec<PackEntry>> = HashMap::new();
    let mut holders: HashMap<ChunkId, Vec<PackId>> = HashMap::new();
    let mut index = Index::default();
    for (_, packs) in &index_objects {
        for (p, es) in packs {
            if entries.contains_key(p) {
                continue;
            }
            // A pack indexed but not listed may be one a backup stored after
            // the listing: its entries are kept (consolidation must not drop
            // them), but it is no proof that a blob is available.
            if listed.contains_key(p) {
                for e in es {
                    holders.entry(e.id).or_default().push(*p);
                }
            }
            index.add_pack(*p, es);
            entries.insert(*p, es.clone());
        }
    }
    index.compact();
    // Entries of packs that no listing shows, even one made after their
    // index object was read, name packs that are gone (a replayed index
    // object, see the `replay` module): the consolidated index drops them.
    let stored = cairn_cas_core::prune::replay::stored_packs(repo).await?;
    entries.retain(|p, _| listed.contains_key(p) || stored.contains(p));
    // Trees are read through the repository's index: every present pack.
    *repo.index_mut() = index;
    let snapshots = repo.snapshots().await?;
    let mut roots: Vec<ChunkId> = snapshots.iter().map(|(_, s)| s.tree.chunk_id()).collect();
    // A held snapshot keeps its data even if a tombstone hides it.
    roots.extend(held_hidden_roots(repo, &snapshots).await?);
    let mut referenced = HashSet::new();
    for root in roots {
        let mut stack = vec![root];
        while let Some(t) = stack.pop() {
            if !referenced.insert(t) {
                continue;
            }
            for node in repo.load_tree(&t).await?.nodes {
                match node.kind {
                    NodeKind::Dir { subtree } => stack.push(subtree),
                    NodeKind::File { chunks } => referenced.extend(chunks),
                    NodeKind::Symlink { .. } => {}
                }
            }
        }
    }
    Ok(Scan {
        condemned,
        listed,
        index_objects,
        entries,
        holders,
        referenced,
        snapshots: snapshots.len(),
        old_index,
    })
}

/// The root trees of snapshots under an active hold whose record is
/// stored but hidden by a tombstone (a forget that raced the hold, or one
/// by an older version): prune keeps their data and their records.
async fn held_hidden_roots(
    repo: &Repository,
    live: &[(crate::SnapshotId, crate::Snapshot)],
) -> Result<Vec<ChunkId>> {
    let mut roots = Vec::new();
    for id in crate::hold::active_holds(repo).await?.into_keys() {
        if live.iter().any(|(l, _)| *l == id) {
            continue;
        }
        match repo.load_snapshot(&id).await {
            Ok(s) => roots.push(s.tree.chunk_id()),
            Err(Error::Backend(e)) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(roots)
}

impl Scan {
    pub(crate) fn condemned_set(&self) -> Result<HashSet<PackId>> {
        let mut set = HashSet::new();
        for (k, c) in &self.condemned {
            set.extend(c.pack_ids(k)?);
        }
        Ok(set)
    }
}

/// Scans the repository and decides what to condemn and repack (nothing is
/// written).
pub async fn prune_plan(repo: &Repository, opts: &PruneOptions) -> Result<PrunePlan> {
    repo.require_admin("prune")?;
    // Another handle may have rotated the key epoch: plan (and re-encrypt)
    // against the newest one.
    repo.refresh_keys().await?;
    let tombstones = repo.tombstones().await?;
    let scan = scan(repo).await?;
    let condemned = scan.condemned_set()?;
    let mut plan = PrunePlan {
        snapshots: scan.snapshots,
        packs: scan.listed.len(),
        bytes_total: scan.listed.values().sum(),
        index_objects: scan.index_objects.len(),
        ignored_tombstones: tombstones.ignored,
        ..PrunePlan::default()
    };
    let mut stored = std::collections::BTreeSet::new();
    let held = crate::hold::active_holds(repo).await?;
    for id in tombstones.valid.iter().filter(|id| !held.contains_key(*id)) {
        match repo.backend().stat(&crate::snapshot_key(id)).await {
            Ok(_) => {
                stored.insert(*id);
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    plan.tombstoned_records = stored.into_iter().collect();
    // Each referenced blob is "used" in one holder: the smallest pack id
    // among present, uncondemned packs. Other copies are unused.
    let mut chosen: HashMap<ChunkId, PackId> = HashMap::new();
    for id in &scan.referenced {
        let best = scan
            .holders
            .get(id)
            .and_then(|hs| hs.iter().filter(|p| !condemned.contains(p)).min().copied());
        match best {
            Some(p) => {
                chosen.insert(*id, p);
            }
            // Only in condemned packs: phase 2 un-condemns one of them.
            None if scan.holders.contains_key(id) => {}
            None => return Err(Error::MissingBlob { id: *id }),
        }
    }
    let old_epoch = super::retire::old_epoch_packs(repo, &scan.listed).await?;
    let mut retire: Vec<(PackId, u64, u64)> = Vec::new();
    let mut partly: Vec<(PackId, u64, u64)> = Vec::new(); // pack, used, unused
    let mut sorted: Vec<(&PackId, &u64)> = scan.listed.iter().collect();
    sorted.sort();
    for (p, size) in sorted {
        if condemned.contains(p) {
            continue;
        }
        // Blob bytes only: the header and trailer are not waste.
        let (mut used, mut waste) = (0u64, 0u64);
        for e in scan.entries.get(p).into_iter().flatten() {
            match chosen.get(&e.id) == Some(p) {
                true => used += u64::from(e.length),
                false => waste += u64::from(e.length),
            }
        }
        plan.bytes_used += used;
        if used == 0 {
            plan.condemn.push(*p);
            plan.bytes_to_delete += size;
        } else if old_epoch.contains(p) {
            retire.push((*p, used, waste));
        } else if waste > 0 {
            partly.push((*p, used, waste));
        }
    }
    let mut unused: u64 = partly.iter().map(|(_, _, u)| u).sum();
    let mut repacked = 0u64;
    // Packs under a retired key epoch go first, whatever their waste:
    // re-encrypting them is what makes a removed key stop mattering.
    for (p, used, waste) in retire {
        if repacked.saturating_add(used + waste) > opts.max_repack_bytes {
            continue;
        }
        repacked += used + waste;
        plan.packs_to_reencrypt.push(p);
        plan.add_repack(&scan, &chosen, p, used, waste);
    }
    let allowed = (plan.bytes_used as f64 * opts.max_unused_percent.max(0.0) / 100.0) as u64;
    // Most wasteful first: the fewest bytes moved per byte freed.
    partly.sort_by(|a, b| {
        (b.2 * a.1.max(1))
            .cmp(&(a.2 * b.1.max(1)))
            .then(a.0.cmp(&b.0))
    });
    for (p, used, waste) in partly {
        if unused <= allowed {
            break;
        }
        let size = used + waste;
        if repacked.saturating_add(size) > opts.max_repack_bytes {
            continue;
        }
        repacked += size;
        unused -= waste;
        plan.add_repack(&scan, &chosen, p, used, waste);
    }
    plan.bytes_freed += plan.bytes_to_delete;
    plan.packs_to_delete = plan
        .condemn
        .iter()
        .filter(|p| !plan.packs_to_repack.contains(p))
        .copied()
        .collect();
    plan.pending = phase2::pending(repo, &scan).await?;
    if let Some(partial) = &opts.partial {
        strays::plan(&**partial, &scan, &mut plan).await;
    }
    Ok(plan)
}

impl PrunePlan {
    /// Repacks pack `p`: its chosen blobs move, the pack is condemned.
    fn add_repack(
        &mut self,
        scan: &Scan,
        chosen: &HashMap<ChunkId, PackId>,
        p: PackId,
        used: u64,
        waste: u64,
    ) {
        self.packs_to_repack.push(p);
        self.condemn.push(p);
        self.bytes_to_download += used;
        self.bytes_to_upload += used;
        self.bytes_freed += waste;
        for e in scan.entries.get(&p).into_iter().flatten() {
            if chosen.get(&e.id) == Some(&p) {
                self.repack_blobs.push((p, *e));
            }
        }
    }
}

/// Executes `plan`: repacks, writes the condemned record and its first
/// observation, then deletes what the protocol allows (this run's record
/// too, when no other session is running). Holds a lease throughout.
pub async fn prune(repo: &Repository, opts: &PruneOptions, plan: PrunePlan) -> Result<PruneReport> {
    repo.require_admin("prune")?;
    repo.refresh_keys().await?;
    let session = Session::begin(repo).await?;
    let result = execute(repo, opts, plan, &session).await;
    let _ = session.end(repo).await;
    let mut report = result?;
    report.journal_entry = Some(
        crate::journal::record_after(
            repo,
            report.journal_op(),
            report.journal_added(),
            report.journal_removed(),
        )
        .await?,
    );
    Ok(report)
}

impl PruneReport {
    fn journal_op(&self) -> crate::journal::Operation {
        crate::journal::Operation::Prune {
            condemned: self.condemned.clone(),
            packs_condemned: self.plan.condemn.len() as u64,
            packs_deleted: self.packs_deleted as u64,
            bytes_deleted: self.bytes_deleted,
        }
    }
    fn journal_added(&self) -> BTreeMap<String, u64> {
        crate::journal::counts([
            ("condemned", u64::from(self.condemned.is_some())),
            ("index", self.index_written as u64),
        ])
    }
    fn journal_removed(&self) -> BTreeMap<String, u64> {
        crate::journal::counts([
            ("packs", self.packs_deleted as u64),
            ("index", self.index_deleted as u64),
            ("tenant_objects", self.shredded.objects_deleted),
        ])
    }
}

async fn execute(
    repo: &Repository,
    opts: &PruneOptions,
    plan: PrunePlan,
    session: &Session,
) -> Result<PruneReport> {
    let mut report = PruneReport::default();
    if !plan.repack_blobs.is_empty() {
        let packs = copy_blobs(repo, &plan.repack_blobs).await?;
        session.ensure_alive(repo).await?;
        repo.write_index(&packs).await?;
    }
    if !plan.condemn.is_empty() || !plan.strays.is_empty() {
        let record = Condemned {
            packs: plan.condemn.iter().map(PackId::to_hex).collect(),
            time: now_string(),
            by: session.id().to_owned(),
            strays: plan.strays.clone(),
        };
        report.condemned = Some(write_hashed(repo, CONDEMNED_MAGIC, CONDEMNED, &record).await?);
    }
    // Records of validly forgotten snapshots (a forget that crashed before
    // deleting, or a record stored again): already unreferenced, so they go.
    for id in &plan.tombstoned_records {
        super::records::delete_quiet(repo, &crate::snapshot_key(id)).await?;
        report.records_deleted += 1;
    }
    report.plan = plan;
    phase2::advance(repo, opts, session, &mut report).await?;
    report.leases_cleaned = super::session::clean_ended(repo).await?;
    if repo.tenant().is_none() {
        report.shredded = crate::tenant::reclaim_shredded(repo, opts.partial.as_deref()).await?;
    }
    Ok(report)
}

pub(crate) fn now_string() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Groups pack entries into index objects of at most this many packs, so
/// that open reads a handful of objects.
pub(crate) const PACKS_PER_INDEX: usize = 50_000;

pub(crate) fn chunked(
    packs: BTreeMap<PackId, Vec<PackEntry>>,
) -> Vec<Vec<(PackId, Vec<PackEntry>)>> {
    let all: Vec<_> = packs.into_iter().collect();
    all.chunks(PACKS_PER_INDEX).map(|c| c.to_vec()).collect()
}
