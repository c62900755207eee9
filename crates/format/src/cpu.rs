//! CPU-heavy work off the caller's executor, awaited through a channel.
//!
//! Closures run on a rayon pool and hand their result back through a
//! `futures` oneshot, which any executor can await: no runtime is assumed.
//!
//! Which pool: a [`CpuPool`]. By default rayon's global pool, whose size and
//! thread names a host decides by building it before its first Cairn call
//! (`rayon::ThreadPoolBuilder::new().num_threads(n).build_global()`); or a
//! pool of the host's own, handed to one repository handle
//! (`OpenOptions::cpu_pool`,
//! `InitOptions::cpu_pool`), so Cairn's work
//! stays on threads the host sized and named and off the global pool the
//! host may use for its own work. Crates built on cas-core reach the pool
//! through `Repository::spawn_blocking` (cairn-cas-core).
//!
//! A backup's chunking and sealing run on the archiver's own worker threads
//! (`BackupOptions::threads`), not on this pool: they block on channels to
//! the uploader, which a shared pool must not.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use futures::channel::oneshot;

use crate::{Error, Result};

/// The thread pool a repository handle runs its CPU-heavy work on (opening
/// key files, decoding indexes, opening and sealing blobs outside a backup,
/// the local cache's file work): rayon's global pool (the default) or a
/// host's own. Cheap to clone.
#[derive(Clone, Default)]
pub struct CpuPool(Option<Arc<rayon::ThreadPool>>);

impl CpuPool {
    /// Runs on `pool` instead of rayon's global pool.
    pub fn new(pool: Arc<rayon::ThreadPool>) -> Self {
        CpuPool(Some(pool))
    }

    /// Rayon's global pool.
    pub fn global() -> Self {
        CpuPool(None)
    }

    /// Runs `f` on this pool; the future resolves to its result. A panic in
    /// `f` becomes [`Error::Internal`] instead of taking the process down.
    pub fn spawn<T, F>(&self, f: F) -> impl Future<Output = Result<T>> + Send
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job = move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
        };
        match &self.0 {
            Some(pool) => pool.spawn(job),
            None => rayon::spawn(job),
        }
        async move {
            match rx.await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(_)) => Err(Error::Internal {
                    what: "a CPU worker panicked".into(),
                }),
                Err(_) => Err(Error::Internal {
                    what: "a CPU worker was dropped".into(),
                }),
            }
        }
    }
}

impl std::fmt::Debug for CpuPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("CpuPool(global)"),
            Some(p) => write!(f, "CpuPool({} threads)", p.current_num_threads()),
        }
    }
}

/// Two handles' pools are equal when they are the same pool.
impl PartialEq for CpuPool {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for CpuPool {}
