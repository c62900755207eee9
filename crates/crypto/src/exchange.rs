//! Key-exchange key pairs (X25519, RFC 7748) and *grants*: a key epoch's
//! root sealed to one key file's public key.
//!
//! Why: every key file wraps the same master key, so a removed key's holder
//! who kept the master key can still decrypt everything. A rotation needs a
//! fresh random root that the removed holder never sees, delivered to the
//! remaining holders — whose passwords the rotating admin does not know. So
//! each key file (version 3) carries an X25519 public key in the clear and its
//! secret sealed under the password, and a rotation seals the new root to
//! every remaining public key.
//!
//! # Grant, version 1 (DO NOT CHANGE: 81 bytes)
//!
//! ```text
//! offset  length  field
//! 0       1       version = 0x01
//! 1       32      E: the sender's ephemeral X25519 public key (fresh per grant)
//! 33      32      the root, AES-256-GCM encrypted
//! 65      16      GCM tag
//!
//! shared = X25519(e, R)            (R: the recipient's public key; all-zero refused)
//! key    = HKDF-SHA256(salt = E || R, ikm = shared,
//!                      info = "cairn/v1/grant" || context)
//! nonce  = 12 zero bytes (the key is used once: E is fresh)
//! aad    = 0x01 || context
//! ```
//!
//! `context` is the caller's binding (Cairn: repository id, epoch number and
//! the recipient key file's id), so a grant cannot be replayed for another
//! epoch or another key file. Grants are not signed here: the epoch objects
//! that carry them are (by the admin authority), because anyone can seal a
//! root to a public key.
//!
//! X25519 is computed with `curve25519-dalek`'s Montgomery ladder
//! (`mul_clamped`), the same function `x25519-dalek` wraps; the RFC 7748 test
//! vectors in the tests below pin it.

use std::fmt;

use curve25519_dalek::montgomery::MontgomeryPoint;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::keys::MasterKey;
use crate::primitives;

/// Length of a grant.
pub const GRANT_LEN: usize = 1 + 32 + 32 + 16;
const GRANT_VERSION: u8 = 1;
const LABEL_GRANT: &[u8] = b"cairn/v1/grant";

/// An X25519 secret key (clamped at use). Zeroized on drop; `Debug` prints
/// `ExchangeSecret(..)` only.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ExchangeSecret([u8; 32]);

/// An X25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExchangePublic(pub [u8; 32]);

impl ExchangeSecret {
    /// A new secret from the operating system's generator.
    ///
    /// # Errors
    /// [`Error::Random`].
    pub fn generate() -> Result<Self> {
        let mut s = Self([0; 32]);
        primitives::fill_random(&mut s.0)?;
        Ok(s)
    }

