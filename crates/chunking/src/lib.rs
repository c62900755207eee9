//! Streaming content-defined chunking (FastCDC 2020) and fixed-size chunking.
//!
//! ```
//! use bytes::Bytes;
//! use cairn_chunking::{chunk_bytes, cut_points, ChunkerConfig, StreamChunker};
//!
//! # fn main() -> Result<(), cairn_chunking::Error> {
//! // 1 MiB of pseudo-random bytes.
//! let mut x = 1u64;
//! let data: Vec<u8> = (0..1 << 20)
//!     .map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x as u8 })
//!     .collect();
//!
//! let config = ChunkerConfig::new(8 * 1024, 32 * 1024, 128 * 1024)?;
//! let cuts: Vec<(usize, usize)> = cut_points(&config, &data).collect();
//! assert_eq!(cuts.iter().map(|&(_, len)| len).sum::<usize>(), data.len());
//!
//! // Streaming over any `Read` gives the same chunks, as zero-copy `Bytes`.
//! let mut streamed = Vec::new();
//! for chunk in StreamChunker::new(std::io::Cursor::new(&data), config) {
//!     let chunk = chunk?;
//!     streamed.push((chunk.offset as usize, chunk.len()));
//! }
//! assert_eq!(streamed, cuts);
//!
//! // So does slicing a `Bytes` that is already in memory.
//! let sliced: Vec<_> = chunk_bytes(&config, Bytes::from(data.clone()))
//!     .map(|c| (c.offset as usize, c.len()))
//!     .collect();
//! assert_eq!(sliced, cuts);
//! # Ok(())
//! # }
//! ```
//!
//! # Entry points
//!
//! | input | content-defined ([`ChunkerConfig`]) | fixed-size ([`FixedChunker`]) |
//! |---|---|---|
//! | `&[u8]` | [`cut_points`] | [`FixedChunker::cut_points`] |
//! | [`bytes::Bytes`] | [`chunk_bytes`] | [`FixedChunker::chunk_bytes`] |
//! | [`std::io::Read`] | [`StreamChunker::new`] | [`FixedChunker::stream`] |
//! | [`futures::io::AsyncRead`] | [`AsyncStreamChunker::new`] | [`FixedChunker::stream_async`] |
//!
//! [`Chunking`] is the strategy as a value (either kind); the stream constructors take
//! `impl Into<Chunking>`, and [`Chunking::cut_points`] / [`Chunking::chunk_bytes`] cover
//! slices. All entry points over the same bytes give the same cut points: an empty input
//! yields no chunks, every chunk but the last is at least `min_size` long, none is longer
//! than `max_size`, and the chunks tile the input.
//!
//! Cut points are part of the repository's behaviour (changing them re-uploads
//! everything), so they are pinned by a golden test: fastcdc's v2020 `cut` with
//! normalization level 1 and the unseeded gear table.
//!
//! # Default sizes
//!
//! DEFAULT_TABLE_PLACEHOLDER
#![forbid(unsafe_code)]

mod config;
mod error;
mod slice;
mod stream;

pub use config::{
    ChunkerConfig, Chunking, FixedChunker, DEFAULT_AVG_SIZE, DEFAULT_MAX_SIZE, DEFAULT_MIN_SIZE,
    FIXED_MAX_SIZE, FIXED_MIN_SIZE,
};
pub use error::{Error, Result};
pub use slice::{chunk_bytes, cut_points, Chunk, ChunkBytes, CutPoints};
pub use stream::{AsyncStreamChunker, StreamChunker};
