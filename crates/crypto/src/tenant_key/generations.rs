//! Version 2 tenant key objects: a tenant's secrets per generation, signed
//! by the admin authority (layout in the [parent module](super)).

use std::fmt;

use zeroize::Zeroizing;

use super::{TenantKeyObject, TenantSecret, ID_LEN, MAX_NAME_LEN};
use crate::error::{Error, Result};
use crate::keys::KeySet;
use crate::primitives;
use crate::seal::SealingKey;
use crate::sign::AdminKey;
use crate::AdminPublicKey;

/// The version byte of tenant key objects with generations.
pub const VERSION_GENERATIONS: u8 = 2;
/// How many generations a tenant can have (0 ..= 1023): bounds the object
/// (32 bytes each, about 33 KiB at most) and the keys held in memory.
pub const MAX_GENERATIONS: u32 = 1024;
/// Length of the version 2 header bound as associated data.
pub(super) const HEADER_LEN: usize = 45;
const SIGNATURE_LEN: usize = 64;
const SIGNATURE_CONTEXT: &[u8] = b"cairn/v2/tenant-key";

/// A tenant's secrets, one per generation (at least one, at most
/// [`MAX_GENERATIONS`]): the newest writes, the older ones read what was
/// written under them. Zeroized on drop; `Debug` prints the generation only.
pub struct TenantKeys {
    secrets: Vec<TenantSecret>,
}

impl TenantKeys {
    /// The keys of a tenant with one generation (0).
    pub fn new(first: TenantSecret) -> Self {
        Self {
            secrets: vec![first],
        }
    }

    /// The newest generation (the one new data is written under).
    pub fn generation(&self) -> u32 {
        (self.secrets.len() - 1) as u32
    }

    /// The newest generation's secret.
    pub fn newest(&self) -> &TenantSecret {
        // Never empty: built from one secret, only ever pushed to.
        &self.secrets[self.secrets.len() - 1]
    }

    /// Adds a generation (a rekey); returns its number.
    ///
    /// # Errors
    /// [`Error::TooManyGenerations`] past [`MAX_GENERATIONS`].
    pub fn push(&mut self, secret: TenantSecret) -> Result<u32> {
        if self.secrets.len() as u64 >= u64::from(MAX_GENERATIONS) {
            return Err(Error::TooManyGenerations {
                max: MAX_GENERATIONS,
            });
        }
        self.secrets.push(secret);
        Ok(self.generation())
    }

    /// The tenant's key set over every generation: sealing (and chunk ids)
    /// under the newest, opening any (see the [parent module](super)).
    pub fn keys(&self) -> KeySet {
        let roots: Vec<&[u8; 32]> = self.secrets.iter().map(|s| &s.0).collect();
        // Unreachable fallback: the set is never empty, so its newest
        // generation is always among its keys.
        KeySet::from_generations(&roots).unwrap_or_else(|_| self.newest().keys())
    }

    /// The keys of generation `g` alone (what a holder of only that
    /// secret can compute), if the tenant has it.
    pub fn generation_keys(&self, g: u32) -> Option<KeySet> {
        self.secrets.get(g as usize).map(TenantSecret::keys)
    }
}

impl fmt::Debug for TenantKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantKeys {{ generation: {}, .. }}", self.generation())
    }
}

impl TenantKeyObject {
    /// Seals every generation of `keys` and `name` under `wrap` (the
    /// wrapping key of `epoch`) as a version 2 object, signed by `admin`.
    ///
    /// # Errors
    /// [`Error::MalformedKeyFile`] for a name longer than [`MAX_NAME_LEN`];
    /// [`Error::Random`] if no salt can be drawn.
    pub fn seal_generations(
        wrap: &SealingKey,
        epoch: u32,
        tenant_id: [u8; ID_LEN],
        namespace: [u8; ID_LEN],
        keys: &TenantKeys,
        name: &str,
        admin: &AdminKey,
    ) -> Result<Self> {
        let mut salt = [0u8; 32];
        primitives::fill_random(&mut salt)?;
        let parts = (tenant_id, namespace, keys, name);
        Self::seal_generations_with_salt(wrap, epoch, parts, admin, &salt)
    }

