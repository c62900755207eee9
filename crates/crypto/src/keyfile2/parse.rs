//! Parsing key files of versions 2 and 3 (layouts in the parent module).

use super::{
    KeyFileV2, FIXED_LEN, KDF_ARGON2ID, MAGIC, SALT_LEN, SEALED_ADMIN, SEALED_BACKUP, VERSION,
    VERSION_3,
};
use crate::error::{Error, Result};
use crate::kdf::KdfParams;
use crate::role::Role;
use crate::sign::{PUBLIC_KEY_LEN, SIGNATURE_LEN};

impl KeyFileV2 {
    /// Parses a version 2 or 3 file without running the KDF (parameters are
    /// bounds-checked first, as for version 1).
    ///
    /// # Errors
    /// [`Error::MalformedKeyFile`], [`Error::UnsupportedVersion`],
    /// [`Error::InvalidKdfParams`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |reason| Error::MalformedKeyFile { reason };
        if bytes.len() < 9 || &bytes[..8] != MAGIC {
            return Err(bad("bad magic (not a Cairn key file)"));
        }
        let version = bytes[8];
        if version != VERSION && version != VERSION_3 {
            return Err(Error::UnsupportedVersion { found: version });
        }
        let x_len = if version == VERSION_3 { 32 } else { 0 };
        if bytes.len() < FIXED_LEN {
            return Err(bad("truncated header"));
        }
        if bytes[9] != KDF_ARGON2ID {
            return Err(bad("unknown key derivation function id"));
        }
        let u32_at = |at: usize| {
            let mut le = [0u8; 4];
            le.copy_from_slice(&bytes[at..at + 4]);
            u32::from_le_bytes(le)
        };
        let params = KdfParams::new(u32_at(10), u32_at(14), u32_at(18))?;
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&bytes[22..54]);
        let role = match bytes[54] {
            1 => Role::Admin,
            2 => Role::Backup,
            _ => return Err(bad("unknown role")),
        };
        let mut created = [0u8; 8];
        created.copy_from_slice(&bytes[55..63]);
        let label_len = usize::from(bytes[63]);
        let sealed_len = match role {
            Role::Admin => SEALED_ADMIN,
            Role::Backup => SEALED_BACKUP,
        } + x_len;
        let total = FIXED_LEN + label_len + PUBLIC_KEY_LEN + x_len + SIGNATURE_LEN + sealed_len;
        if bytes.len() != total {
            return Err(bad(if bytes.len() < total {
                "truncated (shorter than its label and role require)"
            } else {
                "trailing bytes"
            }));
        }
        let mut at = FIXED_LEN;
        let label = std::str::from_utf8(&bytes[at..at + label_len])
            .map_err(|_| bad("label is not UTF-8"))?
            .to_owned();
        at += label_len;
        let mut authority = [0u8; PUBLIC_KEY_LEN];
        authority.copy_from_slice(&bytes[at..at + PUBLIC_KEY_LEN]);
        at += PUBLIC_KEY_LEN;
        let exchange = (x_len > 0).then(|| {
            let mut x = [0u8; 32];
            x.copy_from_slice(&bytes[at..at + 32]);
            x
        });
        at += x_len;
        let mut endorsement = [0u8; SIGNATURE_LEN];
        endorsement.copy_from_slice(&bytes[at..at + SIGNATURE_LEN]);
        at += SIGNATURE_LEN;
        let sealed = bytes[at..].to_vec();
        if sealed[0] != 1 {
            return Err(Error::UnsupportedVersion { found: sealed[0] });
        }
        Ok(Self {
            version,
            params,
            salt,
            role,
            created: u64::from_le_bytes(created),
            label,
            authority,
            exchange,
            endorsement,
            sealed,
        })
    }
}
