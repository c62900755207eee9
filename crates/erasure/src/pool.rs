//! Reusable shard buffers for puts of large objects.
//!
//! A put of a 16 MiB pack into 4+2 needs one 24 MiB buffer for its six
//! shards for as long as the children take to store them. Allocating and
//! freeing that buffer per put looks harmless, but glibc raises its mmap
//! threshold to the size of the largest block freed, so after the first few
//! puts these buffers come from per-thread arenas, which keep the memory:
//! a backup into 4+2 peaked at 2.3–2.5× the RSS of the same backup into one
//! directory (BENCHMARKS.md). The pool holds at most
//! [`encode_buffers`](crate::ErasureConfig::encode_buffers) buffers, hands
//! one to each put of a large object (waiting while all are in use, which
//! also bounds the shards in memory) and takes it back when the last shard
//! of that put is dropped, wherever that happens.

use std::fmt;

use bytes::Bytes;
use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::lock::Mutex;
use futures::StreamExt;

/// A fixed set of buffers, handed out one at a time.
pub(crate) struct EncodePool {
    tx: UnboundedSender<Vec<u8>>,
    /// The free buffers; taking one waits on the lock, then on the channel.
    rx: Mutex<UnboundedReceiver<Vec<u8>>>,
}

impl fmt::Debug for EncodePool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncodePool").finish_non_exhaustive()
    }
}

impl EncodePool {
    /// A pool of `n` buffers (empty until first used), `n >= 1`.
    pub(crate) fn new(n: usize) -> EncodePool {
        let (tx, rx) = unbounded();
        for _ in 0..n {
            // Cannot fail: the receiver is alive.
            let _ = tx.unbounded_send(Vec::new());
        }
        EncodePool {
            tx,
            rx: Mutex::new(rx),
        }
    }

    /// A free buffer, waiting until one is returned if all are in use.
    pub(crate) async fn take(&self) -> Vec<u8> {
        // The pool holds a sender, so the stream never ends; an empty
        // buffer is a harmless answer should it ever do.
        self.rx.lock().await.next().await.unwrap_or_default()
    }

    /// Gives `buf` back (used when encoding failed).
    pub(crate) fn give_back(&self, buf: Vec<u8>) {
        let _ = self.tx.unbounded_send(buf);
    }

    /// Splits `buf` (exactly `count` shards of `stride` bytes) into shards
    /// that return it to the pool once the last of them is dropped.
    pub(crate) fn shards(&self, buf: Vec<u8>, stride: usize, count: usize) -> Vec<Bytes> {
        let all = Bytes::from_owner(Pooled {
            buf,
            home: self.tx.clone(),
        });
        (0..count)
            .map(|i| all.slice(i * stride..(i + 1) * stride))
            .collect()
    }
}

/// A pooled buffer inside [`Bytes`]: going home on drop.
struct Pooled {
    buf: Vec<u8>,
    home: UnboundedSender<Vec<u8>>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        // Fails only when the backend (and its pool) is gone: the buffer
        // is then simply freed.
        let _ = self.home.unbounded_send(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_returns_when_its_last_shard_is_dropped() {
        futures::executor::block_on(async {
            let pool = EncodePool::new(1);
            let mut buf = pool.take().await;
            buf.extend_from_slice(b"aabbcc");
            let ptr = buf.as_ptr();
            let shards = pool.shards(buf, 2, 3);
            assert_eq!(&shards[1][..], b"bb");
            // All in use: a second take must wait.
            let mut second = Box::pin(pool.take());
            assert!(futures::poll!(second.as_mut()).is_pending());
            let last = shards[2].clone();
            drop(shards);
            assert!(futures::poll!(second.as_mut()).is_pending());
            drop(last);
            let back = second.await;
            // The very same allocation comes back, contents intact.
            assert_eq!(back.as_ptr(), ptr);
            assert_eq!(back, b"aabbcc");
        });
    }
}
