//! Worker threads: compress and seal new blobs, fill packs, hand full packs
//! to the driver.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use cairn_crypto::{ChunkId, KeySet};
use futures::channel::{mpsc, oneshot};
use futures::SinkExt;

use crate::blob::{seal_blob, BlobKind, Compression};
use crate::pack::{FinishedPack, PackBuilder};
use crate::tree::Tree;
use crate::{Error, Result};

/// A new blob to store.
pub(crate) struct Job {
    pub(crate) kind: BlobKind,
    pub(crate) id: ChunkId,
    pub(crate) data: Bytes,
}

/// Jobs go to the workers in batches of up to this many...
const BATCH_JOBS: usize = 64;
/// ...or this many bytes of data. One message per small chunk cost the
/// walker and the workers a futex or a `sched_yield` spin per file on a
/// tree of small files (`strace -c`, 300 000 files: 885 000 `sched_yield`,
/// 279 000 `futex`; `perf`: ~9% of the samples in the channel and the
/// scheduler). A large chunk still travels alone.
const BATCH_BYTES: usize = 256 << 10;

/// The walker's end of the job queue: gathers jobs into batches.
pub(crate) struct JobQueue {
    tx: crossbeam_channel::Sender<Vec<Job>>,
    pending: Vec<Job>,
    bytes: usize,
}

impl JobQueue {
    /// Queues `job`; sends the batch when it is full. `Err` when the
    /// workers have stopped.
    pub(crate) fn push(&mut self, job: Job) -> std::result::Result<(), ()> {
        self.bytes += job.data.len();
        self.pending.push(job);
        if self.pending.len() >= BATCH_JOBS || self.bytes >= BATCH_BYTES {
            return self.flush();
        }
        Ok(())
    }

    /// Sends what is gathered (the walker calls it when done).
    pub(crate) fn flush(&mut self) -> std::result::Result<(), ()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.bytes = 0;
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH_JOBS));
        self.tx.send(batch).map_err(|_| ())
    }
}

/// Messages from the threads to the driver on the caller's executor.
pub(crate) enum ToDriver {
    /// Load a tree of the parent snapshot and answer.
    LoadTree(ChunkId, oneshot::Sender<Result<Tree>>),
    /// A full pack to upload.
    Pack(FinishedPack),
}

/// State shared by the walker and the workers.
pub(crate) struct Shared {
    pub(crate) keys: Arc<KeySet>,
    pub(crate) compression: Compression,
    pub(crate) pack_size: usize,
    // Data and trees go to separate packs: restores and listings then read
    // tree packs without pulling file contents along.
    packers: [Mutex<PackBuilder>; 2],
    pub(crate) abort: AtomicBool,
    error: Mutex<Option<Error>>,
    pub(crate) blobs_added: AtomicU64,
    pub(crate) bytes_added_raw: AtomicU64,
}

impl Shared {
    pub(crate) fn new(keys: Arc<KeySet>, compression: Compression, pack_size: usize) -> Self {
        Shared {
            keys,
            compression,
            pack_size,
            packers: Default::default(),
            abort: AtomicBool::new(false),
            error: Mutex::new(None),
            blobs_added: AtomicU64::new(0),
            bytes_added_raw: AtomicU64::new(0),
        }
    }

    /// Records the first fatal error and tells everyone to stop.
    pub(crate) fn fail(&self, e: Error) {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
        self.abort.store(true, Ordering::SeqCst);
    }

    pub(crate) fn aborted(&self) -> bool {
        self.abort.load(Ordering::SeqCst)
    }

    pub(crate) fn take_error(&self) -> Option<Error> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn store(&self, job: Job, to_driver: &mut mpsc::Sender<ToDriver>) -> Result<()> {
        let blob = seal_blob(&self.keys, job.kind, job.id, &job.data, self.compression)?;
        self.blobs_added.fetch_add(1, Ordering::Relaxed);
        self.bytes_added_raw
            .fetch_add(job.data.len() as u64, Ordering::Relaxed);
        let full = {
            let mut packer = self.packers[job.kind as usize]
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            packer.add(&blob);
            (packer.len() >= self.pack_size).then(|| std::mem::take(&mut *packer))
        };
        if let Some(pack) = full {
            send(to_driver, ToDriver::Pack(pack.finish(&self.keys)?))?;
        }
        Ok(())
    }

    /// Finishes the partly filled packs (after the workers have stopped).
    pub(crate) fn flush(&self, to_driver: &mut mpsc::Sender<ToDriver>) -> Result<()> {
        for packer in &self.packers {
            let pack = std::mem::take(&mut *packer.lock().unwrap_or_else(|p| p.into_inner()));
            if !pack.is_empty() {
                send(to_driver, ToDriver::Pack(pack.finish(&self.keys)?))?;
            }
        }
        Ok(())
    }
}

/// Sends to the driver from a plain thread, waiting while its queue is full.
pub(crate) fn send(to_driver: &mut mpsc::Sender<ToDriver>, msg: ToDriver) -> Result<()> {
    futures::executor::block_on(to_driver.send(msg)).map_err(|_| Error::Internal {
        what: "the backup driver stopped".into(),
    })
}

/// Starts `n` workers; returns the job queue and their handles.
pub(crate) fn start(
    shared: &Arc<Shared>,
    n: usize,
    to_driver: &mpsc::Sender<ToDriver>,
) -> Result<(JobQueue, Vec<JoinHandle<()>>)> {
    let (tx, rx) = crossbeam_channel::bounded::<Vec<Job>>(2 * n);
    let jobs = JobQueue {
        tx,
        pending: Vec::with_capacity(BATCH_JOBS),
        bytes: 0,
    };
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let shared = shared.clone();
        let rx = rx.clone();
        let mut tx = to_driver.clone();
        let h = std::thread::Builder::new()
            .name(format!("cairn-seal-{i}"))
            .spawn(move || {
                'jobs: for batch in rx.iter() {
                    for job in batch {
                        if shared.aborted() {
                            break 'jobs;
                        }
                        if let Err(e) = shared.store(job, &mut tx) {
                            shared.fail(e);
                            break 'jobs;
                        }
                    }
                }
            })
            .map_err(|e| Error::Internal {
                what: format!("starting a worker thread: {e}"),
            })?;
        handles.push(h);
    }
    Ok((jobs, handles))
}
