//! [`OpenOptions`]: how the facade opens a repository — the repository
//! layer's options (key file cost ceilings, the metadata cache) plus what
//! wraps the storage (rate limits, append-only).

use std::sync::Arc;

use crate::cas::CacheOptions;
use cairn_backends::{AppendOnly, Backend, RateLimited, RateLimits};
use cairn_crypto::KdfParams;

/// How to open a repository ([`Repository::open_with`](crate::Repository::open_with)).
/// `Default`: no cache, no rate limits, deletes allowed, key files up to
/// four times the default KDF cost.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The repository layer's options (KDF ceilings, the metadata cache).
    pub repository: crate::cas::OpenOptions,
    /// Upload and download rates for the repository's traffic (none by
    /// default). On an erasure layout they apply to objects before they
    /// become shards, so the children together move (k + m) / k times as
    /// much; a scrub, which works on the shards, is not limited.
    pub rate_limits: RateLimits,
    /// Never delete or overwrite anything (for backup hosts; pair it with
    /// storage credentials that cannot delete): backups work, forget and
    /// prune fail.
    pub append_only: bool,
}

impl OpenOptions {
    /// Reads index objects, snapshot records and trees through a local
    /// cache; `None` (the default) caches nothing on this machine.
    pub fn cache(mut self, cache: impl Into<Option<CacheOptions>>) -> Self {
        self.repository = self.repository.cache(cache);
        self
    }
    /// Key files costing more memory, or more memory × passes, than `kdf`
    /// are skipped instead of run.
    pub fn kdf_ceiling(mut self, kdf: KdfParams) -> Self {
        self.repository = self.repository.kdf_ceiling(kdf);
        self
    }
    /// Runs the repository's CPU-heavy work (key derivation, index
    /// decoding, opening blobs for restores and checks) on `pool` instead
    /// of rayon's global pool. A backup's chunking and sealing run on its
    /// own workers ([`BackupOptions::threads`](crate::BackupOptions)).
    pub fn cpu_pool(mut self, pool: std::sync::Arc<crate::cas::rayon::ThreadPool>) -> Self {
        self.repository = self.repository.cpu_pool(crate::cas::CpuPool::new(pool));
        self
    }
    /// Holds the repository's traffic to `limits`.
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }
    /// Refuses every delete and overwrite.
    pub fn append_only(mut self, on: bool) -> Self {
        self.append_only = on;
        self
    }

    /// `backend` wrapped as these options ask: append-only inside, the
    /// rate limiter outside (a refused delete costs no tokens).
    pub(crate) fn wrap(&self, mut backend: Arc<dyn Backend>) -> Arc<dyn Backend> {
        if self.append_only {
            backend = Arc::new(AppendOnly::new(backend));
        }
        if !self.rate_limits.is_unlimited() {
            backend = Arc::new(RateLimited::new(backend, self.rate_limits.clone()));
        }
        backend
    }
}