    /// From its 32 bytes (key files store them sealed); the argument's
    /// copy is zeroized.
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let s = Self::from_key(&bytes);
        bytes.zeroize();
        s
    }

    /// Copied from `bytes` straight into the zeroized-on-drop value.
    pub fn from_key(bytes: &[u8; 32]) -> Self {
        let mut s = Self([0; 32]);
        s.0.copy_from_slice(bytes);
        s
    }

    /// The bytes: for sealing into key files, nothing else.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The public half: X25519(secret, 9).
    pub fn public(&self) -> ExchangePublic {
        ExchangePublic(MontgomeryPoint::mul_base_clamped(self.0).to_bytes())
    }

    /// X25519(secret, peer) as RFC 7748 defines it.
    pub fn diffie_hellman(&self, peer: &ExchangePublic) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(MontgomeryPoint(peer.0).mul_clamped(self.0).to_bytes())
    }

    /// Opens a grant made by [`seal_grant`] to this key's public half with
    /// the same `context`.
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::UnsupportedVersion`];
    /// [`Error::DecryptionFailed`] for a grant to another key or context, or
    /// any modified byte.
    pub fn open_grant(&self, grant: &[u8], context: &[u8]) -> Result<MasterKey> {
        if grant.len() != GRANT_LEN {
            return Err(Error::Truncated {
                len: grant.len(),
                min: GRANT_LEN,
            });
        }
        if grant[0] != GRANT_VERSION {
            return Err(Error::UnsupportedVersion { found: grant[0] });
        }
        let mut eph = [0u8; 32];
        eph.copy_from_slice(&grant[1..33]);
        let eph = ExchangePublic(eph);
        let shared = self.diffie_hellman(&eph);
        let key = grant_key(&shared, &eph, &self.public(), context)?;
        let mut root = Zeroizing::new([0u8; 32]);
        root.copy_from_slice(&grant[33..65]);
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&grant[65..]);
        let aad = grant_aad(context);
        primitives::aes256gcm_decrypt(&key, &[0; 12], &aad, &mut root[..], &tag)?;
        Ok(MasterKey::from_key(&root))
    }
}

/// Seals `root` to `recipient`, bound to `context` (see the module docs).
///
/// # Errors
/// [`Error::Random`]; [`Error::DecryptionFailed`] if `recipient` is a
/// low-order point (the shared secret would be all zero).
pub fn seal_grant(
    root: &MasterKey,
    recipient: &ExchangePublic,
    context: &[u8],
) -> Result<[u8; GRANT_LEN]> {
    seal_grant_with(&ExchangeSecret::generate()?, root, recipient, context)
}

/// Deterministic core of [`seal_grant`]; the ephemeral secret MUST be fresh
/// outside tests.
pub(crate) fn seal_grant_with(
    ephemeral: &ExchangeSecret,
    root: &MasterKey,
    recipient: &ExchangePublic,
    context: &[u8],
) -> Result<[u8; GRANT_LEN]> {
    let eph = ephemeral.public();
    let shared = ephemeral.diffie_hellman(recipient);
    let key = grant_key(&shared, &eph, recipient, context)?;
    let mut out = [0u8; GRANT_LEN];
    out[0] = GRANT_VERSION;
    out[1..33].copy_from_slice(&eph.0);
    out[33..65].copy_from_slice(root.expose_bytes());
    let tag = primitives::aes256gcm_encrypt(&key, &[0; 12], &grant_aad(context), &mut out[33..65])?;
    out[65..].copy_from_slice(&tag);
    Ok(out)
}

fn grant_key(
    shared: &[u8; 32],
    eph: &ExchangePublic,
    recipient: &ExchangePublic,
    context: &[u8],
) -> Result<Zeroizing<[u8; 32]>> {
    // A low-order public key forces the shared secret to zero: refuse it
    // rather than derive a key an attacker knows.
    if shared.iter().all(|&b| b == 0) {
        return Err(Error::DecryptionFailed);
    }
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(&eph.0);
    salt[32..].copy_from_slice(&recipient.0);
    let mut info = LABEL_GRANT.to_vec();
    info.extend_from_slice(context);
    let mut key = Zeroizing::new([0u8; 32]);
    primitives::hkdf_sha256(&salt, shared, &info, &mut key[..])?;
    Ok(key)
}

fn grant_aad(context: &[u8]) -> Vec<u8> {
    let mut aad = vec![GRANT_VERSION];
    aad.extend_from_slice(context);
    aad
}

impl fmt::Debug for ExchangeSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExchangeSecret(..)")
    }
}

impl fmt::Debug for ExchangePublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExchangePublic({})", hex::encode(self.0))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn h(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// RFC 7748 §6.1 (Alice and Bob).
    #[test]
    fn rfc7748_diffie_hellman_vector() {
        let a = ExchangeSecret::from_bytes(h(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        ));
        let b = ExchangeSecret::from_bytes(h(
            "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
        ));
        assert_eq!(
            a.public().0,
            h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
        assert_eq!(
            b.public().0,
            h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        );
        let shared = h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(*a.diffie_hellman(&b.public()), shared);
        assert_eq!(*b.diffie_hellman(&a.public()), shared);
    }

    #[test]
    fn grants_open_only_for_their_recipient_and_context() {
        let alice = ExchangeSecret::from_bytes([1; 32]);
        let bob = ExchangeSecret::from_bytes([2; 32]);
        let root = MasterKey::from_bytes([9; 32]);
        let g = seal_grant(&root, &alice.public(), b"epoch 1 key a").unwrap();
        let opened = alice.open_grant(&g, b"epoch 1 key a").unwrap();
        assert_eq!(opened.expose_bytes(), root.expose_bytes());
        assert!(matches!(
            bob.open_grant(&g, b"epoch 1 key a"),
            Err(Error::DecryptionFailed)
        ));
        assert!(alice.open_grant(&g, b"epoch 2 key a").is_err());
        for i in 0..GRANT_LEN {
            let mut bad = g;
            bad[i] ^= 1;
            assert!(
                alice.open_grant(&bad, b"epoch 1 key a").is_err(),
                "byte {i}"
            );
        }
        assert!(alice.open_grant(&g[..80], b"epoch 1 key a").is_err());
        // A low-order recipient (the identity) is refused, not sealed to.
        assert!(seal_grant(&root, &ExchangePublic([0; 32]), b"x").is_err());
    }
}
