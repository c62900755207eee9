//! Tenant keys: a tenant's own random secret, wrapped under the repository's
//! key hierarchy in a *tenant key object*, so that destroying that object
//! destroys the tenant's keys (crypto-shredding).
//!
//! # Why not [`KeySet::tenant`]
//!
//! `KeySet::tenant(name)` *derives* a tenant's keys from the master key:
//! anyone with any key file can derive them again, forever, so they can
//! never be destroyed on their own. Repository tenants do not use it. A
//! tenant's keys derive from a [`TenantSecret`] of 32 bytes from the
//! operating system's generator, with the same three labels as the
//! repository's (`cairn/v1/chunk-id`, `cairn/v1/data`, `cairn/v1/metadata`,
//! and `cairn/v1/journal`): the tenant's chunk-id, data, metadata and
//! journal keys are independent of the master key and of every other
//! tenant's, and exist only inside the tenant key object (and in memory).
//!
//! # Tenant key object, version 1 (DO NOT CHANGE; add a version instead)
//!
//! ```text
//! offset size  field
//!      0    4  magic "CRTK"
//!      4    1  version = 1
//!      5    4  epoch: u32 little-endian — which key epoch's wrapping key sealed it
//!      9   16  tenant id: keyed hash of the tenant's name (KeySet::tenant_id)
//!     25   16  namespace: random; the tenant's objects live under tenants/<hex>/
//!     41    …  seal(wrapping key of `epoch`, payload, aad = bytes 0..41)
//! payload := secret:[u8;32] name_len:u16le name:[u8;name_len] (UTF-8, ≤ 1024 bytes)
//! ```
//!
//! The seal is the ordinary sealed-message format ([`crate::seal`]); binding
//! the 41 header bytes as associated data means an object cannot be moved to
//! another tenant id, namespace or epoch without failing authentication. The
//! name sits inside the seal: names are personal data, and shredding the
//! object destroys the name with the keys. The wrapping key of epoch 0 is
//! `HKDF-SHA256(master, info = "cairn/v1/tenant-wrap")`
//! ([`KeySet::tenant_wrapping_key`] of the repository's key set); the epoch
//! field lets a later key epoch re-wrap tenant secrets under its own key
//! without a new format: for epoch `n >= 1` the wrapping key is the same
//! derivation from that epoch's root (`KeySet::derive(root)`), which only
//! key files granted epoch `n` hold (cairn-cas-core re-wraps every tenant key
//! object at each rotation).
//!
//! A golden fixture (`tests/fixtures/tenant-key-v1.bin`) pins the bytes.
//!
//! # Tenant key object, version 2: generations (DO NOT CHANGE)
//!
//! `tenant rekey` gives a tenant a fresh secret going forward: a
//! *generation*. Version 2 carries every generation's secret (the newest
//! writes, the older ones read what was written under them), and is signed
//! by the admin authority, because a key holder removed earlier still holds
//! an old epoch's wrapping key and could otherwise seal an object with a
//! "newer" generation whose secret it chose.
//!
//! ```text
//! offset size  field
//!      0    4  magic "CRTK"
//!      4    1  version = 2
//!      5    4  epoch: u32 little-endian (as in version 1)
//!      9   16  tenant id (as in version 1)
//!     25   16  namespace (as in version 1)
//!     41    4  generation: u32 little-endian, the newest; at most 1023
//!     45   64  ed25519 signature by the admin authority, context
//!              "cairn/v2/tenant-key", over bytes 0..45 || bytes 109..end
//!    109    …  seal(wrapping key of `epoch`, payload, aad = bytes 0..45)
//! payload := name_len:u16le name:[u8;name_len] (UTF-8, ≤ 1024 bytes)
//!            secret:[u8;32] × (generation + 1), generation 0 first
//! ```
//!
//! A version 1 object is generation 0: one secret, unsigned (trusted by its
//! seal alone, as before). Generation `g`'s keys derive from its secret
//! with the same labels; the tenant's key set seals under the newest
//! generation as the sealed-message *epoch* of the same number
//! ([`crate::seal`] version 2; generation 0 keeps version 1), so every
//! sealed blob, pack header, index, tree and record names the generation
//! that opens it — no trial decryption. Chunk ids written after a rekey
//! are keyed with the new generation's key, so nothing written afterwards
//! dedups against (or can be recognised by) older generations; an id is
//! verified under each generation's chunk-id key, newest first
//! ([`KeySet::verifies_chunk_id`]), not under the generation its seal
//! names, because prune re-seals old blobs under the newest generation and
//! keeps their ids. Fixture: `tests/fixtures/tenant-key-v2-gen2.bin`.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::keys::KeySet;
use crate::primitives;
use crate::seal::SealingKey;

