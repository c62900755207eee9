//! The tokio runtime that drives `object_store` futures.
//!
//! `object_store` (through `reqwest`/`hyper`) only makes progress inside a
//! tokio runtime, but Cairn's callers may run any executor: tokio, smol, or a
//! plain `futures::executor::block_on`. So every `object_store` future runs as
//! a task on a runtime this module owns, and the caller awaits its result
//! through a `futures::channel::oneshot`, which any executor can poll.
//!
//! Why one process-wide runtime rather than the caller's or one per backend:
//! - the caller's runtime (`Handle::try_current`) may be a current-thread
//!   runtime that is blocked by the very `block_on` waiting for our result, or
//!   may be gone by the time a pooled HTTP connection is reused;
//! - a runtime owned by each backend would be dropped with it, and dropping a
//!   tokio runtime inside another runtime's async context panics — a backend
//!   dropped in a tokio task would abort the caller. A static is never dropped.
//!
//! Two worker threads suffice: the work is network I/O, not CPU.
//!
//! A host service that runs tokio itself can hand its own runtime's
//! [`Handle`] to [`ObjectStoreBackend::with_runtime`](super::ObjectStoreBackend::with_runtime)
//! (a multi-threaded runtime that outlives the backend); the private runtime
//! is then never started.

use std::future::Future;
use std::sync::{Mutex, OnceLock};

use futures::channel::oneshot;
use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::AbortHandle;

use crate::{Error, Result};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

/// The shared runtime, started on first use.
pub(super) fn runtime() -> Result<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    // Serialise construction: a losing runtime would have to be dropped, and
    // dropping one inside an async context panics.
    let _guard = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("cairn-object-store")
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            key: String::new(),
            source,
        })?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Aborts the task when the caller stops waiting for it (its future was
/// dropped, e.g. by a timeout in a higher layer), so no work outlives its
/// caller. Aborting a finished task does nothing.
pub(super) struct AbortOnDrop(pub(super) AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `fut` on `rt` (the shared runtime, or the caller's, see
/// [`ObjectStoreBackend::with_runtime`](super::ObjectStoreBackend::with_runtime))
/// and waits for its output from any executor.
pub(super) async fn run<T, F>(rt: &Handle, key: &str, fut: F) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let handle = rt.spawn(async move {
        // The receiver may be gone (caller dropped); nothing to report then.
        let _ = tx.send(fut.await);
    });
    let _abort = AbortOnDrop(handle.abort_handle());
    match rx.await {
        Ok(result) => result,
        // The sender was dropped without sending: the task panicked.
        Err(oneshot::Canceled) => Err(Error::Backend {
            key: key.to_owned(),
            message: "object_store task ended without a result (it panicked)".to_owned(),
            transient: false,
        }),
    }
}
