//! Key files, versions 2 and 3: a role, a creation time, a label, and the admin
//! authority (see [`sign`](crate::sign)).
//!
//! Version 1 files ([`KeyFile`](crate::KeyFile)) stay readable and open as admin keys that
//! carry no authority (they cannot sign); [`AnyKeyFile`](crate::AnyKeyFile) reads both.
//!
//! # Layout, version 2 (DO NOT CHANGE: add a version 3 instead)
//!
//! All integers little-endian; `L` is the label length.
//!
//! ```text
//! offset   length  field
//! 0        8       magic "CAIRNKEY"
//! 8        1       version = 0x02
//! 9        1       KDF id = 0x01 (Argon2id, version 0x13, 32-byte output)
//! 10       4       m_cost_kib (u32)
//! 14       4       t_cost (u32)
//! 18       4       p_cost (u32)
//! 22       32      Argon2 salt (random)
//! 54       1       role: 0x01 admin, 0x02 backup
//! 55       8       created: seconds since the Unix epoch (u64), by the creator's clock
//! 63       1       L: label length, 0..=255
//! 64       L       label: UTF-8 ("user@host" by convention), informational
//! 64+L     32      the admin authority's ed25519 public key
//! 96+L     64      endorsement: the authority's signature (context
//!                  "cairn/v2/key-endorsement") over bytes 0..96+L
//! 160+L    n       sealed secret (see `seal.rs`) under
//!                  SealingKey(Argon2id(password, salt, params)),
//!                  associated data = bytes 0..160+L:
//!                  admin:  master key (32) || authority seed (32), n = 113
//!                  backup: master key (32),                         n = 81
//! 160+L+n          end (the length is exact)
//! ```
//!
//! # Layout, version 3 (DO NOT CHANGE): version 2 plus a key-exchange key
//!
//! Identical to version 2 (with version = 0x03) except:
//!
//! ```text
//! 64+L     32      the admin authority's ed25519 public key
//! 96+L     32      this key file's X25519 public key (see `exchange`)
//! 128+L    64      endorsement over bytes 0..128+L
//! 192+L    n       sealed secret, associated data = bytes 0..192+L:
//!                  admin:  master (32) || X25519 secret (32) || authority seed (32), n = 145
//!                  backup: master (32) || X25519 secret (32),                         n = 113
//! ```
//!
//! The X25519 public key is what a rotating admin seals a new key epoch's
//! root to (a *grant*), without knowing this file's password. Version 2 files
//! cannot receive grants; changing their password writes version 3.
//!
//! The sealed part authenticates everything before it, so whoever knows the
//! password knows the header is what the creator wrote. The endorsement lets
//! an admin, who has no other key file's password, tell key files an admin
//! created from ones planted by a master-key holder (a backup host): only the
//! authority's holder can endorse.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::exchange::{ExchangePublic, ExchangeSecret};
use crate::kdf::KdfParams;
use crate::keys::MasterKey;
use crate::primitives;
use crate::role::Role;
use crate::seal::SealingKey;
use crate::sign::{AdminKey, AdminPublicKey, PUBLIC_KEY_LEN, SIGNATURE_LEN};

mod parse;

pub(crate) const MAGIC: &[u8; 8] = b"CAIRNKEY";
/// The version byte of the format without a key-exchange key.
pub(crate) const VERSION: u8 = 2;
/// The version byte of the format with one (what `create` writes).
pub(crate) const VERSION_3: u8 = 3;
const KDF_ARGON2ID: u8 = 1;
const SALT_LEN: usize = 32;
/// Bytes before the label.
const FIXED_LEN: usize = 64;
const ENDORSEMENT_CONTEXT: &[u8] = b"cairn/v2/key-endorsement";
const SEALED_ADMIN: usize = 64 + SealingKey::OVERHEAD;
const SEALED_BACKUP: usize = 32 + SealingKey::OVERHEAD;

/// The fields of a new version 2 key file besides the secrets.
#[derive(Clone, Debug)]
pub struct KeyMeta {
    /// What the key may do.
    pub role: Role,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// A label, `user@host` by convention (at most 255 bytes).
    pub label: String,
}

/// A master key (and for admins the authority) wrapped under a password.
/// See the [module docs](self) for the byte layout.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyFileV2 {
    version: u8,
    params: KdfParams,
    salt: [u8; SALT_LEN],
    role: Role,
    created: u64,
    label: String,
    authority: [u8; PUBLIC_KEY_LEN],
    /// Version 3: the X25519 public key.
    exchange: Option<[u8; 32]>,
    endorsement: [u8; SIGNATURE_LEN],
    sealed: Vec<u8>,
}

/// What opening a key file gives.
#[derive(Debug)]
pub struct OpenedKey {
    /// The repository's master key.
    pub master: MasterKey,
    /// The key's role (version 1 files are admins).
    pub role: Role,
    /// The admin authority's public key (absent in version 1 files).
    pub authority: Option<AdminPublicKey>,
    /// The authority's signing key: admin files of version 2 and 3 only.
    pub admin: Option<AdminKey>,
    /// The key-exchange secret that opens key-epoch grants: version 3 only.
    pub exchange: Option<ExchangeSecret>,
}

