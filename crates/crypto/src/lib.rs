//! Cairn's key hierarchy: a random master key, HKDF-SHA256 subkeys per purpose,
//! keyed BLAKE3 chunk ids, AES-256-GCM sealing with nonces that cannot repeat, and
//! password-protected key files.
//!
//! ```
//! use cairn_crypto::{Error, KdfParams, KeyFile, KeySet, MasterKey};
//!
//! # fn main() -> Result<(), Error> {
//! // A new repository: a random master key and the keys derived from it.
//! let master = MasterKey::generate()?;
//! let keys = KeySet::derive(&master);
//!
//! // A chunk's id is keyed, so it says nothing about the plaintext without the key.
//! let chunk = b"some chunk of a file";
//! let id = keys.chunk_id_key().id(chunk);
//!
//! // Seal the chunk, binding its id as associated data; open it again.
//! let sealed = keys.data_key().seal(chunk, id.as_bytes())?;
//! assert_eq!(sealed.len(), chunk.len() + cairn_crypto::SealingKey::OVERHEAD);
//! assert_eq!(keys.data_key().open(&sealed, id.as_bytes())?, chunk);
//! assert!(matches!(
//!     keys.metadata_key().open(&sealed, id.as_bytes()),
//!     Err(Error::DecryptionFailed)
//! ));
//!
//! // Store the master key wrapped under a password (use KdfParams::default() for
//! // real key files; these tiny parameters keep the example fast).
//! let file = KeyFile::create(&master, b"correct horse", KdfParams::insecure_for_tests())?;
//! let bytes = file.to_bytes();
//! let parsed = KeyFile::from_bytes(&bytes)?;
//! let reopened = parsed.open(b"correct horse")?;
//! assert_eq!(reopened.expose_bytes(), master.expose_bytes());
//! assert!(matches!(parsed.open(b"wrong"), Err(Error::WrongPassword)));
//! # Ok(())
//! # }
//! ```
//!
//! - [`keys`]: the hierarchy and its HKDF labels.
//! - [`seal`]: the sealed-message format (version 2 names a key epoch) and why
//!   (key, nonce) never repeats.
//! - [`keyfile`]: the key-file format, version 1.
//! - [`keyfile2`]: key files versions 2 and 3: roles, labels, the admin authority,
//!   and (version 3) the X25519 key that key-epoch grants are sealed to.
//! - [`exchange`]: X25519 key pairs in key files, and grants of key-epoch roots.
//! - [`sign`]: the admin authority (ed25519) that signs endorsements and removals.
//! - [`tenant_key`]: tenant key objects: a tenant's random keys (one per
//!   generation once rekeyed), wrapped.
//! - [`primitives`]: the raw primitive calls, exposed for test vectors.
//!
//! Every secret type zeroizes itself on drop and prints only `Type(..)` in `Debug`.
//! Transient copies (stack temporaries inside HMAC, AES and Argon2 code) are wiped
//! where the underlying crates allow it, which is best effort.

mod any_keyfile;
pub mod chunk_id;
mod error;
pub mod exchange;
mod kdf;
pub mod keyfile;
pub mod keyfile2;
pub mod keys;
pub mod primitives;
mod role;
pub mod seal;
pub mod sign;
pub mod tenant_key;

#[cfg(test)]
mod golden_tests;

pub use any_keyfile::AnyKeyFile;
pub use chunk_id::{ChunkId, ChunkIdKey};
pub use error::{Error, Result};
pub use exchange::{seal_grant, ExchangePublic, ExchangeSecret, GRANT_LEN};
pub use kdf::KdfParams;
pub use keyfile::KeyFile;
pub use keyfile2::{KeyFileV2, KeyMeta, OpenedKey};
pub use keys::{KeySet, MasterKey};
pub use role::Role;
pub use seal::SealingKey;
pub use sign::{AdminKey, AdminPublicKey};
pub use tenant_key::{TenantKeyObject, TenantKeys, TenantSecret};
