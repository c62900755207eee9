//! The one error type of `cairn-erasure`.
//!
//! Rules: one `#[non_exhaustive]` enum for the crate, with named fields
//! (`NotEnoughShards { have, need, .. }`); a child backend's error is kept as
//! `source()`; when this crate answers through the `Backend` trait its
//! errors travel inside `cairn_backends::Error` as the source, so they stay
//! downcastable; [`Error::is_transient`] says whether retrying may help. What
//! a scrub or heal *finds* goes in its report (`ScrubError`), not here.

/// What can go wrong coding, storing or repairing erasure-coded objects.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `k` and `m` do not describe a usable Reed-Solomon code over GF(2^8).
    #[error("invalid erasure parameters k={k}, m={m}: {reason}")]
    InvalidParameters {
        /// Data shards asked for.
        k: usize,
        /// Parity shards asked for.
        m: usize,
        /// Which rule they break (`k >= 1`, `m >= 1`, `k + m <= 255`).
        reason: &'static str,
    },
    /// An [`ErasureConfig`](crate::ErasureConfig) or child list that cannot work.
    #[error("invalid erasure configuration: {reason}")]
    InvalidConfig {
        /// What is wrong with it.
        reason: String,
    },
    /// The children's labels cannot satisfy the placement rules.
    #[error(
        "impossible placement: region {region:?} would hold {shards} shards, more than the {max} allowed"
    )]
    PlacementImpossible {
        /// The region that holds too many children.
        region: String,
        /// How many shards it would hold.
        shards: usize,
        /// `max_shards_per_region`.
        max: usize,
    },
    /// A shard's header or length is malformed, or its checksum does not match:
    /// the bytes were damaged, truncated or are not a shard of this code.
    #[error("bad shard {index:?} of {key:?}: {reason}")]
    BadShard {
        /// The object the shard belongs to (empty when the codec is used
        /// without a key).
        key: String,
        /// The shard's position, when known.
        index: Option<usize>,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Fewer than `need` consistent, verified shards of the object could be read.
    #[error("not enough shards of {key:?}: have {have}, need {need}")]
    NotEnoughShards {
        /// The object (empty when the codec is used without a key).
        key: String,
        /// Good shards of the most complete version found.
        have: usize,
        /// Shards needed to decode (`k`).
        need: usize,
    },
    /// Fewer than `need` shards could be read because cold children
    /// refused theirs (archived objects that need a restore request): the
    /// read did not wait for thaws ([`ErasureConfig::thaw_wait`](crate::ErasureConfig::thaw_wait)
    /// unset, or no [`Thaw`](crate::Thaw) on those children), or the
    /// shards stayed unreadable after their restores. Thaw them
    /// ([`ErasureBackend::thaw_for_degraded_read`](crate::ErasureBackend::thaw_for_degraded_read))
    /// and read again.
    #[error(
        "not enough shards of {key:?}: have {have}, need {need}; cold children refused theirs (restore them first): {}",
        cold.join(", ")
    )]
    ColdShardsUnreadable {
        /// The object.
        key: String,
        /// Good shards of the most complete version found.
        have: usize,
        /// Shards needed to decode (`k`).
        need: usize,
        /// The cold children that refused, as `child INDEX (NAME)`.
        cold: Vec<String>,
    },
    /// A degraded read asked cold children to restore the shards it needs
    /// and they were still pending after [`ErasureConfig::thaw_wait`](crate::ErasureConfig::thaw_wait).
    /// The requests stay issued: a later read finds them done. Not
    /// transient: the wait already was the retry, and retrying at once
    /// would wait that long again.
    #[error(
        "restores of {key:?} still pending after {waited_ms} ms: {}",
        pending.join(", ")
    )]
    ThawPending {
        /// The object.
        key: String,
        /// The cold children whose restore is in flight, as `child INDEX (NAME)`.
        pending: Vec<String>,
        /// How long the read waited.
        waited_ms: u64,
    },
    /// The decoded object does not match the checksum its shards carry.
    #[error("decoded object {key:?} fails its checksum")]
    ObjectChecksum {
        /// The object.
        key: String,
    },
    /// A write was acknowledged by fewer children than the write quorum.
    ///
    /// This does not mean "nothing was stored": the shards written are
    /// deleted again, but a child that timed out may still complete its
    /// write later (a hung server that wakes up). For Cairn's create-only,
    /// content-addressed objects that is harmless (scrub completes or the
    /// next write finds them); callers overwriting keys must not assume the
    /// old version survives.
    #[error(
        "write of {key:?} reached {acked} of the {needed} shards its quorum needs: {first_error}"
    )]
    QuorumNotReached {
        /// The object written.
        key: String,
        /// Shards durably written.
        acked: usize,
        /// The write quorum.
        needed: usize,
        /// The first child error seen, for diagnosis.
        first_error: String,
    },
    /// A listing that cannot prove it is complete: so many children failed
    /// to list that an object could have all its shards on them (see
    /// [`ErasureBackend`](crate::ErasureBackend), "Listing"). Through the
    /// [`Backend`](cairn_backends::Backend) trait this is
    /// [`cairn_backends::Error::Incomplete`].
    #[error("listing of {prefix:?} is incomplete: {} of the children failed (at most {tolerated} may): {}", failed.len(), failed.join("; "))]
    IncompleteListing {
        /// The prefix listed.
        prefix: String,
        /// Each child that failed: its name and its error.
        failed: Vec<String>,
        /// How many failed listings a complete listing tolerates (`k - 1`).
        tolerated: usize,
    },
    /// A child backend failed in a way that decides the whole operation.
    #[error(transparent)]
    Backend {
        /// The child's error (it names the key).
        #[from]
        source: cairn_backends::Error,
    },
    /// The Reed-Solomon library refused an operation Cairn believed valid.
    #[error("reed-solomon error on {key:?}: {reason}")]
    Codec {
        /// The object concerned.
        key: String,
        /// The library's description.
        reason: String,
    },
    /// A layout file that does not parse or does not fit the schema.
    #[error("erasure layout {origin}: {reason}")]
    InvalidLayout {
        /// Where the layout came from (its path).
        origin: String,
        /// What is wrong, with the line where the parser knows it.
        reason: String,
    },
}

