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
//! [`ChunkerConfig::default()`] is **128 KiB / 512 KiB / 2 MiB** (min / avg / max),
//! chosen by measurement (`tests/measure_defaults.rs`):
//!
//! ```text
//! cargo test --release -p cairn-chunking --test measure_defaults -- --ignored --nocapture
//! ```
//!
//! Seeded corpora go through 10 versions of small edits (insertions, deletions and
//! overwrites of 1 B–4 KiB at random places); each version is chunked file by file and
//! unique chunks are counted. "Stored / total" is unique chunk bytes over the bytes of all
//! versions; "new per version" is what each later version adds; "chunks" is the number of
//! index entries.
//!
//! Large files (3 text files of 8–32 MiB, 3 binary of 16–48 MiB, 1–4 edits each per
//! version; 1395 MiB over all versions):
//!
//! | min / avg / max | stored / total | new MiB per version | chunks | mean chunk |
//! |---|---:|---:|---:|---:|
//! | 16K / 64K / 256K | 10.9 % | 1.5 | 2010 | 78 KiB |
//! | 64K / 256K / 1M | 13.4 % | 5.3 | 599 | 320 KiB |
//! | **128K / 512K / 2M** | **17.0 %** | **10.8** | **373** | **649 KiB** |
//! | 256K / 1M / 4M | 22.2 % | 18.9 | 246 | 1289 KiB |
//! | 512K / 1M / 8M (restic) | 23.0 % | 20.2 | 240 | 1369 KiB |
//! | 512K / 2M / 8M (borg-like) | 32.7 % | 35.2 | 183 | 2552 KiB |
//! | 1M / 4M / 16M | 52.1 % | 65.2 | 136 | 5466 KiB |
//! | fixed 1M | 59.0 % | 75.9 | 847 | 995 KiB |
//!
//! A source tree (300 text files of 1 KiB–1 MiB, 12 binary files of 256 KiB–16 MiB, a log
//! growing 512 KiB per version; per version 10 % of files edited, 3 added, 1 deleted;
//! 886 MiB over all versions):
//!
//! | min / avg / max | stored / total | new MiB per version | chunks |
//! |---|---:|---:|---:|
//! | 16K / 64K / 256K | 13.1 % | 3.5 | 1866 |
//! | 64K / 256K / 1M | 15.2 % | 5.6 | 933 |
//! | **128K / 512K / 2M** | **16.5 %** | **6.8** | **775** |
//! | 256K / 1M / 4M | 17.9 % | 8.3 | 690 |
//! | 512K / 1M / 8M (restic) | 18.1 % | 8.4 | 681 |
//! | 512K / 2M / 8M | 19.8 % | 10.1 | 667 |
//! | 1M / 4M / 16M | 20.2 % | 10.5 | 652 |
//! | fixed 1M | 18.4 % | 8.8 | 699 |
//!
//! Each edit costs about one mean chunk of new data, so churn grows linearly with chunk
//! size while index entries shrink inversely. 512 KiB average stores about half of what
//! restic's 1 MiB setting stores per version of edited large files (10.8 vs 20.2 MiB) for
//! 1.5× its index entries (about 1.6 M entries per TiB at the 649 KiB mean); going down to
//! 256 KiB halves churn again but costs another 1.6× entries and gains little on trees of
//! small files, which are one chunk each whatever the setting. Fixed-size chunks lose
//! everything after an insertion, hence [`FixedChunker`] only for block images that are
//! overwritten in place.
//!
//! # Performance
//!
//! Per core, on 64 MiB of seeded data with the default sizes, counting the thread's CPU
//! time (`tests/measure_throughput.rs`; the machine was shared, so wall-clock figures from
//! the criterion bench `benches/chunking.rs` swing by ±50 % and are only indicative):
//!
//! ```text
//! cargo test --release -p cairn-chunking --test measure_throughput -- --ignored --nocapture
//! cargo bench -p cairn-chunking --bench chunking -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! | case | random MB/s | text MB/s | vs memcpy |
//! |---|---:|---:|---:|
//! | memcpy (baseline) | 9362 | 9563 | 1.00 |
//! | [`cut_points`] | 2938 | 2953 | 0.31 |
//! | fastcdc's own `FastCDC` iterator | 2938 | 2957 | 0.31 |
//! | [`StreamChunker`] over a `Cursor` | 2248 | 2204 | 0.23 |
//! | [`FixedChunker`] (1 MiB) stream over a `Cursor` | 12482 | 11207 | 1.2–1.3 |
//!
//! The streaming chunker costs one copy out of the reader plus zeroing the read block
//! (safe Rust cannot read into uninitialised memory) on top of the cut-point scan.
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
pub use stream::{AsyncStreamChunker, StreamChunker, MAX_READ_SIZE};
