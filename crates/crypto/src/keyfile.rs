//! Key files: the master key wrapped under a password.
//!
//! A repository can have several key files (one per user or device), all wrapping
//! the same master key; data is never re-encrypted when a password changes.
//! To change a password, [`KeyFile::open`] with the old one and [`KeyFile::create`]
//! a new file with the new one, then delete the old file.
//!
//! # Layout, version 1 (DO NOT CHANGE: existing repositories depend on it)
//!
//! All integers little-endian.
//!
//! ```text
//! offset  length  field
//! 0       8       magic "CAIRNKEY"
//! 8       1       version = 0x01
//! 9       1       KDF id = 0x01 (Argon2id, Argon2 version 0x13, 32-byte output)
//! 10      4       m_cost_kib (u32)
//! 14      4       t_cost (u32)
//! 18      4       p_cost (u32)
//! 22      32      Argon2 salt (random)
//! 54      81      the 32-byte master key as a sealed message (see `seal.rs`):
//!                 version 0x01 | salt (32) | ciphertext (32) | tag (16),
//!                 sealed with SealingKey(Argon2id(password, salt, params)),
//!                 associated data = bytes 0..54 (the whole header above)
//! 135             end (the length is exact)
//! ```
//!
//! Binding the header as associated data means a modified parameter, salt or KDF id
//! fails to open instead of silently deriving another key.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::kdf::KdfParams;
use crate::keys::MasterKey;
use crate::primitives;
use crate::seal::SealingKey;

const MAGIC: &[u8; 8] = b"CAIRNKEY";
const VERSION: u8 = 1;
const KDF_ARGON2ID: u8 = 1;
const SALT_LEN: usize = 32;
const HEADER_LEN: usize = 8 + 1 + 1 + 4 + 4 + 4 + SALT_LEN;
const SEALED_LEN: usize = 32 + SealingKey::OVERHEAD;
const FILE_LEN: usize = HEADER_LEN + SEALED_LEN;

/// A master key wrapped under a password-derived key. See the [module docs](self)
/// for the byte layout.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyFile {
    params: KdfParams,
    salt: [u8; SALT_LEN],
    sealed: [u8; SEALED_LEN],
}

impl KeyFile {
    /// Length of a serialized key file in bytes.
    pub const LEN: usize = FILE_LEN;

    /// Wraps `master` under `password` with fresh random salts. Takes about as long
    /// as one [`open`](Self::open).
    ///
    /// # Errors
    /// [`Error::Random`] if the OS generator fails; [`Error::Kdf`] if Argon2's memory
    /// cannot be allocated.
    pub fn create(master: &MasterKey, password: &[u8], params: KdfParams) -> Result<Self> {
        let mut kdf_salt = [0u8; SALT_LEN];
        let mut seal_salt = [0u8; 32];
        primitives::fill_random(&mut kdf_salt)?;
        primitives::fill_random(&mut seal_salt)?;
        Self::create_with_salts(master, password, params, kdf_salt, &seal_salt)
    }

    /// Deterministic core of [`create`](Self::create); salts MUST be random outside tests.
    pub(crate) fn create_with_salts(
        master: &MasterKey,
        password: &[u8],
        params: KdfParams,
        kdf_salt: [u8; SALT_LEN],
        seal_salt: &[u8; 32],
    ) -> Result<Self> {
        let header = header(params, &kdf_salt);
        let wrapping = SealingKey::from_key(&*params.derive_key(password, &kdf_salt)?);
        let mut sealed_vec = Vec::with_capacity(SEALED_LEN);
        wrapping.seal_into_with_salt(seal_salt, master.expose_bytes(), &header, &mut sealed_vec)?;
        let mut sealed = [0u8; SEALED_LEN];
        if sealed_vec.len() != SEALED_LEN {
            return Err(Error::MalformedKeyFile {
                reason: "sealed master key has an unexpected length",
            });
        }
        sealed.copy_from_slice(&sealed_vec);
        Ok(Self {
            params,
            salt: kdf_salt,
            sealed,
        })
    }