mod generations;

pub use generations::{TenantKeys, MAX_GENERATIONS, VERSION_GENERATIONS};

/// Magic of a tenant key object.
pub const MAGIC: &[u8; 4] = b"CRTK";
/// The version a tenant that was never rekeyed is written in.
pub const VERSION: u8 = 1;
/// Length of the version 1 header that is bound as associated data.
pub const HEADER_LEN: usize = 41;
/// Longest tenant name, in bytes.
pub const MAX_NAME_LEN: usize = 1024;
/// Length of a tenant id and of a namespace.
pub const ID_LEN: usize = 16;

/// A tenant's secret: 32 random bytes its keys derive from. Zeroized on
/// drop; `Debug` prints `TenantSecret(..)` only.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct TenantSecret([u8; 32]);

impl TenantSecret {
    /// A new secret from the operating system's generator.
    ///
    /// # Errors
    /// [`Error::Random`] if the generator fails.
    pub fn generate() -> Result<Self> {
        let mut s = Self([0; 32]);
        primitives::fill_random(&mut s.0)?;
        Ok(s)
    }

    /// A secret from its bytes (fixtures and tests); the argument's copy
    /// is zeroized.
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let s = Self(bytes);
        bytes.zeroize();
        s
    }

    /// The tenant's keys (chunk id, data, metadata, journal), derived from
    /// this secret with the repository's labels.
    pub fn keys(&self) -> KeySet {
        KeySet::from_root_bytes(&self.0)
    }
}

impl fmt::Debug for TenantSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TenantSecret(..)")
    }
}

/// A parsed tenant key object (still sealed), version 1 or 2.
#[derive(Clone, PartialEq, Eq)]
pub struct TenantKeyObject {
    version: u8,
    epoch: u32,
    tenant_id: [u8; ID_LEN],
    namespace: [u8; ID_LEN],
    /// The newest generation (0 in version 1).
    generation: u32,
    /// The admin authority's signature (version 2; zeros in version 1).
    signature: [u8; 64],
    sealed: Vec<u8>,
}

impl fmt::Debug for TenantKeyObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantKeyObject")
            .field("version", &self.version)
            .field("epoch", &self.epoch)
            .field("generation", &self.generation)
            .field("tenant_id", &hex::encode(self.tenant_id))
            .field("namespace", &hex::encode(self.namespace))
            .finish_non_exhaustive()
    }
}

impl TenantKeyObject {
    /// Seals `secret` and `name` under `wrap` (the wrapping key of `epoch`).
    ///
    /// # Errors
    /// [`Error::MalformedKeyFile`] for a name longer than [`MAX_NAME_LEN`];
    /// [`Error::Random`] if no salt can be drawn.
    pub fn seal(
        wrap: &SealingKey,
        epoch: u32,
        tenant_id: [u8; ID_LEN],
        namespace: [u8; ID_LEN],
        secret: &TenantSecret,
        name: &str,
    ) -> Result<Self> {
        let mut salt = [0u8; 32];
        primitives::fill_random(&mut salt)?;
        Self::seal_with_salt(wrap, epoch, tenant_id, namespace, secret, name, &salt)
    }

