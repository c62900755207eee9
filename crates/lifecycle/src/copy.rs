//! Copying snapshots from one repository to another (restic's `copy`): how
//! a team keeps an isolated copy in another region, account or provider.
//!
//! The two repositories have different keys, so nothing is copied as
//! ciphertext: every blob is read from the source (verified: AEAD tag and
//! chunk id), given its id under the target's chunk-id key, deduplicated
//! against the target, and sealed under the target's keys. Trees are
//! rewritten bottom-up with the new ids; the snapshot record keeps its time,
//! host, paths, tags and summary, and names the source snapshot in
//! `original`.
//!
//! - **Same chunker parameters**: the source's chunks are the target's —
//!   content-defined chunking is deterministic — so blobs are transferred as
//!   they are, without re-chunking.
//! - **Different parameters**: each file's contents are re-chunked with the
//!   target's parameters as they stream through (a window of one maximum
//!   chunk: a cut taken once `max` bytes are buffered is final).
//! - **Incremental**: a source snapshot already copied (a target snapshot
//!   whose `original` names it) is skipped, and blobs the target holds are
//!   not sent again.
//!
//! Order and durability are a backup's: packs, then the index, then the
//! snapshot record. Memory: one pack of each kind being filled, a window of
//! one maximum chunk, and the ids added in this run (32 bytes each).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;

use cairn_chunking::ChunkerConfig;
use cairn_crypto::ChunkId;
use serde::Serialize;

use crate::blob::{seal_blob, BlobKind};
use crate::pack::{PackBuilder, PackEntry, PackId};
use crate::repo::put_idempotent;
use crate::tree::{NodeKind, Tree};
use crate::{Repository, Result, SnapshotId, SnapshotQuery};

/// What to copy.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// Source snapshots to copy (each query picks one); empty: every
    /// readable one.
    pub snapshots: Vec<SnapshotQuery>,
}

impl CopyOptions {
    /// Copies every readable snapshot.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a snapshot (an id, a prefix, or any query) to copy.
    pub fn snapshot(mut self, query: impl Into<SnapshotQuery>) -> Self {
        self.snapshots.push(query.into());
        self
    }
}

/// One snapshot copied.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopiedSnapshot {
    /// Its id in the source.
    pub source: SnapshotId,
    /// The new record's id in the target.
    pub target: SnapshotId,
}

/// What a copy did.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// Snapshots written to the target.
    pub copied: Vec<CopiedSnapshot>,
    /// Source snapshots the target already had a copy of.
    pub already_copied: Vec<SnapshotId>,
    /// Blobs sent (new to the target).
    pub blobs_sent: u64,
    /// Their bytes as stored in the target (compressed, sealed).
    pub bytes_sent: u64,
    /// Blobs the target already held.
    pub blobs_reused: u64,
    /// Packs written to the target.
    pub packs_written: u64,
    /// Whether contents were re-chunked (the chunker parameters differ).
    pub rechunked: bool,
}

/// Copies snapshots from `source` into `target` (see the module docs).
pub async fn copy(
    source: &Repository,
    target: &Repository,
    opts: &CopyOptions,
) -> Result<CopyReport> {
    let (readable, unreadable) = source.readable_snapshots().await?;
    let wanted: Vec<(SnapshotId, crate::Snapshot)> = if opts.snapshots.is_empty() {
        // A snapshot that cannot be read cannot be copied: say so.
        if let Some(e) = unreadable.into_iter().next() {
            return Err(e);
        }
        readable
    } else {
        let mut out = Vec::new();
        for q in &opts.snapshots {
            out.push(source.find_snapshot(q).await?);
        }
        out
    };
    let (have, _) = target.readable_snapshots().await?;
    let copied_before: HashSet<SnapshotId> =
        have.into_iter().filter_map(|(_, s)| s.original).collect();
    let rechunk = (source.chunker() != target.chunker()).then(|| target.chunker());
    // A writer of the target like a backup (the `prune` module's
    // protocol): a lease, dedup only against packs not condemned, and
    // re-validation before each record is written.
    let start = crate::prune::writer_start(target, false).await?;
    // The target's journal heads, named by every record copied (read once:
    // the copy's own entry is written after them all).
    let heads = match crate::journal::journal_heads(target).await {
        Ok(h) => h,
        Err(e) => {
            let _ = start.session.end(target).await;
            return Err(e);
        }
    };
    let result = copy_in_session(
        source,
        target,
        wanted,
        &copied_before,
        rechunk,
        &start,
        &heads,
    )
    .await;
    let _ = start.session.end(target).await;
    let report = result?;
    if !report.copied.is_empty() {
        use crate::journal::{counts, record_after, Operation, SnapshotPair};
        let op = Operation::Copy {
            from_repo: source.config().id.clone(),
            snapshots: report
                .copied
                .iter()
                .map(|c| SnapshotPair::new(&c.source, &c.target))
                .collect(),
        };
        let added = counts([
            ("snapshots", report.copied.len() as u64),
            ("packs", report.packs_written),
        ]);
        record_after(target, op, added, Default::default()).await?;
    }
    Ok(report)
}

