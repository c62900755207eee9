//! The exact primitive calls the key hierarchy is built from.
//!
//! These are public so that published test vectors (RFC 5869 for HKDF, the GCM
//! specification for AES-256-GCM) run through the same code paths as
//! [`KeySet`](crate::KeySet) and [`SealingKey`](crate::SealingKey) — not as a
//! general-purpose crypto API. Prefer the higher-level types.

use aes_gcm::aead::{generic_array::GenericArray, AeadInPlace};
use aes_gcm::{Aes256Gcm, KeyInit};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Length of an AES-256-GCM authentication tag.
pub const TAG_LEN: usize = 16;
/// Length of an AES-256-GCM nonce.
pub const NONCE_LEN: usize = 12;

/// HKDF-SHA256 (RFC 5869): extract with `salt` (empty means "not provided", i.e.
/// 32 zero bytes, which HMAC treats identically), then expand with `info` into `okm`.
///
/// # Errors
/// [`Error::Kdf`] if `okm` is longer than 255 × 32 bytes, the HKDF limit.
pub fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8], okm: &mut [u8]) -> Result<()> {
    let salt = if salt.is_empty() { None } else { Some(salt) };
    Hkdf::<Sha256>::new(salt, ikm)
        .expand(info, okm)
        .map_err(|_| Error::Kdf {
            message: "HKDF-SHA256 output longer than 8160 bytes".into(),
        })
}

/// HKDF-SHA256 Expand only (RFC 5869 §2.3), with `prk` as the pseudorandom key and
/// the concatenation of `info_parts` as info. Used for per-message keys, where the
/// input is already a uniformly random 32-byte key (RFC 5869 §3.3 allows skipping
/// Extract then).
///
/// # Errors
/// [`Error::Kdf`] if `prk` is shorter than 32 bytes or `okm` longer than 8160 bytes.
pub fn hkdf_sha256_expand(prk: &[u8], info_parts: &[&[u8]], okm: &mut [u8]) -> Result<()> {
    let hk = Hkdf::<Sha256>::from_prk(prk).map_err(|_| Error::Kdf {
        message: "HKDF-SHA256 pseudorandom key shorter than 32 bytes".into(),
    })?;
    hk.expand_multi_info(info_parts, okm)
        .map_err(|_| Error::Kdf {
            message: "HKDF-SHA256 output longer than 8160 bytes".into(),
        })
}

/// 32 bytes of HKDF-SHA256 output (extract + expand, empty salt). Infallible: 32 is
/// far below HKDF's 8160-byte limit.
pub(crate) fn derive_key32(ikm: &[u8; 32], info_parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut okm = Zeroizing::new([0u8; 32]);
    let hk = Hkdf::<Sha256>::new(None, ikm);
    #[allow(clippy::expect_used)]
    hk.expand_multi_info(info_parts, &mut okm[..])
        .expect("HKDF-SHA256 can always produce 32 bytes");
    okm
}

/// 32 bytes of HKDF-SHA256 Expand from a 32-byte PRK. Infallible for the same reason.
pub(crate) fn expand_key32(prk: &[u8; 32], info_parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut okm = Zeroizing::new([0u8; 32]);
    #[allow(clippy::expect_used)]
    hkdf_sha256_expand(prk, info_parts, &mut okm[..])
        .expect("a 32-byte PRK always expands to 32 bytes");
    okm
}

/// AES-256-GCM encryption of `buf` in place; returns the tag. The cipher (AES key
/// schedule and GHASH key) is built per call and wiped on drop.
///
/// # Errors
/// [`Error::MessageTooLong`] if `buf` exceeds the GCM limit of 2^36 − 32 bytes.
pub fn aes256gcm_encrypt(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN]> {
    let cipher = Aes256Gcm::new(GenericArray::from_slice(key));
    let tag = cipher
        .encrypt_in_place_detached(GenericArray::from_slice(nonce), aad, buf)
        .map_err(|_| Error::MessageTooLong {
            len: buf.len() as u64,
            max: MAX_PLAINTEXT,
        })?;
    Ok(tag.into())
}

/// AES-256-GCM decryption of `buf` in place, verifying `tag`. On failure `buf` is
/// wiped (aes-gcm 0.10 decrypts before comparing tags, so it would otherwise hold
/// unauthenticated plaintext).
///
/// # Errors
/// [`Error::DecryptionFailed`] if the tag does not verify.
pub fn aes256gcm_decrypt(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<()> {
    let cipher = Aes256Gcm::new(GenericArray::from_slice(key));
    cipher
        .decrypt_in_place_detached(
            GenericArray::from_slice(nonce),
            aad,
            buf,
            GenericArray::from_slice(tag),
        )
        .map_err(|_| {
            zeroize::Zeroize::zeroize(buf);
            Error::DecryptionFailed
        })
}

/// Largest plaintext AES-GCM accepts under one (key, nonce): 2^36 − 32 bytes
/// (NIST SP 800-38D).
pub const MAX_PLAINTEXT: u64 = (1 << 36) - 32;

/// Fill `buf` from the operating system's random number generator.
///
/// # Errors
/// [`Error::Random`] if the generator fails.
pub fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::Random {
        message: e.to_string(),
    })
}