impl Error {
    /// Whether the same call may succeed if tried again: a child error that
    /// says so, or a write that missed its quorum. [`Error::NotEnoughShards`]
    /// is not transient: the shards may be lost for good, and a read error
    /// must be reported rather than retried away (its children's own errors
    /// are in [`ErasureBackend::health_report`](crate::ErasureBackend::health_report)).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Backend { source } => source.is_transient(),
            Error::QuorumNotReached { .. } => true,
            _ => false,
        }
    }

    /// The same error about `key` (the codec does not know object names).
    pub(crate) fn with_key(self, name: &str) -> Self {
        match self {
            Error::BadShard { index, reason, .. } => Error::BadShard {
                key: name.to_owned(),
                index,
                reason,
            },
            Error::NotEnoughShards { have, need, .. } => Error::NotEnoughShards {
                key: name.to_owned(),
                have,
                need,
            },
            Error::ObjectChecksum { .. } => Error::ObjectChecksum {
                key: name.to_owned(),
            },
            Error::Codec { reason, .. } => Error::Codec {
                key: name.to_owned(),
                reason,
            },
            other => other,
        }
    }
}

/// Through the [`Backend`](cairn_backends::Backend) trait, child errors pass
/// unchanged, an incomplete listing becomes
/// [`cairn_backends::Error::Incomplete`], and every other erasure error
/// becomes [`cairn_backends::Error::Wrapped`], which keeps it whole as its
/// `source()`: callers above (cas-core, recovery, the `cairn` facade) can
/// downcast it back to, say, [`Error::NotEnoughShards`].
impl From<Error> for cairn_backends::Error {
    fn from(e: Error) -> Self {
        let transient = e.is_transient();
        match e {
            Error::Backend { source } => source,
            Error::IncompleteListing { ref prefix, .. } => cairn_backends::Error::Incomplete {
                key: prefix.clone(),
                message: e.to_string(),
            },
            Error::NotEnoughShards { ref key, .. }
            | Error::ColdShardsUnreadable { ref key, .. }
            | Error::ThawPending { ref key, .. }
            | Error::ObjectChecksum { ref key }
            | Error::QuorumNotReached { ref key, .. }
            | Error::BadShard { ref key, .. }
            | Error::Codec { ref key, .. } => cairn_backends::Error::Wrapped {
                key: key.clone(),
                transient,
                source: Box::new(e),
            },
            other => cairn_backends::Error::Wrapped {
                key: String::new(),
                transient,
                source: Box::new(other),
            },
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
