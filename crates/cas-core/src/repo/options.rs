//! [`InitOptions`]: the settings of a new repository.

use cairn_chunking::ChunkerConfig;
use cairn_crypto::KdfParams;

use super::DEFAULT_PACK_SIZE;
use crate::blob::Compression;
use crate::CpuPool;

/// Settings for a new repository.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Chunker parameters (fixed for the repository's life).
    pub chunker: ChunkerConfig,
    /// Compression for new blobs.
    pub compression: Compression,
    /// Target pack size in bytes (1 MiB ..= 1 GiB).
    pub pack_size: u64,
    /// Argon2id parameters of the first key file.
    pub kdf: KdfParams,
    /// Label of the first key file (default `user@host`).
    pub label: Option<String>,
    /// Where the new handle runs its CPU-heavy work (see [`CpuPool`]).
    pub cpu_pool: CpuPool,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            chunker: ChunkerConfig::default(),
            compression: Compression::default(),
            pack_size: DEFAULT_PACK_SIZE,
            kdf: KdfParams::default(),
            label: None,
            cpu_pool: CpuPool::default(),
        }
    }
}

impl InitOptions {
    /// Runs the new handle's CPU-heavy work on `pool` (see [`CpuPool`]).
    pub fn cpu_pool(mut self, pool: CpuPool) -> Self {
        self.cpu_pool = pool;
        self
    }
    /// Sets the chunker parameters.
    pub fn chunker(mut self, c: ChunkerConfig) -> Self {
        self.chunker = c;
        self
    }
    /// Sets the compression.
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }
    /// Sets the target pack size.
    pub fn pack_size(mut self, bytes: u64) -> Self {
        self.pack_size = bytes;
        self
    }
    /// Sets the key file's KDF parameters. A key file costing more than
    /// [`OpenOptions::default`](crate::OpenOptions::default)'s ceiling (4 × the default cost) is skipped
    /// by [`Repository::open`](crate::Repository::open); open it with [`Repository::open_with`](crate::Repository::open_with).
    pub fn kdf(mut self, kdf: KdfParams) -> Self {
        self.kdf = kdf;
        self
    }
    /// Sets the first key file's label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
}