impl KeyFileV2 {
    /// Wraps `master` (and, for [`Role::Admin`], the `authority`'s seed)
    /// under `password`, endorsed by `authority`.
    ///
    /// # Errors
    /// [`Error::MalformedKeyFile`] for a label over 255 bytes; [`Error::Random`];
    /// [`Error::Kdf`].
    pub fn create(
        master: &MasterKey,
        authority: &AdminKey,
        meta: &KeyMeta,
        password: &[u8],
        params: KdfParams,
    ) -> Result<Self> {
        let mut kdf_salt = [0u8; SALT_LEN];
        let mut seal_salt = [0u8; 32];
        primitives::fill_random(&mut kdf_salt)?;
        primitives::fill_random(&mut seal_salt)?;
        let exchange = ExchangeSecret::generate()?;
        Self::create_with_salts(
            master,
            authority,
            meta,
            password,
            params,
            kdf_salt,
            &seal_salt,
            Some(&exchange),
        )
    }

    /// Deterministic core of [`create`](Self::create); salts MUST be random
    /// outside tests. Without `exchange` it writes version 2 (fixtures only).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create_with_salts(
        master: &MasterKey,
        authority: &AdminKey,
        meta: &KeyMeta,
        password: &[u8],
        params: KdfParams,
        kdf_salt: [u8; SALT_LEN],
        seal_salt: &[u8; 32],
        exchange: Option<&ExchangeSecret>,
    ) -> Result<Self> {
        if meta.label.len() > 255 {
            return Err(Error::MalformedKeyFile {
                reason: "label longer than 255 bytes",
            });
        }
        let mut file = Self {
            version: if exchange.is_some() {
                VERSION_3
            } else {
                VERSION
            },
            params,
            salt: kdf_salt,
            role: meta.role,
            created: meta.created,
            label: meta.label.clone(),
            authority: authority.public().to_bytes(),
            exchange: exchange.map(|x| x.public().0),
            endorsement: [0; SIGNATURE_LEN],
            sealed: Vec::new(),
        };
        file.endorsement = authority.sign(ENDORSEMENT_CONTEXT, &file.signed_part());
        let mut secret = Zeroizing::new(master.expose_bytes().to_vec());
        if let Some(x) = exchange {
            secret.extend_from_slice(x.expose_bytes());
        }
        if meta.role == Role::Admin {
            secret.extend_from_slice(&*authority.expose_seed());
        }
        let wrapping = SealingKey::from_key(&*params.derive_key(password, &kdf_salt)?);
        let aad = file.aad();
        wrapping.seal_into_with_salt(seal_salt, &secret, &aad, &mut file.sealed)?;
        Ok(file)
    }

    /// Unwraps the secrets.
    ///
    /// # Errors
    /// [`Error::WrongPassword`] if `password` is wrong or the sealed part is
    /// corrupt; [`Error::MalformedKeyFile`] if an admin file's seed does not
    /// belong to the authority it names; [`Error::Kdf`].
    pub fn open(&self, password: &[u8]) -> Result<OpenedKey> {
        let wrapping = SealingKey::from_key(&*self.params.derive_key(password, &self.salt)?);
        let plain = Zeroizing::new(match wrapping.open(&self.sealed, &self.aad()) {
            Ok(p) => p,
            Err(Error::DecryptionFailed) => return Err(Error::WrongPassword),
            Err(e) => return Err(e),
        });
        let x_len = if self.exchange.is_some() { 32 } else { 0 };
        let expected = x_len
            + match self.role {
                Role::Admin => 64,
                Role::Backup => 32,
            };
        if plain.len() != expected {
            return Err(Error::MalformedKeyFile {
                reason: "sealed secret has the wrong length for the role",
            });
        }
        // Copied straight into the zeroized-on-drop key, no stack copy.
        let master =
            plain
                .first_chunk::<32>()
                .map(MasterKey::from_key)
                .ok_or(Error::MalformedKeyFile {
                    reason: "sealed secret has the wrong length for the role",
                })?;
        let authority = AdminPublicKey::from_bytes(&self.authority)?;
        let exchange = match &self.exchange {
            Some(public) => {
                let x = plain[32..]
                    .first_chunk::<32>()
                    .ok_or(Error::MalformedKeyFile {
                        reason: "sealed secret has the wrong length for the role",
                    })?;
                let secret = ExchangeSecret::from_key(x);
                if secret.public() != ExchangePublic(*public) {
                    return Err(Error::MalformedKeyFile {
                        reason:
                            "the sealed exchange key does not match the public key in the header",
                    });
                }
                Some(secret)
            }
            None => None,
        };
        let admin = match self.role {
            Role::Admin => {
                let mut seed = Zeroizing::new([0u8; 32]);
                seed.copy_from_slice(&plain[32 + x_len..]);
                let key = AdminKey::from_seed(&seed);
                if key.public() != authority {
                    return Err(Error::MalformedKeyFile {
                        reason: "the sealed authority does not match the public key in the header",
                    });
                }
                Some(key)
            }
            Role::Backup => None,
        };
        Ok(OpenedKey {
            master,
            role: self.role,
            authority: Some(authority),
            admin,
            exchange,
        })
    }

    /// The serialized file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.aad();
        out.extend_from_slice(&self.sealed);
        out
    }

    /// The format version: 2, or 3 (with a key-exchange key).
    pub fn version(&self) -> u8 {
        self.version
    }
    /// The X25519 public key grants are sealed to (version 3 only). Only
    /// trust it from a file [`is_endorsed_by`](Self::is_endorsed_by) the
    /// authority: the endorsement covers it.
    pub fn exchange_public(&self) -> Option<ExchangePublic> {
        self.exchange.map(ExchangePublic)
    }
    /// Argon2 parameters.
    pub fn params(&self) -> KdfParams {
        self.params
    }
    /// The role the header claims (authenticated only by opening, or by
    /// [`is_endorsed_by`](Self::is_endorsed_by)).
    pub fn role(&self) -> Role {
        self.role
    }
    /// Creation time the header claims, seconds since the Unix epoch.
    pub fn created(&self) -> u64 {
        self.created
    }
    /// The label the header claims.
    pub fn label(&self) -> &str {
        &self.label
    }
    /// The authority's public key bytes the header names.
    pub fn authority_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.authority
    }

    /// Whether `authority` endorsed this header: then role, time and label
    /// are what an admin wrote, not a planted file's claims.
    pub fn is_endorsed_by(&self, authority: &AdminPublicKey) -> bool {
        self.authority == authority.to_bytes()
            && authority
                .verify(ENDORSEMENT_CONTEXT, &self.signed_part(), &self.endorsement)
                .is_ok()
    }

    /// What identifies this key whatever bytes carry it: a hash of the
    /// endorsement (context `"cairn/v1/key-identity"`). The endorsed header
    /// fixes the salt, the KDF cost and the X25519 key, but the sealed part
    /// can be sealed again (another password, a fresh nonce) by whoever can
    /// open it, giving other bytes and so another object name; those copies
    /// keep this identity, so a revocation keyed on it covers them all.
    pub fn identity(&self) -> [u8; 32] {
        blake3::derive_key("cairn/v1/key-identity", &self.endorsement)
    }

    /// Bytes 0..96+L: everything the endorsement covers.
    fn signed_part(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(FIXED_LEN + self.label.len() + PUBLIC_KEY_LEN);
        h.extend_from_slice(MAGIC);
        h.push(self.version);
        h.push(KDF_ARGON2ID);
        h.extend_from_slice(&self.params.m_cost_kib.to_le_bytes());
        h.extend_from_slice(&self.params.t_cost.to_le_bytes());
        h.extend_from_slice(&self.params.p_cost.to_le_bytes());
        h.extend_from_slice(&self.salt);
        h.push(self.role.to_byte());
        h.extend_from_slice(&self.created.to_le_bytes());
        h.push(self.label.len() as u8);
        h.extend_from_slice(self.label.as_bytes());
        h.extend_from_slice(&self.authority);
        if let Some(x) = &self.exchange {
            h.extend_from_slice(x);
        }
        h
    }

    /// Bytes 0..160+L: the associated data of the sealed part.
    fn aad(&self) -> Vec<u8> {
        let mut h = self.signed_part();
        h.extend_from_slice(&self.endorsement);
        h
    }
}

