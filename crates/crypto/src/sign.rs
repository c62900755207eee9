//! The repository's admin authority: an ed25519 key pair whose secret only
//! admin key files carry (sealed under their password), and whose public key
//! every version 2 key file carries (authenticated under its password).
//!
//! Why one authority per repository, not one pair per key file: every key
//! holder knows the master key, so a compromised backup host can write any
//! key file it likes, including one that claims to be an admin. What it
//! cannot do is sign with a secret it never saw. A verifier learns the
//! authority's public key from its *own* key file (authenticated by its own
//! password), never from a listing of `keys/`, so a planted key file or a
//! planted signature does not verify.
//!
//! Every signature is over `len(context):u8 || context || message`, with a
//! distinct context per purpose, so a signature made for one purpose (a key
//! endorsement) is never valid for another (a snapshot tombstone).

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::primitives;

/// Length of an ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of an ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;

/// The admin authority's signing key. Zeroized on drop; `Debug` prints
/// `AdminKey(..)` only.
#[derive(Clone)]
pub struct AdminKey(SigningKey);

impl AdminKey {
    /// A new authority from the operating system's generator.
    ///
    /// # Errors
    /// [`Error::Random`] if the generator fails.
    pub fn generate() -> Result<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        primitives::fill_random(&mut *seed)?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// The key from its 32-byte seed (key files store the seed).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// The seed: for sealing into admin key files, nothing else.
    pub fn expose_seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public half.
    pub fn public(&self) -> AdminPublicKey {
        AdminPublicKey(self.0.verifying_key())
    }

    /// Signs `message` for the purpose named by `context` (at most 255 bytes).
    pub fn sign(&self, context: &[u8], message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(&framed(context, message)).to_bytes()
    }
}

impl fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminKey(..)")
    }
}

/// The admin authority's public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AdminPublicKey(VerifyingKey);

impl AdminPublicKey {
    /// Parses a public key.
    ///
    /// # Errors
    /// [`Error::SignatureInvalid`] if the bytes are not a valid curve point.
    pub fn from_bytes(bytes: &[u8; PUBLIC_KEY_LEN]) -> Result<Self> {
        VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| Error::SignatureInvalid)
    }

    /// The 32 bytes.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.0.to_bytes()
    }

    /// Hex of the 32 bytes (shown to people to compare authorities).
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// Checks a signature made by [`AdminKey::sign`] with the same context.
    /// Strict verification: malleable or small-order forms are refused.
    ///
    /// # Errors
    /// [`Error::SignatureInvalid`], deliberately without detail.
    pub fn verify(&self, context: &[u8], message: &[u8], signature: &[u8]) -> Result<()> {
        let sig: &[u8; SIGNATURE_LEN] =
            signature.try_into().map_err(|_| Error::SignatureInvalid)?;
        self.0
            .verify_strict(&framed(context, message), &Signature::from_bytes(sig))
            .map_err(|_| Error::SignatureInvalid)?;
        Ok(())
    }
}

impl fmt::Debug for AdminPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AdminPublicKey({})", self.to_hex())
    }
}

fn framed(context: &[u8], message: &[u8]) -> Vec<u8> {
    let len = context.len().min(255);
    let mut out = Vec::with_capacity(1 + len + message.len());
    out.push(len as u8);
    out.extend_from_slice(&context[..len]);
    out.extend_from_slice(message);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_bound_to_key_context_and_message() {
        let a = AdminKey::from_seed(&[7; 32]);
        let b = AdminKey::from_seed(&[8; 32]);
        let sig = a.sign(b"ctx", b"msg");
        a.public().verify(b"ctx", b"msg", &sig).unwrap();
        for (k, c, m) in [
            (b.public(), &b"ctx"[..], &b"msg"[..]),
            (a.public(), b"ctx2", b"msg"),
            (a.public(), b"ctx", b"msh"),
        ] {
            assert!(matches!(k.verify(c, m, &sig), Err(Error::SignatureInvalid)));
        }
        assert!(a.public().verify(b"ctx", b"msg", &sig[..63]).is_err());
        let round = AdminPublicKey::from_bytes(&a.public().to_bytes()).unwrap();
        assert_eq!(round, a.public());
        assert_eq!(format!("{a:?}"), "AdminKey(..)");
    }
}
