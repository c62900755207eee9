//! Reed-Solomon erasure coding for Cairn: a `k + m` [`Codec`] with
//! self-describing, checksummed shards, and [`ErasureBackend`], a
//! [`Backend`](cairn_backends::Backend) that stores every object as `k + m`
//! shards on `k + m` independent child backends and reads it back from any `k`.
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use cairn_backends::{Backend, MemoryBackend, PutMode};
//! use cairn_erasure::{Child, ErasureBackend, ErasureConfig, ScrubOptions};
//!
//! # futures::executor::block_on(async {
//! // Four data and two parity shards over six independent stores.
//! let stores: Vec<MemoryBackend> = (0..6).map(|_| MemoryBackend::new()).collect();
//! let children = stores
//!     .iter()
//!     .enumerate()
//!     .map(|(i, s)| Child::new(format!("mem{i}"), Arc::new(s.clone())))
//!     .collect();
//! let store = ErasureBackend::new(children, ErasureConfig::new(4, 2))?;
//!
//! let data = Bytes::from(vec![42u8; 100_000]);
//! store.put("packs/00/0001", data.clone(), PutMode::CreateOnly).await?;
//!
//! // Lose two whole stores: the object still reads back exactly.
//! stores[1].delete("packs/00/0001").await?;
//! stores[4].delete("packs/00/0001").await?;
//! assert_eq!(store.get("packs/00/0001").await?, data);
//!
//! // A repairing scrub rewrites the lost shards.
//! let report = store.scrub(ScrubOptions::new().repair(true)).await?;
//! assert_eq!((report.shards_missing, report.shards_repaired), (2, 2));
//! assert!(stores[1].get("packs/00/0001").await.is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Durability
//!
//! - A put is acknowledged once the write quorum of shards is durable. If
//!   some shards could not be written, a heal record says so on the other
//!   children ([`heal_record`](mod@heal_record)):
//!   [`ErasureBackend::degraded`] counts such objects and
//!   [`ErasureBackend::heal`] (also run by a repairing scrub) rebuilds them
//!   once their children are back — from any process.
//! - A create-only put reports `AlreadyExists` only when a verified shard of
//!   another object (or `k` of them) is there; a shard that cannot be read
//!   back is a failed child.
//! - A listing is complete or fails with [`Error::IncompleteListing`]
//!   ([`cairn_backends::Error::Incomplete`] through the trait).
//!   [`ErasureBackend::list_keys`] lists names without reading a shard
//!   header per key (the trait's `list` must report sizes, which only a
//!   header knows).
//! - Shards under keys held by fewer than `k` children (a delete that
//!   failed on some children, a write that crashed) are not objects and are
//!   never listed; [`ErasureBackend::partial_keys_of`] finds them (only
//!   from a listing of every child) and [`ErasureBackend::delete_shards`]
//!   removes them, through [`cairn_backends::PartialObjects`] for Cairn's
//!   prune, which decides when that is safe.
//! - Scrub overwrites shards only towards a version a [`Verifier`] vouches
//!   for ([`content_hash_verifier`] for Cairn repositories); anything else is
//!   reported in [`ScrubReport::conflicts`].
//!
//! # Range reads
//!
//! Shards are written in format 2 ([`format`](mod@format)): each shard's
//! header carries the BLAKE3 of every 64 KiB block of every shard. A range
//! read ([`ErasureBackend::get_range_object`], `get_range` through the
//! trait) reads one header, then only the covering blocks of the data
//! shards that hold the range, and verifies every block before use; a
//! missing or bad block is rebuilt from the same block range of `k` other
//! shards (the code works column-wise, so stripes decode independently),
//! and the rebuilt block is checked against the table too. Objects in
//! format 1, and anything the block path cannot settle (a stale header,
//! fewer than `k` good copies of a stripe), are read whole and sliced, as
//! before. A restore that reads scattered ranges of 16 MiB packs therefore
//! moves about the bytes it asks for, not 16 MiB per range.
//!
//! The shard format is documented byte by byte in [`format`](mod@format). Health of the
//! children (circuit breakers, latency, error counts) is in
//! [`ErasureBackend::health_report`].
//!
//! **Planning** lives in the crate above, `cairn-durability` (re-exported
//! by the facade as `cairn::erasure::durability`): a layout's annual
//! probability of losing data (closed forms, and a simulation that drives
//! this crate's own repair path), which children, regions and zones it can
//! lose, and its cost by tier. Children labelled with a cold tier
//! ([`Labels::is_cold`]) are read only when the hot ones cannot supply `k`
//! shards; archive children that need a restore request implement
//! [`Thaw`] ([`ErasureBackend::thaw_for_degraded_read`]), and with
//! [`ErasureConfig::thaw_wait`] set a degraded read issues and awaits
//! those restores itself ([`Error::ColdShardsUnreadable`] without,
//! [`Error::ThawPending`] when they outlast the wait).
//!
//! Features: `simd-accel` turns on reed-solomon-erasure's C/SIMD Galois-field
//! kernels (built with the system C compiler for `-march=haswell` on x86-64:
//! the binary then needs AVX2). The default build is pure Rust and runs on any
//! CPU.
//!
//! # Performance
//!
//! `cargo bench -p cairn-erasure --bench codec -- --warm-up-time 1 --measurement-time 3`
//! on the 2-core CI machine (shared with other builds, so figures are
//! noisy), 4 MiB objects, throughput in object bytes, shard format 2;
//! memcpy of the same bytes measured 41-44 GiB/s (in cache):
//!
//! | code | encode | reconstruct, m shards lost | decode, all present |
//! |------|--------|----------------------------|---------------------|
//! | 4+2  | 1023 MiB/s | 1018 MiB/s | 3.25 GiB/s |
//! | 6+3  |  950 MiB/s |  917 MiB/s | 3.10 GiB/s |
//! | 10+4 |  672 MiB/s |  770 MiB/s | 2.98 GiB/s |
//!
//! Every figure includes the BLAKE3 checksums (the object's, and each
//! block of each written or verified shard).
//!
//! **The engine.** `cargo bench -p cairn-erasure --bench engines` compares
//! the raw parity arithmetic of reed-solomon-erasure 6 (pure Rust, the one
//! used) with reed-solomon-simd 3 (a dev-dependency only), same shards,
//! same run:
//!
//! | code | encode: rs-erasure / rs-simd | reconstruct m lost: rs-erasure / rs-simd |
//! |------|------------------------------|------------------------------------------|
//! | 4+2  | 2.08 / 11.6 GiB/s | 1.61 / 2.43 GiB/s |
//! | 6+3  | 1.37 / 7.25 GiB/s | 1.14 / 1.51 GiB/s |
//! | 10+4 | 1.06 / 9.23 GiB/s | 0.99 / 1.97 GiB/s |
//!
//! The arithmetic is about half of the codec's encode time (1.9 of 3.9 ms
//! per 4 MiB object at 4+2), so reed-solomon-simd would make encoding about
//! 1.7x (4+2) to 2.2x (10+4) faster end to end, and reconstruction
//! 1.2-1.3x. It is a different code (GF(2^16), other parity bytes), so it
//! would need a codec id of its own in the shard format; reed-solomon-erasure
//! stays the engine until a backup into an erasure layout is shown to be
//! limited by it.
//!
//! **Range reads** (`cargo bench -p cairn-erasure --bench range -- --warm-up-time 1
//! --measurement-time 3`): eight ranges spread over a 16 MiB pack per
//! iteration, in-memory children, block tables cached after the first read:
//!
//! | store | 256 KiB ranges | 4 KiB ranges |
//! |-------|----------------|--------------|
//! | plain memory backend (a slice) | 0.7 µs | 0.8 µs |
//! | 4+2, format 2, healthy | 511 µs (3.8 GiB/s) | 128 µs |
//! | 4+2, format 2, data shards 0 and 1 gone | 3.9 ms (509 MiB/s) | 860 µs |
//! | 4+2, format 1 (whole-object reads, as before) | 104 ms (19 MiB/s) | 116 ms |
//!
//! **Restores** (`benches/versioned_restore.sh`, the issue's versioned set:
//! the latest of three versions of 40 files of 5 MiB with 6 random 4 KiB
//! writes each, on tmpfs, five alternating rounds, medians; `OLD` = the
//! cairn-bench of the commit before shard format 2):
//!
//! | repository | restore s | peak RSS MiB | wall s |
//! |------------|-----------|--------------|--------|
//! | plain | 0.323 | 68 | 0.58 |
//! | 4+2 healthy | 0.354 (91% of plain's speed) | 94 | 0.59 |
//! | 4+2, shards 1 and 4 gone | 0.421 (77%) | 100 | 0.61 |
//! | 4+2 healthy, before (whole-object range reads) | 2.067 (16%) | 331 | 2.28 |
//! | 4+2, 2 gone, before | 1.450 (22%) | 288 | 1.72 |

mod backend;
mod call;
mod codec;
mod config;
mod error;
pub mod format;
mod heal;
pub mod heal_record;
mod health;
mod layout;
mod pool;
mod range;
mod read;
mod scrub;
mod scrub_report;
mod strays;
mod thaw;
mod verify;
mod write;

pub use backend::{ErasureBackend, RepairHint, RESERVED_PREFIX};
pub use codec::Codec;
pub use config::{Child, ErasureConfig, HealthConfig, Labels, RetryConfig, MAX_WAIT};
pub use error::{Error, Result};
pub use format::{Shard, ShardFormat, ShardHeader, HEADER_LEN};
pub use heal::{Degraded, HealReport};
pub use health::{BreakerState, ChildHealth, HealthReport};
pub use layout::{Layout, LayoutChild, LayoutCode, S3_STORAGE_CLASSES};
pub use scrub_report::{ScrubConflict, ScrubError, ScrubOptions, ScrubReport};
pub use strays::PartialKey;
pub use thaw::{ColdNeed, MemoryThaw, Thaw, ThawState};
pub use verify::{content_hash_verifier, Verdict, Verifier};
