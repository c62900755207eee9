//! The driver: the part of a backup that runs on the caller's executor. It
//! starts the threads, uploads what they produce, answers their requests for
//! parent trees, and writes index objects as packs land.

use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use cairn_crypto::ChunkId;
use futures::channel::{mpsc, oneshot};
use futures::future::BoxFuture;
use futures::io::{AsyncRead, AsyncReadExt};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, SinkExt, StreamExt};

use super::walker::{WalkOutput, Walker};
use super::workers::{self, Shared, ToDriver};
use super::{BackupOptions, BackupProgress, Source};
use crate::pack::{FinishedPack, PackEntry, PackId};
use crate::repo::put_idempotent;
use crate::{Error, Repository, Result};

/// Feeds an `AsyncRead` to the walker thread's blocking `Read`.
pub(crate) type Pump<'a> = BoxFuture<'a, Result<()>>;

/// The blocking end of a [`pipe`].
pub(crate) struct PipeReader {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match futures::executor::block_on(self.rx.next()) {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// A pipe from `reader` (read by the returned future, on the caller's
/// executor) to a blocking reader for the walker thread.
pub(crate) fn pipe<'a, R: AsyncRead + Unpin + Send + 'a>(mut reader: R) -> (PipeReader, Pump<'a>) {
    let (mut tx, rx) = mpsc::channel(4);
    let pump = async move {
        loop {
            let mut buf = BytesMut::zeroed(1 << 20);
            let n = match reader.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return Ok(());
                }
            };
            if n == 0 {
                return Ok(());
            }
            buf.truncate(n);
            if tx.send(Ok(buf.freeze())).await.is_err() {
                return Ok(()); // the walker stopped; its error is reported there
            }
        }
    }
    .boxed();
    (
        PipeReader {
            rx,
            current: Bytes::new(),
        },
        pump,
    )
}

enum Event {
    Uploaded(PackId, Vec<PackEntry>, u64),
    /// A dry run's pack of this many bytes, counted and dropped.
    Counted(u64),
    Answered,
}

/// Runs the walker and workers; returns when every pack is stored and indexed.
pub(crate) async fn drive(
    repo: &Repository,
    source: Source,
    parent: Option<ChunkId>,
    opts: &BackupOptions,
    progress: Arc<dyn BackupProgress>,
    pump: Option<Pump<'_>>,
    start: &crate::prune::WriterStart,
) -> Result<WalkOutput> {
    let session = &start.session;
    // A long-lived handle picks up a rotation made elsewhere (a removed
    // key's holder must not read what this backup writes).
    let keys = repo.refresh_keys().await?;
    let shared = Arc::new(Shared::new(
        keys,
        repo.compression(),
        repo.config().pack_size as usize,
    ));
    let (to_driver, rx) = mpsc::channel::<ToDriver>(1);
    let (jobs, handles) = workers::start(&shared, opts.worker_count(), &to_driver)?;
    let walker = Walker {
        shared: shared.clone(),
        // Dedup only against packs not condemned when the backup started.
        index: start.dedup.clone(),
        chunker: repo.chunker(),
        jobs,
        to_driver: to_driver.clone(),
        progress,
        seen: Default::default(),
        summary: Default::default(),
        warnings: Vec::new(),
        filter: opts.filter.clone(),
        fs_dev: None,
        cancel: opts.cancel.clone(),
    };
    let (done_tx, done_rx) = oneshot::channel();
    let thread_shared = shared.clone();
    let mut flush_tx = to_driver;
    std::thread::Builder::new()
        .name("cairn-walk".into())
        // Deep directory trees recurse; give them room.
        .stack_size(64 << 20)
        .spawn(move || {
            let walked = walker.run(source, parent);
            if walked.is_err() {
                thread_shared.abort.store(true, Ordering::SeqCst);
            }
            // The walker's job sender is gone: workers drain the queue and stop.
            for h in handles {
                let _ = h.join();
            }
            let result = match (walked, thread_shared.take_error()) {
                (_, Some(e)) | (Err(e), None) => Err(e),
                (Ok(out), None) => thread_shared.flush(&mut flush_tx).map(|()| out),
            };
            drop(flush_tx);
            let _ = done_tx.send(result);
        })
        .map_err(|e| Error::Internal {
            what: format!("starting the walker thread: {e}"),
        })?;

    let uploads = async {
        let r = upload_loop(repo, rx, opts, session).await;
        if r.is_err() {
            shared.abort.store(true, Ordering::SeqCst);
        }
        r
    };
    let (pumped, uploaded) = match pump {
        Some(p) => futures::future::join(p, uploads).await,
        None => (Ok(()), uploads.await),
    };
    let (new_packs, stored_bytes) = uploaded?;
    pumped?;
    let mut out = done_rx.await.map_err(|_| Error::Internal {
        what: "the walker thread died".into(),
    })??;
    out.summary.packs_added = new_packs as u64;
    out.summary.bytes_added_stored = stored_bytes;
    out.summary.blobs_added = shared.blobs_added.load(Ordering::Relaxed);
    out.summary.bytes_added_raw = shared.bytes_added_raw.load(Ordering::Relaxed);
    Ok(out)
}

