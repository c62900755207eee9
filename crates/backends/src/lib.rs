//! Storage backends for Cairn.
//!
//! The [`Backend`] trait is everything Cairn asks of a place that stores
//! objects: create-only puts, whole and ranged gets, stat, streamed listing
//! and delete, with typed errors that say whether trying again may help.

mod backend;
mod error;
mod key;

pub use backend::{Backend, ObjectMeta, PutMode};
pub use error::{Error, Result};
pub use key::{validate_key, MAX_KEY_LEN};

// Owned by the backends work: in-memory and local-directory stores, retries.
mod local;
mod memory;
mod retry;
mod util;
pub use local::LocalBackend;
pub use memory::MemoryBackend;
pub use retry::{RetryPolicy, Retrying};

/// The conformance suite every backend's tests run, and fault-injecting wrappers.
#[cfg(feature = "testing")]
pub mod testing;

// Owned by the object-store work: S3 and other stores through `object_store`.
#[cfg(feature = "object-store")]
mod object_store_backend;
#[cfg(feature = "object-store")]
pub use object_store_backend::*;