    pub(crate) fn seal_generations_with_salt(
        wrap: &SealingKey,
        epoch: u32,
        (tenant_id, namespace, keys, name): ([u8; ID_LEN], [u8; ID_LEN], &TenantKeys, &str),
        admin: &AdminKey,
        salt: &[u8; 32],
    ) -> Result<Self> {
        if name.len() > MAX_NAME_LEN {
            return Err(Error::MalformedKeyFile {
                reason: "tenant name longer than 1024 bytes",
            });
        }
        let mut obj = Self {
            version: VERSION_GENERATIONS,
            epoch,
            tenant_id,
            namespace,
            generation: keys.generation(),
            signature: [0; SIGNATURE_LEN],
            sealed: Vec::new(),
        };
        let mut payload =
            Zeroizing::new(Vec::with_capacity(2 + name.len() + 32 * keys.secrets.len()));
        payload.extend_from_slice(&(name.len() as u16).to_le_bytes());
        payload.extend_from_slice(name.as_bytes());
        for s in &keys.secrets {
            payload.extend_from_slice(&s.0);
        }
        let header = obj.header();
        wrap.seal_into_with_salt(salt, &payload, &header, &mut obj.sealed)?;
        obj.signature = admin.sign(SIGNATURE_CONTEXT, &obj.signed_bytes());
        Ok(obj)
    }

    /// Whether the object carries an admin signature (version 2).
    pub fn is_signed(&self) -> bool {
        self.version == VERSION_GENERATIONS
    }

    /// Checks a version 2 object's signature under `authority`.
    ///
    /// # Errors
    /// [`Error::SignatureInvalid`] for another authority, altered bytes,
    /// or a version 1 object (which carries none).
    pub fn verify_signature(&self, authority: &AdminPublicKey) -> Result<()> {
        if !self.is_signed() {
            return Err(Error::SignatureInvalid);
        }
        authority.verify(SIGNATURE_CONTEXT, &self.signed_bytes(), &self.signature)
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let mut m = self.header();
        m.extend_from_slice(&self.sealed);
        m
    }
}

/// Parses a version 2 object (the magic and version byte already checked).
pub(super) fn parse(bytes: &[u8]) -> Result<TenantKeyObject> {
    let malformed = |reason| Err(Error::MalformedKeyFile { reason });
    let sealed_from = HEADER_LEN + SIGNATURE_LEN;
    if bytes.len() < sealed_from {
        return malformed("tenant key object truncated");
    }
    let u32_at = |at: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&bytes[at..at + 4]);
        u32::from_le_bytes(b)
    };
    let generation = u32_at(41);
    if generation >= MAX_GENERATIONS {
        return Err(Error::TooManyGenerations {
            max: MAX_GENERATIONS,
        });
    }
    let least = 2 + 32 * (generation as usize + 1) + SealingKey::OVERHEAD;
    if bytes.len() < sealed_from + least {
        return malformed("tenant key object truncated");
    }
    let mut tenant_id = [0u8; ID_LEN];
    tenant_id.copy_from_slice(&bytes[9..25]);
    let mut namespace = [0u8; ID_LEN];
    namespace.copy_from_slice(&bytes[25..41]);
    let mut signature = [0u8; SIGNATURE_LEN];
    signature.copy_from_slice(&bytes[HEADER_LEN..sealed_from]);
    Ok(TenantKeyObject {
        version: VERSION_GENERATIONS,
        epoch: u32_at(5),
        tenant_id,
        namespace,
        generation,
        signature,
        sealed: bytes[sealed_from..].to_vec(),
    })
}

