//! Storage backends for Cairn.
//!
//! ```
//! use bytes::Bytes;
//! use cairn_backends::{Backend, LocalBackend, PutMode, RetryPolicy, Retrying};
//! # let dir = tempfile::tempdir().unwrap();
//! // Any executor drives the futures; file I/O runs on a thread pool.
//! futures::executor::block_on(async {
//!     let store = Retrying::new(LocalBackend::new(dir.path())?, RetryPolicy::default());
//!     store.put("snapshots/1", Bytes::from_static(b"hello"), PutMode::CreateOnly).await?;
//!     // Objects are immutable: a second create-only put of the key fails.
//!     let again = store.put("snapshots/1", Bytes::from_static(b"other"), PutMode::CreateOnly).await;
//!     assert!(again.unwrap_err().is_already_exists());
//!     assert_eq!(store.get_range("snapshots/1", 1..3).await?, Bytes::from_static(b"el"));
//!     let missing = store.get("snapshots/2").await;
//!     assert!(missing.unwrap_err().is_not_found());
//!     Ok::<(), cairn_backends::Error>(())
//! })?;
//! # Ok::<(), cairn_backends::Error>(())
//! ```
//!
//! The [`Backend`] trait is everything Cairn asks of a place that stores
//! objects: create-only puts, whole and ranged gets, stat, streamed listing
//! and delete, with typed errors ([`Error`]) that say whether trying again may
//! help ([`Error::is_transient`]). Its docs state the semantics every
//! implementation keeps; the conformance suite in `testing` checks them.
//!
//! - [`MemoryBackend`]: a map in memory, for tests and caches.
//! - [`LocalBackend`]: a directory tree; durable (temporary file, fsync,
//!   atomic move, directory fsync), create-only through hard links.
//! - Object stores (S3 and others) through the `object_store` crate, behind
//!   the `object-store` / `s3` features.
//! - [`AppendOnly`]: refuses deletes and overwrites, for backup hosts
//!   whose key must not be able to destroy history.
//! - [`Prefixed`]: one store seen under a key prefix (a repository's
//!   tenants live in such namespaces).
//! - [`Retrying`]: retries transient errors of any backend with exponential
//!   backoff and jitter, interpreting outcomes a lost reply makes ambiguous.
//! - [`RateLimited`]: holds any backend to upload, download and request
//!   rates ([`RateLimits`], token buckets of a [`Limiter`] that backends may
//!   share).
//!
//! Stores that keep each object as several pieces (an erasure layout)
//! implement [`PartialObjects`] too: the pieces that form no object, which
//! listings do not show, found and removed.
//!
//! Keys are `/`-separated relative paths checked by [`validate_key`].
//! Futures make no runtime assumptions: they run under tokio, smol or
//! `futures::executor::block_on` alike.
//!
//! # Features
//!
//! - `testing`: the `testing` module — the conformance suite every backend's
//!   tests run (`testing::run_conformance`) and fault-injecting wrappers
//!   (fail after N operations, flaky, latency, corruption, loss, counting).
//! - `object-store`, `s3`: object-store backends.

mod backend;
mod error;
mod key;
mod partial;

pub use backend::{Backend, ObjectMeta, PutMode};
pub use error::{Error, Result};
pub use key::{validate_key, MAX_KEY_LEN};
pub use partial::PartialObjects;

mod append_only;
pub use append_only::AppendOnly;
mod prefixed;
pub use prefixed::Prefixed;

// Owned by the backends work: in-memory and local-directory stores, retries.
pub mod instrumented;
mod local;
mod memory;
mod retry;
mod util;
pub use instrumented::Instrumented;
pub use local::LocalBackend;
pub use memory::MemoryBackend;
pub use retry::{RetryPolicy, Retrying};
mod ratelimit;
pub use ratelimit::{Limiter, LimiterStats, Meter, RateLimited, RateLimits};

// The conformance suite every backend's tests run, and fault-injecting wrappers
// (documented in the module).
#[cfg(feature = "testing")]
pub mod testing;

// Owned by the object-store work: S3 and other stores through `object_store`.
#[cfg(feature = "object-store")]
mod object_store_backend;
/// The `object_store` crate, for building stores Cairn has no location
/// syntax for (GCS with feature `gcs`, Azure with feature `azure`): build
/// one with its builder and wrap it in [`ObjectStoreBackend::new`].
#[cfg(feature = "object-store")]
pub use object_store;
#[cfg(feature = "object-store")]
pub use object_store_backend::*;
