//! One-shot chunking of data already in memory.

use bytes::Bytes;

use crate::config::{ChunkerConfig, Chunking, FixedChunker};

/// A chunk of the input: its position in the stream and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Offset of the chunk's first byte from the start of the stream.
    pub offset: u64,
    /// The chunk's bytes: a zero-copy slice of the chunker's buffer (or of the `Bytes`
    /// given to [`chunk_bytes`]). Holding it keeps that whole buffer alive; copy it with
    /// `Bytes::copy_from_slice` to keep one chunk for long.
    pub data: Bytes,
}

impl Chunk {
    /// Length of the chunk in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the chunk is empty (chunkers never yield empty chunks).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Iterator over `(offset, length)` cut points of a slice; see [`cut_points`].
#[derive(Clone, Debug)]
pub struct CutPoints<'a> {
    chunking: Chunking,
    data: &'a [u8],
    pos: usize,
}

impl<'a> CutPoints<'a> {
    pub(crate) fn new(chunking: Chunking, data: &'a [u8]) -> Self {
        Self {
            chunking,
            data,
            pos: 0,
        }
    }
}

impl Iterator for CutPoints<'_> {
    type Item = (usize, usize);

    #[inline]
    fn next(&mut self) -> Option<(usize, usize)> {
        let rest = self.data.get(self.pos..).filter(|r| !r.is_empty())?;
        // The rest of the slice is the rest of the stream, so any window length is final.
        let len = self.chunking.next_len(rest);
        let offset = self.pos;
        self.pos += len;
        Some((offset, len))
    }
}

impl std::iter::FusedIterator for CutPoints<'_> {}

/// Cut points of `data`, treated as a whole stream, as `(offset, length)` pairs.
///
/// The pairs tile `data` in order. Streaming chunkers over the same bytes give exactly the
/// same cut points.
pub fn cut_points<'a>(config: &ChunkerConfig, data: &'a [u8]) -> CutPoints<'a> {
    CutPoints::new(Chunking::Cdc(*config), data)
}

/// Iterator over the chunks of a `Bytes`; see [`chunk_bytes`].
#[derive(Clone, Debug)]
pub struct ChunkBytes {
    chunking: Chunking,
    rest: Bytes,
    offset: u64,
}

impl Iterator for ChunkBytes {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        if self.rest.is_empty() {
            return None;
        }
        let len = self.chunking.next_len(&self.rest);
        let chunk = Chunk {
            offset: self.offset,
            data: self.rest.split_to(len),
        };
        self.offset += len as u64;
        Some(chunk)
    }
}

impl std::iter::FusedIterator for ChunkBytes {}

/// Chunks of `data`, treated as a whole stream, as zero-copy slices of it.
pub fn chunk_bytes(config: &ChunkerConfig, data: Bytes) -> ChunkBytes {
    Chunking::Cdc(*config).chunk_bytes(data)
}

impl Chunking {
    /// Cut points of `data` as `(offset, length)`; see [`cut_points`].
    pub fn cut_points<'a>(&self, data: &'a [u8]) -> CutPoints<'a> {
        CutPoints::new(*self, data)
    }

    /// Chunks of `data` as zero-copy slices; see [`chunk_bytes`].
    pub fn chunk_bytes(&self, data: Bytes) -> ChunkBytes {
        ChunkBytes {
            chunking: *self,
            rest: data,
            offset: 0,
        }
    }
}

impl FixedChunker {
    /// Cut points of `data` as `(offset, length)`: every `size` bytes, the last shorter.
    pub fn cut_points<'a>(&self, data: &'a [u8]) -> CutPoints<'a> {
        CutPoints::new(Chunking::Fixed(*self), data)
    }

    /// Chunks of `data` as zero-copy slices.
    pub fn chunk_bytes(&self, data: Bytes) -> ChunkBytes {
        Chunking::Fixed(*self).chunk_bytes(data)
    }
}