/// Opens a version 2 object's payload: every generation and the name.
pub(super) fn open(obj: &TenantKeyObject, wrap: &SealingKey) -> Result<(TenantKeys, String)> {
    let payload = Zeroizing::new(wrap.open(&obj.sealed, &obj.header())?);
    let malformed = |reason| Error::MalformedKeyFile { reason };
    let (len, rest) = payload
        .split_first_chunk::<2>()
        .ok_or(malformed("tenant key payload truncated"))?;
    let len = usize::from(u16::from_le_bytes(*len));
    if len > MAX_NAME_LEN || rest.len() < len {
        return Err(malformed("tenant name length does not match"));
    }
    let (name, secrets) = rest.split_at(len);
    let name = std::str::from_utf8(name).map_err(|_| malformed("tenant name not UTF-8"))?;
    if secrets.len() != 32 * (obj.generation as usize + 1) {
        return Err(malformed("tenant secrets do not match the generation"));
    }
    let secrets = secrets
        .chunks_exact(32)
        .map(|c| {
            let mut s = TenantSecret([0; 32]);
            s.0.copy_from_slice(c);
            s
        })
        .collect();
    Ok((TenantKeys { secrets }, name.to_owned()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::MasterKey;

    fn two_generations() -> TenantKeys {
        let mut k = TenantKeys::new(TenantSecret::from_bytes([1; 32]));
        assert_eq!(k.push(TenantSecret::from_bytes([2; 32])).unwrap(), 1);
        k
    }

    #[test]
    fn version_2_round_trips_signed_and_bound() {
        let wrap = KeySet::derive(&MasterKey::from_bytes([3; 32])).tenant_wrapping_key();
        let admin = AdminKey::from_seed(&[5; 32]);
        let keys = two_generations();
        let obj =
            TenantKeyObject::seal_generations(&wrap, 0, [7; 16], [8; 16], &keys, "acme", &admin)
                .unwrap();
        let bytes = obj.to_bytes();
        assert_eq!(&bytes[..5], b"CRTK\x02");
        let parsed = TenantKeyObject::from_bytes(&bytes).unwrap();
        assert_eq!((parsed.generation(), parsed.namespace()), (1, [8; 16]));
        parsed.verify_signature(&admin.public()).unwrap();
        let other = AdminKey::from_seed(&[6; 32]).public();
        assert!(parsed.verify_signature(&other).is_err());
        let (back, name) = parsed.open(&wrap).unwrap();
        assert_eq!((back.generation(), name.as_str()), (1, "acme"));
        assert_eq!(back.newest().0, [2; 32]);
        // Every byte is covered: by the seal, or (the signature) by itself.
        for i in 5..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 1;
            let Ok(o) = TenantKeyObject::from_bytes(&b) else {
                continue;
            };
            let signed = o.verify_signature(&admin.public()).is_ok();
            assert!(!signed, "byte {i} is not signed");
        }
        for len in 0..bytes.len() {
            let r = TenantKeyObject::from_bytes(&bytes[..len]);
            assert!(r.is_err() || r.unwrap().open(&wrap).is_err(), "{len}");
        }
        let mut huge = bytes.clone();
        huge[41..45].copy_from_slice(&MAX_GENERATIONS.to_le_bytes());
        assert!(matches!(
            TenantKeyObject::from_bytes(&huge),
            Err(Error::TooManyGenerations { max: 1024 })
        ));
        assert!(!format!("{back:?} {parsed:?}").contains("acme"));
    }

    #[test]
    fn generations_seal_apart_and_chunk_ids_follow_the_newest() {
        let keys = two_generations();
        let set = keys.keys();
        let old = keys.generation_keys(0).unwrap();
        // Generation 1 seals as epoch 1: the old generation alone cannot
        // open it, the full set opens both.
        let new_msg = set.data_key().seal(b"new", b"").unwrap();
        assert_eq!(SealingKey::sealed_epoch(&new_msg).unwrap(), 1);
        assert!(old.data_key().open(&new_msg, b"").is_err());
        let old_msg = old.data_key().seal(b"old", b"").unwrap();
        assert_eq!(set.data_key().open(&old_msg, b"").unwrap(), b"old");
        assert_ne!(set.chunk_id_key().id(b"x"), old.chunk_id_key().id(b"x"));
        assert!(set.verifies_chunk_id(b"x", &old.chunk_id_key().id(b"x")));
        assert!(set.verifies_chunk_id(b"x", &set.chunk_id_key().id(b"x")));
        assert!(!old.verifies_chunk_id(b"x", &set.chunk_id_key().id(b"x")));
        // One generation: exactly the version 1 keys.
        let one = TenantKeys::new(TenantSecret::from_bytes([1; 32])).keys();
        let m = one.metadata_key().seal(b"m", b"").unwrap();
        assert_eq!(m[0], 1, "generation 0 keeps sealed-message version 1");
        assert_eq!(old.metadata_key().open(&m, b"").unwrap(), b"m");
        let mut full = TenantKeys::new(TenantSecret::from_bytes([0; 32]));
        for _ in 1..MAX_GENERATIONS {
            full.push(TenantSecret::from_bytes([0; 32])).unwrap();
        }
        assert!(matches!(
            full.push(TenantSecret::from_bytes([0; 32])),
            Err(Error::TooManyGenerations { max: 1024 })
        ));
    }
}
