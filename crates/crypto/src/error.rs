//! The crate's one error type.
//!
//! Rules: one `#[non_exhaustive]` enum; cryptographic failures are opaque
//! (see [`Error`]); no variant carries key material or a password; callers
//! add the object's name.

/// Everything that can go wrong in `cairn-crypto`.
///
/// Cryptographic failures are deliberately opaque: [`Error::DecryptionFailed`] does not
/// say whether the key, the tag, the ciphertext or the associated data was wrong, so a
/// caller cannot leak that detail to an attacker. This crate does not know object
/// names; callers add the name of the object they were opening.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A sealed message did not authenticate: it is corrupt, was tampered with, was
    /// sealed under another key, or is being opened with different associated data.
    #[error("decryption failed: data corrupt, tampered with, or sealed under another key")]
    DecryptionFailed,

    /// The password does not open the key file (or the key file's sealed master key is
    /// corrupt; the two cannot be told apart).
    #[error("wrong password for key file (or its sealed master key is corrupt)")]
    WrongPassword,

    /// An admin signature (on a key file endorsement or a tombstone) does not
    /// verify under the admin authority's public key. Deliberately opaque.
    #[error("signature does not verify under the admin authority's key")]
    SignatureInvalid,

    /// A key file's bytes do not follow the documented layout.
    #[error("malformed key file: {reason}")]
    MalformedKeyFile {
        /// What was wrong, e.g. "bad magic" or "wrong length".
        reason: &'static str,
    },

    /// A key file or sealed message carries a format version this build does not know.
    #[error("unsupported format version {found}")]
    UnsupportedVersion {
        /// The version byte that was found.
        found: u8,
    },

    /// A sealed message is shorter than the fixed overhead of the format.
    #[error("sealed message truncated: {len} bytes, at least {min} needed")]
    Truncated {
        /// Length of the input.
        len: usize,
        /// Minimum length of a sealed message ([`crate::SealingKey::OVERHEAD`]).
        min: usize,
    },

    /// A plaintext exceeds what AES-GCM can encrypt under one key and nonce.
    #[error("message of {len} bytes is too long to seal (limit {max} bytes)")]
    MessageTooLong {
        /// Length of the plaintext.
        len: u64,
        /// The largest plaintext that can be sealed.
        max: u64,
    },

    /// Argon2 parameters are out of the accepted range (see [`crate::KdfParams::new`]).
    #[error(
        "invalid Argon2 parameters (m_cost_kib={m_cost_kib}, t_cost={t_cost}, p_cost={p_cost}): {reason}"
    )]
    InvalidKdfParams {
        /// Memory cost in KiB that was given.
        m_cost_kib: u32,
        /// Number of passes that was given.
        t_cost: u32,
        /// Number of lanes that was given.
        p_cost: u32,
        /// Which bound was violated.
        reason: &'static str,
    },

    /// A chunk id string is not 64 hexadecimal digits.
    #[error("invalid chunk id hex ({len} characters): {reason}")]
    InvalidHex {
        /// Length of the input string in bytes.
        len: usize,
        /// What was wrong with it.
        reason: &'static str,
    },

    /// The operating system's random number generator failed.
    #[error("operating system random number generator failed: {message}")]
    Random {
        /// The generator's own description of the failure.
        message: String,
    },

    /// A sealed message names a key epoch this key set holds no key for: it
    /// was sealed after a rotation this key was not granted (a removed key),
    /// or its epoch object could not be read.
    #[error("sealed under key epoch {epoch}, for which this key set holds no key")]
    UnknownEpoch {
        /// The epoch the message names.
        epoch: u32,
    },

    /// A tenant already has (or an object claims) the most generations a
    /// tenant key object can carry: it cannot be rekeyed again.
    #[error("a tenant has at most {max} key generations")]
    TooManyGenerations {
        /// The bound ([`crate::tenant_key::MAX_GENERATIONS`]).
        max: u32,
    },

    /// The password-based key derivation (Argon2id) failed to run, e.g. because its
    /// memory could not be allocated.
    #[error("password key derivation failed: {message}")]
    Kdf {
        /// What failed.
        message: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