/// Uploads packs as they come, writing an index object every
/// `opts.index_every` packs, and a last one for the rest — also when the
/// backup fails, so the next backup reuses what was stored.
async fn upload_loop(
    repo: &Repository,
    mut rx: mpsc::Receiver<ToDriver>,
    opts: &BackupOptions,
    session: &crate::prune::Session,
) -> Result<(usize, u64)> {
    let max_uploads = opts.uploads.max(1);
    let mut tasks: FuturesUnordered<BoxFuture<'_, Result<Event>>> = FuturesUnordered::new();
    let mut unindexed: Vec<(PackId, Vec<PackEntry>)> = Vec::new();
    let mut packs = 0usize;
    let mut stored = 0u64;
    let mut result: Result<()> = Ok(());

    let mut on_event = |ev: Result<Event>, unindexed: &mut Vec<(PackId, Vec<PackEntry>)>| match ev {
        Ok(Event::Uploaded(id, entries, len)) => {
            packs += 1;
            stored += len;
            unindexed.push((id, entries));
            Ok(())
        }
        Ok(Event::Counted(len)) => {
            packs += 1;
            stored += len;
            Ok(())
        }
        Ok(Event::Answered) => Ok(()),
        Err(e) => Err(e),
    };

    // Cancelled: no new upload starts; those in flight finish and are
    // indexed below, the packs still queued are dropped (re-read next time).
    let mut cancelled = opts.cancel.cancelled().fuse();
    'outer: loop {
        let ev = futures::select! {
            () = cancelled => {
                result = Err(Error::Cancelled);
                break 'outer;
            }
            msg = rx.next() => match msg {
                // A new pack goes through the bound below: without it every
                // pack the walker finishes would be in flight (and in memory)
                // at once when the backend is slower than the walker.
                Some(ToDriver::Pack(p)) if opts.dry_run => {
                    let len = p.bytes.len() as u64;
                    tasks.push(async move { Ok(Event::Counted(len)) }.boxed());
                    None
                }
                Some(ToDriver::Pack(p)) => {
                    tasks.push(upload(repo, p).boxed());
                    None
                }
                Some(ToDriver::LoadTree(id, reply)) => {
                    tasks.push(async move {
                        let _ = reply.send(repo.load_tree(&id).await);
                        Ok(Event::Answered)
                    }.boxed());
                    continue;
                }
                None => break 'outer,
            },
            ev = tasks.select_next_some() => Some(ev),
        };
        if let Some(Err(e)) = ev.map(|ev| on_event(ev, &mut unindexed)) {
            result = Err(e);
            break;
        }
        // Keep the number of packs in flight bounded.
        while tasks.len() >= max_uploads {
            let Some(ev) = tasks.next().await else { break };
            if let Err(e) = on_event(ev, &mut unindexed) {
                result = Err(e);
                break 'outer;
            }
        }
        if unindexed.len() >= opts.index_every.max(1) {
            if let Err(e) = flush_index(repo, &mut unindexed, session).await {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_err() {
        drop(rx); // unblocks and stops the threads
    }
    while let Some(ev) = tasks.next().await {
        if let Err(e) = on_event(ev, &mut unindexed) {
            result = result.and(Err(e));
        }
    }
    flush_index(repo, &mut unindexed, session).await?;
    result.map(|()| (packs, stored))
}

async fn upload(repo: &Repository, pack: FinishedPack) -> Result<Event> {
    let len = pack.bytes.len() as u64;
    put_idempotent(&**repo.backend(), &pack.id.key(), pack.bytes).await?;
    Ok(Event::Uploaded(pack.id, pack.entries, len))
}

/// Writes an index object for the uploaded packs, then adds them to the
/// in-memory index (only now may later backups rely on them).
async fn flush_index(
    repo: &Repository,
    unindexed: &mut Vec<(PackId, Vec<PackEntry>)>,
    session: &crate::prune::Session,
) -> Result<()> {
    if unindexed.is_empty() {
        return Ok(());
    }
    // A put that was in flight when a pruner declared this session dead
    // may have lost shards it wrote (stray removal): index nothing then.
    session.ensure_alive(repo).await?;
    repo.write_index(unindexed).await?;
    // Stored and indexed: the in-memory index learns it now, whatever
    // happens next (later backups load their dedup index from storage, and
    // a handle whose own index lagged would then fail to read what they
    // reference — found by the stateful fuzz target).
    {
        let mut index = repo.index_mut();
        for (id, entries) in unindexed.drain(..) {
            index.add_pack(id, &entries);
        }
    }
    // Proof of life for pruners (see the `prune` module): a lease whose
    // counter moves is never declared dead.
    session.refresh(repo).await
}
