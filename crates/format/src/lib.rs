//! The vocabulary of a Cairn repository: the on-disk formats, ids, the error
//! type and the small pieces every room of the repository shares.
//!
//! ```
//! use cairn_format::{SnapshotId, SnapshotQuery};
//!
//! let id: SnapshotId = "00".repeat(32).parse()?;
//! let query = SnapshotQuery::latest();
//! assert_eq!(id.to_string(), "00".repeat(32));
//! # let _ = query;
//! # Ok::<(), cairn_format::Error>(())
//! ```
//!
//! # What lives here
//!
//! - the formats of untrusted bytes, each documented next to its code with
//!   its magic and version: blobs (`blob`), packs (`pack`, `CRNP`), index
//!   objects (`index`), trees (`tree`), snapshot records and the config
//!   (`snapshot`, `CRNR`/`CRNC`), and the local cache files (`cache`);
//! - typed ids ([`SnapshotId`], [`TreeId`], [`PackId`]), snapshot
//!   queries ([`SnapshotQuery`]) and path patterns ([`Patterns`],
//!   [`Filter`]);
//! - the one error type of the repository crates ([`Error`]), the
//!   cancellation token ([`CancelToken`]) and the CPU pool ([`CpuPool`]);
//! - the in-memory [`Index`] and the on-disk metadata cache ([`MetaCache`]).
//!
//! It knows nothing of keys files, sessions or the storage layout: that is
//! `cairn-cas-core`, which re-exports everything public here. The modules
//! are public (but hidden) only for the crates of the repository built on
//! this one; they are not a stable API.

#[doc(hidden)]
pub mod blob;
#[doc(hidden)]
pub mod bytes_io;
pub mod cache;
#[doc(hidden)]
pub mod cancel;
#[doc(hidden)]
pub mod cpu;
#[doc(hidden)]
pub mod error;
#[doc(hidden)]
pub mod filter;
#[doc(hidden)]
pub mod id;
#[doc(hidden)]
pub mod index;
#[doc(hidden)]
pub mod pack;
#[doc(hidden)]
pub mod query;
#[doc(hidden)]
pub mod snapshot;
#[doc(hidden)]
pub mod tree;

pub use blob::{BlobKind, Compression, MAX_BLOB_SIZE};
pub use cache::{default_cache_dir, CacheOptions, CacheStats, MetaCache};
pub use cancel::{CancelToken, Cancelled};
pub use cpu::CpuPool;
pub use error::{Error, Result};
pub use filter::{parse_size, Filter, Patterns, CACHEDIR_TAG_SIGNATURE};
pub use id::{IdPrefix, SnapshotId, TreeId};
pub use index::{BlobLocation, Index};
/// The time type of the API (snapshot times, query bounds).
pub use jiff;
pub use pack::{FinishedPack, PackEntry, PackId, MAX_PACK_SIZE};
pub use query::SnapshotQuery;
/// The thread pool crate a host builds a [`CpuPool`] from.
pub use rayon;
pub use snapshot::{snapshot_key, BackupSummary, RepoConfig, Snapshot};
pub use tree::{Node, NodeKind, Timestamp, Tree};
