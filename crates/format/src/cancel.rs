//! Cooperative cancellation of a backup or restore, independent of any
//! async runtime: dropping the future is not always possible (the work runs
//! on threads too) and leaves no chance to write what makes the next run
//! resume, so long operations poll a shared flag at safe boundaries instead.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

#[derive(Debug, Default)]
struct Inner {
    cancelled: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

/// A token that asks an operation to stop. Clones share one flag: cancel
/// any clone and every holder sees it. The default token is never cancelled
/// unless someone holding a clone of it cancels it.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<Inner>);

impl CancelToken {
    /// A new token, not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every holder to stop; wakes whoever awaits [`CancelToken::cancelled`].
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.0.wakers.lock().unwrap_or_else(|p| p.into_inner()));
        for w in wakers {
            w.wake();
        }
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Resolves once the token is cancelled (on any executor).
    pub fn cancelled(&self) -> Cancelled {
        Cancelled(self.clone())
    }

    /// `Err(Error::Cancelled)` if cancelled: for `?` at a safe boundary.
    pub fn check(&self) -> crate::Result<()> {
        if self.is_cancelled() {
            Err(crate::Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// The future of [`CancelToken::cancelled`].
#[derive(Debug)]
pub struct Cancelled(CancelToken);

impl Future for Cancelled {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.is_cancelled() {
            return Poll::Ready(());
        }
        let mut wakers = self.0 .0.wakers.lock().unwrap_or_else(|p| p.into_inner());
        // Checked again under the lock: `cancel` takes the wakers under it,
        // so a cancel between the first check and here is not missed.
        if self.0.is_cancelled() {
            return Poll::Ready(());
        }
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag_and_wake_waiters() {
        let t = CancelToken::new();
        let c = t.clone();
        assert!(!c.is_cancelled() && c.check().is_ok());
        let waiter = std::thread::spawn(move || futures::executor::block_on(c.cancelled()));
        t.cancel();
        waiter.join().expect("the waiter wakes");
        assert!(t.is_cancelled());
        assert!(matches!(t.check(), Err(crate::Error::Cancelled)));
    }
}
