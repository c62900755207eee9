//! Streaming chunkers over `std::io::Read` and `futures::io::AsyncRead`.
//!
//! Both share [`Window`]: input is read in large blocks into one `BytesMut`, chunks are cut
//! from its front and handed out as zero-copy `Bytes` (split + freeze), and when fewer than
//! `max_chunk_size` unconsumed bytes remain the next block is appended, which copies only
//! that tail if chunks still hold the old block. A cut is taken only when the window holds
//! `max_chunk_size` bytes or the input has ended: that is exactly what the one-shot
//! chunker sees at the same offset, so streaming and one-shot cut points are identical.

use std::io::{ErrorKind, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures::io::AsyncRead;
use futures::Stream;

use crate::config::Chunking;
use crate::error::{Error, Result};
use crate::slice::Chunk;

/// Smallest default read block; larger `max_chunk_size`s get 4 blocks of look-ahead.
const MIN_READ_SIZE: usize = 4 << 20;

/// Largest accepted read block.
pub const MAX_READ_SIZE: usize = 1 << 30;

fn check_read_size(bytes: usize) -> Result<usize> {
    if (1..=MAX_READ_SIZE).contains(&bytes) {
        Ok(bytes)
    } else {
        Err(Error::InvalidReadSize {
            bytes,
            reason: "read size must be within 1..=1073741824",
        })
    }
}

/// The buffering state shared by the sync and async chunkers (no I/O in here).
#[derive(Debug)]
struct Window {
    chunking: Chunking,
    /// `buf[..filled]` is unconsumed input; `buf[filled..]` is zeroed space for reads
    /// (kept across reads so the zeroing, needed without `unsafe`, happens once per block).
    buf: BytesMut,
    filled: usize,
    /// Stream offset of `buf[0]`.
    offset: u64,
    /// Bytes a cut needs to be final before end of input.
    lookahead: usize,
    read_size: usize,
    eof: bool,
    failed: bool,
}

impl Window {
    fn new(chunking: Chunking) -> Self {
        let lookahead = chunking.max_chunk_size() as usize;
        Self {
            chunking,
            buf: BytesMut::new(),
            filled: 0,
            offset: 0,
            lookahead,
            read_size: MIN_READ_SIZE.max(4 * lookahead),
            eof: false,
            failed: false,
        }
    }

    /// The next final chunk, if the buffered input determines one.
    #[inline]
    fn next_chunk(&mut self) -> Option<Chunk> {
        if self.filled == 0 || (self.filled < self.lookahead && !self.eof) {
            return None;
        }
        let len = self.chunking.next_len(&self.buf[..self.filled]);
        let data = self.buf.split_to(len).freeze();
        self.filled -= len;
        let chunk = Chunk {
            offset: self.offset,
            data,
        };
        self.offset += len as u64;
        Some(chunk)
    }

    /// Whether the stream has nothing more to give (end of input or a failed read).
    fn finished(&self) -> bool {
        self.eof || self.failed
    }

    /// Space to read into, growing the buffer to a block when little is left.
    fn spare(&mut self) -> &mut [u8] {
        // Never hand out an empty slice: a reader answers it with `Ok(0)`, which reads as EOF.
        let min_spare = (self.read_size / 4).max(1);
        if self.buf.len() - self.filled < min_spare {
            // Growing to the same total block size each time (rather than by a block) lets
            // `BytesMut` move the short tail to the front of its current allocation when
            // the caller has dropped the chunks cut from it, instead of allocating (and
            // page-faulting) a fresh block.
            let target = (self.filled + min_spare).max(self.read_size);
            self.buf.resize(target, 0);
        }
        &mut self.buf[self.filled..]
    }

    /// Records the result of a read into [`Window::spare`]; `0` means end of input.
    fn commit(&mut self, n: usize) {
        if n == 0 {
            self.eof = true;
            // Nothing more will be read; release the spare space now.
            self.buf.truncate(self.filled);
        } else {
            self.filled += n;
        }
    }

    fn fail(&mut self, source: std::io::Error) -> Error {
        self.failed = true;
        self.buf = BytesMut::new();
        self.filled = 0;
        Error::Io { source }
    }
}

/// Chunks a [`Read`] stream; an iterator of `Result<Chunk>`.
///
/// Reads blocks of `max(4 MiB, 4 × max_chunk_size)` (tunable with
/// [`StreamChunker::with_read_size`]); memory held is about one block plus whatever blocks
/// the caller's outstanding chunks still share. Cut points equal those of the one-shot
/// [`cut_points`](crate::cut_points) on the whole input. After an I/O error
/// ([`Error::Io`]) it yields nothing more; `Interrupted` reads are retried.
#[derive(Debug)]
pub struct StreamChunker<R> {
    reader: R,
    window: Window,
}

impl<R: Read> StreamChunker<R> {
    /// Chunks `reader` with `chunking`: a [`ChunkerConfig`](crate::ChunkerConfig),
    /// a [`FixedChunker`](crate::FixedChunker) or a [`Chunking`].
    pub fn new(reader: R, chunking: impl Into<Chunking>) -> Self {
        Self {
            reader,
            window: Window::new(chunking.into()),
        }
    }
}

impl<R> StreamChunker<R> {
    /// Sets how many bytes to request per refill (default `max(4 MiB, 4 × max_chunk_size)`).
    /// Any size gives the same chunks (refills repeat until `max_chunk_size` bytes are
    /// buffered); larger blocks copy a smaller share of the input when carrying the
    /// unfinished tail over, and a block is held while any chunk cut from it is alive.
    ///
    /// # Errors
    /// [`Error::InvalidReadSize`] unless `1 <= bytes <= 1 GiB`.
    pub fn with_read_size(mut self, bytes: usize) -> Result<Self> {
        self.window.read_size = check_read_size(bytes)?;
        Ok(self)
    }

    /// Stream offset at which the next chunk starts (the total length of chunks so far).
    pub fn offset(&self) -> u64 {
        self.window.offset
    }

    /// The reader back, positioned after whatever was read (possibly ahead of the chunks
    /// yielded so far).
    pub fn into_inner(self) -> R {
        self.reader
    }
}

impl<R: Read> Iterator for StreamChunker<R> {
    type Item = Result<Chunk>;

    fn next(&mut self) -> Option<Result<Chunk>> {
        loop {
            if let Some(chunk) = self.window.next_chunk() {
                return Some(Ok(chunk));
            }
            if self.window.finished() {
                return None;
            }
            match self.reader.read(self.window.spare()) {
                Ok(n) => self.window.commit(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(self.window.fail(e))),
            }
        }
    }
}

impl<R: Read> std::iter::FusedIterator for StreamChunker<R> {}

/// Chunks an [`AsyncRead`] stream; a [`Stream`] of `Result<Chunk>`.
///
/// Same buffering, cut points and error behaviour as [`StreamChunker`]. Runtime-agnostic:
/// it only polls the reader. Chunking is CPU work done inside `poll_next` (about
/// `max_chunk_size` bytes scanned per chunk); callers wanting it off the executor thread
/// can run a [`StreamChunker`] on a blocking thread pool instead.
#[derive(Debug)]
pub struct AsyncStreamChunker<R> {
    reader: R,
    window: Window,
}

impl<R: AsyncRead + Unpin> AsyncStreamChunker<R> {
    /// Chunks `reader` with `chunking`: a [`ChunkerConfig`](crate::ChunkerConfig),
    /// a [`FixedChunker`](crate::FixedChunker) or a [`Chunking`].
    pub fn new(reader: R, chunking: impl Into<Chunking>) -> Self {
        Self {
            reader,
            window: Window::new(chunking.into()),
        }
    }
}

impl<R> AsyncStreamChunker<R> {
    /// See [`StreamChunker::with_read_size`].
    ///
    /// # Errors
    /// [`Error::InvalidReadSize`] unless `1 <= bytes <= 1 GiB`.
    pub fn with_read_size(mut self, bytes: usize) -> Result<Self> {
        self.window.read_size = check_read_size(bytes)?;
        Ok(self)
    }

    /// Stream offset at which the next chunk starts.
    pub fn offset(&self) -> u64 {
        self.window.offset
    }

    /// The reader back (see [`StreamChunker::into_inner`]).
    pub fn into_inner(self) -> R {
        self.reader
    }
}

impl<R: AsyncRead + Unpin> Stream for AsyncStreamChunker<R> {
    type Item = Result<Chunk>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Chunk>>> {
        let this = self.get_mut();
        loop {
            if let Some(chunk) = this.window.next_chunk() {
                return Poll::Ready(Some(Ok(chunk)));
            }
            if this.window.finished() {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.reader).poll_read(cx, this.window.spare()) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(n)) => this.window.commit(n),
                Poll::Ready(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(this.window.fail(e)))),
            }
        }
    }
}

impl crate::config::FixedChunker {
    /// A [`StreamChunker`] cutting `reader` into fixed blocks.
    pub fn stream<R: Read>(&self, reader: R) -> StreamChunker<R> {
        StreamChunker::new(reader, *self)
    }

    /// An [`AsyncStreamChunker`] cutting `reader` into fixed blocks.
    pub fn stream_async<R: AsyncRead + Unpin>(&self, reader: R) -> AsyncStreamChunker<R> {
        AsyncStreamChunker::new(reader, *self)
    }
}
