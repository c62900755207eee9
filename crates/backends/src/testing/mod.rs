//! The conformance suite every backend's tests run, and fault-injecting
//! wrappers for testing what is built on backends (enabled by the `testing`
//! feature).
//!
//! # Conformance
//!
//! [`run_conformance`] checks that a [`Backend`](crate::Backend) keeps the
//! trait's promises, panicking with a message naming the check and the key on
//! the first broken one. Its parts (`check_*`) are public too, so a wrapper
//! whose behaviour is only defined for some operations can run just those.
//! Everything the suite writes is under [`Capabilities::prefix`], which it
//! empties before each check and leaves empty.
//!
//! ```
//! use cairn_backends::MemoryBackend;
//! use cairn_backends::testing::{run_conformance, Capabilities};
//! futures::executor::block_on(run_conformance(
//!     &MemoryBackend::new(),
//!     &Capabilities::default().with_list_count(500),
//! ));
//! ```
//!
//! # Fault injection
//!
//! Each wrapper implements `Backend` around any backend `B` (including
//! `Arc<dyn Backend>`) and injects one kind of trouble; stack them as needed.
//! Injected errors are [`Error::Backend`](crate::Error::Backend) with a
//! message starting with `injected:`.
//!
//! | wrapper | trouble |
//! |---|---|
//! | [`FailAfter`] | every operation after the first `n` fails for good (a crash) |
//! | [`Flaky`] | a seeded fraction of operations fail transiently, puts before or after applying |
//! | [`Latency`] | a fixed delay, plus seeded jitter, before each operation |
//! | [`Corrupting`] | reads return data with one byte flipped |
//! | [`Lossy`] | objects vanish, or puts are acknowledged and dropped |
//! | [`Counting`] | nothing: counts operations and bytes |

mod check;
mod counting;
mod faults;
#[cfg(feature = "s3")]
mod s3_class;
mod s3_server;
mod suite;
mod suite_list;
mod wrappers;

pub use counting::{Counting, OpCounts};
pub use faults::{FailAfter, Flaky, PutFailure};
#[cfg(feature = "s3")]
pub use s3_class::s3_storage_class;
pub use s3_server::{s3_test_server, S3TestServer};
pub use suite::{
    check_invalid_keys, check_large_object, check_not_found, check_put_get, check_ranges,
    run_conformance,
};
pub use suite_list::{
    check_concurrent_create_only, check_list_many, check_list_prefixes, check_unicode_keys,
};
pub use wrappers::{Corrupting, Latency, Lossy};

/// What a backend under test can do, and how hard to test it.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct Capabilities {
    /// Every key the suite writes starts with this (default `"conformance/"`).
    /// The suite deletes everything under it.
    pub prefix: String,
    /// Whether of several concurrent create-only puts of one key exactly one
    /// succeeds (default `true`); if not, that check is skipped.
    pub atomic_create_only: bool,
    /// How many keys the listing check writes and lists (default 10 000).
    pub list_count: usize,
    /// How many operations the suite runs at once when writing many keys
    /// (default 32).
    pub concurrency: usize,
    /// How many create-only puts race for one key (default 8).
    pub racers: usize,
    /// The size of the large object round-tripped (default 5 MiB).
    pub large_object_size: usize,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            prefix: "conformance/".to_owned(),
            atomic_create_only: true,
            list_count: 10_000,
            concurrency: 32,
            racers: 8,
            large_object_size: 5 << 20,
        }
    }
}

impl Capabilities {
    /// Sets [`prefix`](Self::prefix); a `/` is appended if missing (the
    /// suite's keys must not extend another key's last segment).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        if !self.prefix.ends_with('/') {
            self.prefix.push('/');
        }
        self
    }

    /// Sets [`atomic_create_only`](Self::atomic_create_only).
    pub fn with_atomic_create_only(mut self, atomic: bool) -> Self {
        self.atomic_create_only = atomic;
        self
    }

    /// Sets [`list_count`](Self::list_count).
    pub fn with_list_count(mut self, count: usize) -> Self {
        self.list_count = count;
        self
    }

    /// Sets [`concurrency`](Self::concurrency) (at least 1).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Sets [`racers`](Self::racers) (at least 2).
    pub fn with_racers(mut self, racers: usize) -> Self {
        self.racers = racers.max(2);
        self
    }

    /// Sets [`large_object_size`](Self::large_object_size).
    pub fn with_large_object_size(mut self, size: usize) -> Self {
        self.large_object_size = size;
        self
    }
}

/// Reproducible pseudo-random bytes: `len` bytes from `seed` (SplitMix64).
pub fn pattern(seed: u64, len: usize) -> bytes::Bytes {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out.into()
}