    /// Unwraps the master key.
    ///
    /// # Errors
    /// [`Error::WrongPassword`] if `password` is wrong (or the sealed key is corrupt);
    /// [`Error::Kdf`] if Argon2's memory cannot be allocated.
    pub fn open(&self, password: &[u8]) -> Result<MasterKey> {
        let header = header(self.params, &self.salt);
        let wrapping = SealingKey::from_key(&*self.params.derive_key(password, &self.salt)?);
        let plain = Zeroizing::new(match wrapping.open(&self.sealed, &header) {
            Ok(p) => p,
            Err(Error::DecryptionFailed) => return Err(Error::WrongPassword),
            Err(e) => return Err(e),
        });
        let bytes = <&[u8; 32]>::try_from(&plain[..]).map_err(|_| Error::MalformedKeyFile {
            reason: "sealed master key is not 32 bytes",
        })?;
        Ok(MasterKey::from_key(bytes))
    }

    /// The serialized key file ([`KeyFile::LEN`] bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FILE_LEN);
        out.extend_from_slice(&header(self.params, &self.salt));
        out.extend_from_slice(&self.sealed);
        out
    }

    /// Parses a serialized key file. Checks the magic, versions, length and Argon2
    /// parameters (with [`KdfParams::new`]'s bounds) without allocating, so a hostile
    /// file is rejected before [`open`](Self::open) would spend memory or time on it.
    ///
    /// # Errors
    /// [`Error::MalformedKeyFile`] for a wrong magic, KDF id or length;
    /// [`Error::UnsupportedVersion`] for an unknown version;
    /// [`Error::InvalidKdfParams`] for out-of-range parameters.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let magic_len = MAGIC.len().min(bytes.len());
        if bytes[..magic_len] != MAGIC[..magic_len] {
            return Err(Error::MalformedKeyFile {
                reason: "bad magic (not a Cairn key file)",
            });
        }
        let Some(&version) = bytes.get(MAGIC.len()) else {
            return Err(Error::MalformedKeyFile {
                reason: "truncated before the version byte",
            });
        };
        if version != VERSION {
            return Err(Error::UnsupportedVersion { found: version });
        }
        if bytes.len() != FILE_LEN {
            return Err(Error::MalformedKeyFile {
                reason: if bytes.len() < FILE_LEN {
                    "truncated (a version 1 key file is 135 bytes)"
                } else {
                    "trailing bytes (a version 1 key file is 135 bytes)"
                },
            });
        }
        if bytes[9] != KDF_ARGON2ID {
            return Err(Error::MalformedKeyFile {
                reason: "unknown key derivation function id",
            });
        }
        let u32_at = |at: usize| {
            let mut le = [0u8; 4];
            le.copy_from_slice(&bytes[at..at + 4]);
            u32::from_le_bytes(le)
        };
        let params = KdfParams::new(u32_at(10), u32_at(14), u32_at(18))?;
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&bytes[22..HEADER_LEN]);
        let mut sealed = [0u8; SEALED_LEN];
        sealed.copy_from_slice(&bytes[HEADER_LEN..]);
        if sealed[0] != VERSION {
            return Err(Error::UnsupportedVersion { found: sealed[0] });
        }
        Ok(Self {
            params,
            salt,
            sealed,
        })
    }

    /// The Argon2 parameters this file was created with (what [`open`](Self::open)
    /// will cost).
    pub fn params(&self) -> KdfParams {
        self.params
    }
}

fn header(params: KdfParams, salt: &[u8; SALT_LEN]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8] = VERSION;
    h[9] = KDF_ARGON2ID;
    h[10..14].copy_from_slice(&params.m_cost_kib.to_le_bytes());
    h[14..18].copy_from_slice(&params.t_cost.to_le_bytes());
    h[18..22].copy_from_slice(&params.p_cost.to_le_bytes());
    h[22..].copy_from_slice(salt);
    h
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Nothing here is secret, but the wrapped key is noise to a reader.
        f.debug_struct("KeyFile")
            .field("version", &VERSION)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}