async fn copy_in_session(
    source: &Repository,
    target: &Repository,
    wanted: Vec<(SnapshotId, crate::Snapshot)>,
    copied_before: &HashSet<SnapshotId>,
    rechunk: Option<ChunkerConfig>,
    start: &crate::prune::WriterStart,
    heads: &[String],
) -> Result<CopyReport> {
    let mut w = Writer::new(target, start);
    w.report.rechunked = rechunk.is_some();
    for (id, snap) in wanted {
        if copied_before.contains(&id) || w.report.copied.iter().any(|c| c.source == id) {
            w.report.already_copied.push(id);
            continue;
        }
        let root = copy_tree(source, &mut w, snap.tree.chunk_id(), rechunk).await?;
        // Data, then index, then the record: a crash leaves only garbage.
        w.finish().await?;
        start.session.refresh(target).await?;
        crate::prune::revalidate(target, &start.session, root, &start.condemned).await?;
        let mut record = snap.clone();
        record.tree = root.into();
        record.parent = None;
        record.original = Some(id);
        // The heads of the target's journal, not the source's.
        record.journal = heads.to_vec();
        let new_id = target.save_snapshot(&record).await?;
        if start.session.killed(target).await? {
            let _ = target.backend().delete(&crate::snapshot_key(&new_id)).await;
            return Err(crate::Error::SessionExpired {
                session: start.session.id().to_owned(),
            });
        }
        w.report.copied.push(CopiedSnapshot {
            source: id,
            target: new_id,
        });
    }
    Ok(w.report)
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Copies the tree `id` and everything below it; returns its id in the target.
fn copy_tree<'a>(
    source: &'a Repository,
    w: &'a mut Writer<'_>,
    id: ChunkId,
    rechunk: Option<ChunkerConfig>,
) -> Boxed<'a, ChunkId> {
    Box::pin(async move {
        let mut tree: Tree = source.load_tree(&id).await?;
        for node in &mut tree.nodes {
            match &mut node.kind {
                NodeKind::File { chunks } => {
                    *chunks = match rechunk {
                        None => copy_chunks(source, w, chunks).await?,
                        Some(cfg) => rechunk_file(source, w, chunks, cfg).await?,
                    };
                }
                NodeKind::Dir { subtree } => {
                    *subtree = copy_tree(source, w, *subtree, rechunk).await?;
                }
                _ => {}
            }
        }
        w.put(BlobKind::Tree, tree.encode()).await
    })
}

async fn copy_chunks(
    source: &Repository,
    w: &mut Writer<'_>,
    chunks: &[ChunkId],
) -> Result<Vec<ChunkId>> {
    let mut out = Vec::with_capacity(chunks.len());
    for id in chunks {
        let plain = source.read_blob(id).await?;
        out.push(w.put(BlobKind::Data, plain).await?);
    }
    Ok(out)
}

