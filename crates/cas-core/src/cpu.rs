//! CPU-heavy work off the caller's executor, awaited through a channel.
//!
//! Runs closures on rayon's global pool and hands the result back through a
//! `futures` oneshot, which any executor can await: no runtime is assumed.
//!
//! A host service decides that pool's size and thread names by building
//! rayon's global pool itself before its first Cairn call
//! (`rayon::ThreadPoolBuilder::new().num_threads(n).thread_name(..).build_global()`);
//! otherwise rayon starts one thread per core on first use. Crates built on
//! cas-core reach this pool through [`Repository::spawn_blocking`](crate::Repository::spawn_blocking).

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};

use futures::channel::oneshot;

use crate::{Error, Result};

/// Runs `f` on the CPU pool; the future resolves to its result. A panic in `f`
/// becomes [`Error::Internal`] instead of taking the process down.
pub(crate) fn spawn<T, F>(f: F) -> impl Future<Output = Result<T>> + Send
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    rayon::spawn(move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    });
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