    pub(crate) fn seal_with_salt(
        wrap: &SealingKey,
        epoch: u32,
        tenant_id: [u8; ID_LEN],
        namespace: [u8; ID_LEN],
        secret: &TenantSecret,
        name: &str,
        salt: &[u8; 32],
    ) -> Result<Self> {
        if name.len() > MAX_NAME_LEN {
            return Err(Error::MalformedKeyFile {
                reason: "tenant name longer than 1024 bytes",
            });
        }
        let mut obj = Self {
            version: VERSION,
            epoch,
            tenant_id,
            namespace,
            generation: 0,
            signature: [0; 64],
            sealed: Vec::new(),
        };
        let mut payload = Zeroizing::new(Vec::with_capacity(34 + name.len()));
        payload.extend_from_slice(&secret.0);
        payload.extend_from_slice(&(name.len() as u16).to_le_bytes());
        payload.extend_from_slice(name.as_bytes());
        let header = obj.header();
        wrap.seal_into_with_salt(salt, &payload, &header, &mut obj.sealed)?;
        Ok(obj)
    }

    /// Parses the bytes of a tenant key object, version 1 or 2 (nothing is
    /// decrypted or verified).
    ///
    /// # Errors
    /// [`Error::MalformedKeyFile`] for a bad magic or a short object,
    /// [`Error::TooManyGenerations`] for a generation past the bound,
    /// [`Error::UnsupportedVersion`] for another version.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let malformed = |reason| Err(Error::MalformedKeyFile { reason });
        if bytes.len() < 5 || &bytes[..4] != MAGIC {
            return malformed("not a tenant key object (bad magic)");
        }
        if bytes[4] == VERSION_GENERATIONS {
            return generations::parse(bytes);
        }
        if bytes[4] != VERSION {
            return Err(Error::UnsupportedVersion { found: bytes[4] });
        }
        if bytes.len() < HEADER_LEN + SealingKey::OVERHEAD + 34 {
            return malformed("tenant key object truncated");
        }
        let mut epoch = [0u8; 4];
        epoch.copy_from_slice(&bytes[5..9]);
        let mut tenant_id = [0u8; ID_LEN];
        tenant_id.copy_from_slice(&bytes[9..25]);
        let mut namespace = [0u8; ID_LEN];
        namespace.copy_from_slice(&bytes[25..41]);
        Ok(Self {
            version: VERSION,
            epoch: u32::from_le_bytes(epoch),
            tenant_id,
            namespace,
            generation: 0,
            signature: [0; 64],
            sealed: bytes[HEADER_LEN..].to_vec(),
        })
    }

    /// The object's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header();
        if self.version == VERSION_GENERATIONS {
            out.extend_from_slice(&self.signature);
        }
        out.extend_from_slice(&self.sealed);
        out
    }

    /// The format version (1, or 2 once rekeyed).
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The newest generation (0 for version 1; authenticated by
    /// [`open`](Self::open)).
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Which wrapping key sealed it.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The tenant id it claims (authenticated by [`open`](Self::open)).
    pub fn tenant_id(&self) -> [u8; ID_LEN] {
        self.tenant_id
    }

    /// The tenant's namespace (authenticated by [`open`](Self::open)).
    pub fn namespace(&self) -> [u8; ID_LEN] {
        self.namespace
    }

    /// Opens the object under `wrap`: the tenant's keys (one generation
    /// for version 1) and name. A version 2 object's signature is checked
    /// apart ([`verify_signature`](Self::verify_signature)): this crate
    /// does not know which authority the caller trusts.
    ///
    /// # Errors
    /// [`Error::DecryptionFailed`] under another key or for altered bytes;
    /// [`Error::MalformedKeyFile`] for a payload of the wrong shape.
    pub fn open(&self, wrap: &SealingKey) -> Result<(TenantKeys, String)> {
        if self.version == VERSION_GENERATIONS {
            return generations::open(self, wrap);
        }
        let (secret, name) = self.open_v1(wrap)?;
        Ok((TenantKeys::new(secret), name))
    }

    fn open_v1(&self, wrap: &SealingKey) -> Result<(TenantSecret, String)> {
        let payload = Zeroizing::new(wrap.open(&self.sealed, &self.header())?);
        let malformed = |reason| Error::MalformedKeyFile { reason };
        let (secret, rest) = payload
            .split_first_chunk::<32>()
            .ok_or(malformed("tenant key payload truncated"))?;
        let (len, name) = rest
            .split_first_chunk::<2>()
            .ok_or(malformed("tenant key payload truncated"))?;
        if name.len() != usize::from(u16::from_le_bytes(*len)) {
            return Err(malformed("tenant name length does not match"));
        }
        let name = std::str::from_utf8(name).map_err(|_| malformed("tenant name not UTF-8"))?;
        Ok((TenantSecret(*secret), name.to_owned()))
    }

    /// The bytes bound as associated data (41 in version 1, 45 in 2).
    fn header(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(generations::HEADER_LEN);
        h.extend_from_slice(MAGIC);
        h.push(self.version);
        h.extend_from_slice(&self.epoch.to_le_bytes());
        h.extend_from_slice(&self.tenant_id);
        h.extend_from_slice(&self.namespace);
        if self.version == VERSION_GENERATIONS {
            h.extend_from_slice(&self.generation.to_le_bytes());
        }
        h
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::MasterKey;

    #[test]
    fn round_trip_binds_header_and_hides_secrets() {
        let keys = KeySet::derive(&MasterKey::from_bytes([3; 32]));
        let wrap = keys.tenant_wrapping_key();
        let secret = TenantSecret::from_bytes([9; 32]);
        let obj = TenantKeyObject::seal(&wrap, 0, [1; 16], [2; 16], &secret, "acme").unwrap();
        let bytes = obj.to_bytes();
        let parsed = TenantKeyObject::from_bytes(&bytes).unwrap();
        let (k, name) = parsed.open(&wrap).unwrap();
        let s = k.newest();
        assert_eq!((s.0, name.as_str()), ([9; 32], "acme"));
        assert_eq!((parsed.version(), parsed.generation()), (1, 0));
        // Any header byte changed: authentication fails.
        for i in 5..HEADER_LEN {
            let mut b = bytes.clone();
            b[i] ^= 1;
            let o = TenantKeyObject::from_bytes(&b).unwrap();
            assert!(matches!(o.open(&wrap), Err(Error::DecryptionFailed)), "{i}");
        }
        let other = KeySet::derive(&MasterKey::from_bytes([4; 32]));
        let other = other.tenant_wrapping_key();
        assert!(matches!(parsed.open(&other), Err(Error::DecryptionFailed)));
        assert!(!format!("{parsed:?} {s:?}").contains("acme"));
        assert_eq!(format!("{s:?}"), "TenantSecret(..)");
        for bad in [&bytes[..3], &bytes[..60], b"CRTX\x01"] {
            assert!(TenantKeyObject::from_bytes(bad).is_err());
        }
        let mut v3 = bytes.clone();
        v3[4] = 3;
        assert!(matches!(
            TenantKeyObject::from_bytes(&v3),
            Err(Error::UnsupportedVersion { found: 3 })
        ));
    }

    #[test]
    fn tenant_keys_are_not_the_derived_ones() {
        let keys = KeySet::derive(&MasterKey::from_bytes([3; 32]));
        let t = TenantSecret::generate().unwrap().keys();
        let sealed = t.data_key().seal(b"x", b"").unwrap();
        assert!(keys.tenant("acme").data_key().open(&sealed, b"").is_err());
        assert!(keys.data_key().open(&sealed, b"").is_err());
        assert_ne!(keys.tenant_id("acme"), keys.tenant_id("acme2"));
    }
}