/// Streams a file's contents through the target's chunker.
async fn rechunk_file(
    source: &Repository,
    w: &mut Writer<'_>,
    chunks: &[ChunkId],
    cfg: ChunkerConfig,
) -> Result<Vec<ChunkId>> {
    let max = cfg.max_size() as usize;
    let mut out = Vec::new();
    let mut window: Vec<u8> = Vec::new();
    for id in chunks {
        window.extend_from_slice(&source.read_blob(id).await?);
        while window.len() >= max {
            let cut = cairn_chunking::cut_points(&cfg, &window)
                .next()
                .map_or(window.len(), |(_, len)| len);
            let piece: Vec<u8> = window.drain(..cut).collect();
            out.push(w.put(BlobKind::Data, piece).await?);
        }
    }
    let cuts: Vec<(usize, usize)> = cairn_chunking::cut_points(&cfg, &window).collect();
    for (off, len) in cuts {
        out.push(
            w.put(BlobKind::Data, window[off..off + len].to_vec())
                .await?,
        );
    }
    Ok(out)
}

/// Packs blobs for the target, uploading each pack when it is full.
struct Writer<'r> {
    target: &'r Repository,
    session: &'r crate::prune::Session,
    /// The target's index without condemned packs (dedup only).
    dedup: &'r std::sync::RwLock<crate::Index>,
    data: PackBuilder,
    trees: PackBuilder,
    unindexed: Vec<(PackId, Vec<PackEntry>)>,
    added: HashSet<ChunkId>,
    report: CopyReport,
}

impl<'r> Writer<'r> {
    fn new(target: &'r Repository, start: &'r crate::prune::WriterStart) -> Self {
        Writer {
            target,
            session: &start.session,
            dedup: &start.dedup,
            data: PackBuilder::default(),
            trees: PackBuilder::default(),
            unindexed: Vec::new(),
            added: HashSet::new(),
            report: CopyReport::default(),
        }
    }

    /// Adds `plain` as a blob unless the target has it; returns its id.
    async fn put(&mut self, kind: BlobKind, plain: Vec<u8>) -> Result<ChunkId> {
        let keys = self.target.keys().clone();
        let id = keys.chunk_id_key().id(&plain);
        let known = self
            .dedup
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&id);
        if self.added.contains(&id) || known {
            self.report.blobs_reused += 1;
            return Ok(id);
        }
        let compression = self.target.compression();
        let sealed = self
            .target
            .cpu()
            .spawn(move || seal_blob(&keys, kind, id, &plain, compression))
            .await??;
        self.added.insert(id);
        self.report.blobs_sent += 1;
        let builder = match kind {
            BlobKind::Tree => &mut self.trees,
            _ => &mut self.data,
        };
        builder.add(&sealed);
        if builder.len() as u64 >= self.target.config().pack_size {
            self.flush(kind).await?;
        }
        Ok(id)
    }

    async fn flush(&mut self, kind: BlobKind) -> Result<()> {
        let builder = match kind {
            BlobKind::Tree => &mut self.trees,
            _ => &mut self.data,
        };
        if builder.is_empty() {
            return Ok(());
        }
        let pack = std::mem::take(builder).finish(&self.target.keys())?;
        self.report.bytes_sent += pack.bytes.len() as u64;
        self.report.packs_written += 1;
        put_idempotent(&**self.target.backend(), &pack.id.key(), pack.bytes).await?;
        self.unindexed.push((pack.id, pack.entries));
        Ok(())
    }

    /// Uploads what is pending and indexes it (before any snapshot names it).
    async fn finish(&mut self) -> Result<()> {
        self.flush(BlobKind::Data).await?;
        self.flush(BlobKind::Tree).await?;
        if self.unindexed.is_empty() {
            return Ok(());
        }
        self.session.ensure_alive(self.target).await?;
        self.target.write_index(&self.unindexed).await?;
        let mut index = self.target.index_mut();
        let mut dedup = self.dedup.write().unwrap_or_else(|e| e.into_inner());
        for (id, entries) in self.unindexed.drain(..) {
            index.add_pack(id, &entries);
            dedup.add_pack(id, &entries);
        }
        Ok(())
    }
}
