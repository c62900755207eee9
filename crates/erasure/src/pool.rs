//! Reusable shard buffers for puts of large objects.
//!
//! A put of a 16 MiB pack into 4+2 needs one 24 MiB buffer for its six
//! shards for as long as the children take to store them. Allocating and
//! freeing that buffer per put looks harmless, but glibc raises its mmap
//! threshold to the size of the largest block freed, so after the first few
//! puts these buffers come from per-thread arenas, which keep the memory:
//! a backup into 4+2 peaked at 2.3–2.5× the RSS of the same backup into one
//! directory (BENCHMARKS.md). The pool keeps up to
//! [`encode_buffers`](crate::ErasureConfig::encode_buffers) buffers and
//! takes each back when the last shard made from it is dropped, wherever
//! that happens; a put that finds none free allocates its own (it never
//! waits: a child that keeps the bytes it was given, like an in-memory
//! backend, would otherwise hold the pool's buffers forever and stall every
//! later put). The caller's own bound on puts in flight (Cairn's
//! `BackupOptions::uploads`) is what bounds the buffers alive at once.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

/// Free buffers, at most `keep` of them.
#[derive(Debug)]
struct Free {
    bufs: Mutex<Vec<Vec<u8>>>,
    keep: usize,
}

impl Free {
    fn give_back(&self, buf: Vec<u8>) {
        let mut bufs = self.bufs.lock().unwrap_or_else(PoisonError::into_inner);
        if bufs.len() < self.keep {
            bufs.push(buf);
        }
    }
}

/// A recycler of large buffers.
#[derive(Debug, Clone)]
pub(crate) struct EncodePool {
    free: Arc<Free>,
}

impl EncodePool {
    /// A pool keeping up to `keep` buffers.
    pub(crate) fn new(keep: usize) -> EncodePool {
        EncodePool {
            free: Arc::new(Free {
                bufs: Mutex::new(Vec::new()),
                keep,
            }),
        }
    }

    /// A free buffer, or a new empty one when none is free.
    pub(crate) fn take(&self) -> Vec<u8> {
        let mut bufs = self
            .free
            .bufs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        bufs.pop().unwrap_or_default()
    }

    /// Gives `buf` back (used when encoding failed).
    pub(crate) fn give_back(&self, buf: Vec<u8>) {
        self.free.give_back(buf);
    }

    /// Splits `buf` (exactly `count` shards of `stride` bytes) into shards
    /// that return it to the pool once the last of them is dropped.
    pub(crate) fn shards(&self, buf: Vec<u8>, stride: usize, count: usize) -> Vec<Bytes> {
        let all = Bytes::from_owner(Pooled {
            buf,
            home: self.free.clone(),
        });
        (0..count)
            .map(|i| all.slice(i * stride..(i + 1) * stride))
            .collect()
    }

    #[cfg(test)]
    fn free_count(&self) -> usize {
        self.free.bufs.lock().map(|b| b.len()).unwrap_or(0)
    }
}

/// A pooled buffer inside [`Bytes`]: going home on drop.
struct Pooled {
    buf: Vec<u8>,
    home: Arc<Free>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.home.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_returns_when_its_last_shard_is_dropped_and_is_reused() {
        let pool = EncodePool::new(1);
        let mut buf = pool.take();
        buf.extend_from_slice(b"aabbcc");
        let ptr = buf.as_ptr();
        let shards = pool.shards(buf, 2, 3);
        assert_eq!(&shards[1][..], b"bb");
        // None free: a new buffer, at once (never a wait).
        assert_eq!(pool.take().capacity(), 0);
        let last = shards[2].clone();
        drop(shards);
        assert_eq!(pool.free_count(), 0);
        drop(last);
        assert_eq!(pool.free_count(), 1);
        let back = pool.take();
        // The very same allocation comes back, contents intact.
        assert_eq!(back.as_ptr(), ptr);
        assert_eq!(back, b"aabbcc");
    }

    #[test]
    fn no_more_than_keep_buffers_are_kept() {
        let pool = EncodePool::new(2);
        let held: Vec<Vec<Bytes>> = (0..4)
            .map(|_| {
                let mut b = pool.take();
                b.resize(8, 1);
                pool.shards(b, 4, 2)
            })
            .collect();
        drop(held);
        assert_eq!(pool.free_count(), 2);
    }
}

/// At most `n` holders at once; others wait (runtime-agnostic: a channel
/// of tokens behind an async lock).
#[derive(Debug)]
pub(crate) struct Gate {
    tx: futures::channel::mpsc::UnboundedSender<()>,
    rx: futures::lock::Mutex<futures::channel::mpsc::UnboundedReceiver<()>>,
}

/// A place inside a [`Gate`], given back on drop.
pub(crate) struct Pass<'a>(&'a Gate);

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        let _ = self.0.tx.unbounded_send(());
    }
}

impl Gate {
    /// A gate letting `n >= 1` through at once.
    pub(crate) fn new(n: usize) -> Gate {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        for _ in 0..n {
            // Cannot fail: the receiver is alive.
            let _ = tx.unbounded_send(());
        }
        Gate {
            tx,
            rx: futures::lock::Mutex::new(rx),
        }
    }

    /// Waits for a place.
    pub(crate) async fn enter(&self) -> Pass<'_> {
        use futures::StreamExt;
        // The gate holds a sender, so the stream never ends.
        let _ = self.rx.lock().await.next().await;
        Pass(self)
    }
}

#[cfg(test)]
mod gate_tests {
    use super::Gate;

    #[test]
    fn a_gate_lets_n_through_and_the_next_when_one_leaves() {
        futures::executor::block_on(async {
            let gate = Gate::new(1);
            let first = gate.enter().await;
            let mut second = Box::pin(gate.enter());
            assert!(futures::poll!(second.as_mut()).is_pending());
            drop(first);
            let _second = second.await;
        });
    }
}