impl fmt::Debug for KeyFileV2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFileV2")
            .field("version", &self.version)
            .field("params", &self.params)
            .field("role", &self.role)
            .field("created", &self.created)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod identity_tests {
    use super::*;

    /// The holder of a backup key can seal its secrets again under another
    /// password with the same endorsed header: other bytes (so another
    /// object name), the same identity.
    #[test]
    fn a_resealed_copy_keeps_the_identity_and_another_file_does_not() {
        let master = MasterKey::from_bytes([7; 32]);
        let authority = AdminKey::from_seed(&[9; 32]);
        let exchange = ExchangeSecret::from_bytes([5; 32]);
        let meta = KeyMeta {
            role: Role::Backup,
            created: 1,
            label: "host".into(),
        };
        let p = KdfParams::insecure_for_tests();
        let make = |pw: &[u8], salt: u8, seal: u8| {
            KeyFileV2::create_with_salts(
                &master,
                &authority,
                &meta,
                pw,
                p,
                [salt; SALT_LEN],
                &[seal; 32],
                Some(&exchange),
            )
            .unwrap()
        };
        let original = make(b"one", 1, 1);
        let resealed = make(b"two", 1, 2);
        assert_ne!(original.to_bytes(), resealed.to_bytes());
        assert!(resealed.open(b"two").is_ok());
        assert_eq!(original.identity(), resealed.identity());
        assert_ne!(original.identity(), make(b"one", 2, 1).identity());
    }
}
