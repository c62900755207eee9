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

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::keys::KeySet;
use crate::primitives;
use crate::seal::SealingKey;

/// Magic of a tenant key object.
pub const MAGIC: &[u8; 4] = b"CRTK";
/// The version this build writes.
pub const VERSION: u8 = 1;
/// Length of the header that is bound as associated data.
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

/// A parsed tenant key object (still sealed).
#[derive(Clone, PartialEq, Eq)]
pub struct TenantKeyObject {
    epoch: u32,
    tenant_id: [u8; ID_LEN],
    namespace: [u8; ID_LEN],
    sealed: Vec<u8>,
}

impl fmt::Debug for TenantKeyObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantKeyObject")
            .field("epoch", &self.epoch)
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
            epoch,
            tenant_id,
            namespace,
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

    /// Parses the bytes of a tenant key object (nothing is decrypted).
    ///
    /// # Errors
    /// [`Error::MalformedKeyFile`] for a bad magic or a short object,
    /// [`Error::UnsupportedVersion`] for another version.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let malformed = |reason| Err(Error::MalformedKeyFile { reason });
        if bytes.len() < 5 || &bytes[..4] != MAGIC {
            return malformed("not a tenant key object (bad magic)");
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
            epoch: u32::from_le_bytes(epoch),
            tenant_id,
            namespace,
            sealed: bytes[HEADER_LEN..].to_vec(),
        })
    }

    /// The object's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header().to_vec();
        out.extend_from_slice(&self.sealed);
        out
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

    /// Opens the object under `wrap`: the tenant's secret and name.
    ///
    /// # Errors
    /// [`Error::DecryptionFailed`] under another key or for altered bytes;
    /// [`Error::MalformedKeyFile`] for a payload of the wrong shape.
    pub fn open(&self, wrap: &SealingKey) -> Result<(TenantSecret, String)> {
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

    fn header(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..4].copy_from_slice(MAGIC);
        h[4] = VERSION;
        h[5..9].copy_from_slice(&self.epoch.to_le_bytes());
        h[9..25].copy_from_slice(&self.tenant_id);
        h[25..41].copy_from_slice(&self.namespace);
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
        let (s, name) = parsed.open(&wrap).unwrap();
        assert_eq!((s.0, name.as_str()), ([9; 32], "acme"));
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
        let mut v2 = bytes.clone();
        v2[4] = 2;
        assert!(matches!(
            TenantKeyObject::from_bytes(&v2),
            Err(Error::UnsupportedVersion { found: 2 })
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
