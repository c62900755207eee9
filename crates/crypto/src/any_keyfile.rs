//! [`AnyKeyFile`]: reading a key file of either version.

use crate::error::Result;
use crate::kdf::KdfParams;
use crate::keyfile::KeyFile;
use crate::keyfile2::{KeyFileV2, OpenedKey, MAGIC, VERSION, VERSION_3};
use crate::role::Role;

/// A key file of any supported version.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyKeyFile {
    /// Version 1: an admin without an authority.
    V1(KeyFile),
    /// Version 2 or 3 (3 adds a key-exchange key).
    V2(KeyFileV2),
}

impl AnyKeyFile {
    /// Parses either version (dispatching on the version byte).
    ///
    /// # Errors
    /// As [`KeyFile::from_bytes`] and [`KeyFileV2::from_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        match bytes.get(8) {
            Some(&VERSION | &VERSION_3) if bytes.starts_with(MAGIC) => {
                KeyFileV2::from_bytes(bytes).map(Self::V2)
            }
            _ => KeyFile::from_bytes(bytes).map(Self::V1),
        }
    }

    /// Argon2 parameters.
    pub fn params(&self) -> KdfParams {
        match self {
            Self::V1(f) => f.params(),
            Self::V2(f) => f.params(),
        }
    }

    /// The serialized file.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::V1(f) => f.to_bytes(),
            Self::V2(f) => f.to_bytes(),
        }
    }

    /// The format version (1, 2 or 3).
    pub fn version(&self) -> u8 {
        match self {
            Self::V1(_) => 1,
            Self::V2(f) => f.version(),
        }
    }

    /// The role claimed (version 1: admin).
    pub fn role(&self) -> Role {
        match self {
            Self::V1(_) => Role::Admin,
            Self::V2(f) => f.role(),
        }
    }

    /// Opens the file.
    ///
    /// # Errors
    /// As the version's own `open`.
    pub fn open(&self, password: &[u8]) -> Result<OpenedKey> {
        match self {
            Self::V1(f) => Ok(OpenedKey {
                master: f.open(password)?,
                role: Role::Admin,
                authority: None,
                admin: None,
                exchange: None,
            }),
            Self::V2(f) => f.open(password),
        }
    }
}
