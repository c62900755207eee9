//! Records signed by the admin authority: snapshot tombstones and key
//! revocations. They are how a removal carries an admin's authorisation
//! that a backup host (which knows the master key, so can seal anything)
//! cannot forge.
//!
//! # Format (version 1) — do not change; add a new version instead
//!
//! ```text
//! offset  length  field
//! 0       4       magic: "CRNT" (tombstone), "CRNV" (key revocation),
//!                 "CRTS" (tenant shred) or "CRHD" (snapshot hold)
//! 4       1       version = 0x01
//! 5       64      ed25519 signature by the admin authority, context
//!                 "cairn/v1/signed/" || magic, over repository id (32 hex
//!                 ASCII) || 0x00 || the JSON below
//! 69      n       JSON (not encrypted: it names only ids and a time)
//! ```
//!
//! | key | magic | JSON fields |
//! |-----|-------|-------------|
//! | `tombstones/<snapshot id>` | `CRNT` | `snapshot`, `time`, `key` (the admin key file's id), `host` |
//! | `revoked/<key id>` | `CRNV` | `key`, `time`, `by` (the admin key file's id), `host` |
//! | `tenant-shreds/<tenant id>/<namespace>` | `CRTS` | `tenant`, `namespace`, `time`, `key` (the admin key file's id), `host` |
//! | `holds/<snapshot id>` | `CRHD` | `snapshot`, `until` (RFC 3339, absent: no end), `reason`, `time`, `key`, `host` ([`Hold`]) |
//!
//! The repository id in the signed bytes keeps a record from being
//! replayed into another repository that shares an authority (there is
//! none today; it costs nothing). Records are verified against the
//! authority the verifier read from its *own* key file.

use cairn_crypto::{AdminKey, AdminPublicKey};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::{Error, Result};

/// Magic of snapshot tombstones.
pub(crate) const TOMBSTONE_MAGIC: &[u8; 4] = b"CRNT";
/// Magic of key revocations.
pub(crate) const REVOCATION_MAGIC: &[u8; 4] = b"CRNV";
/// Magic of tenant shred records.
pub(crate) const SHRED_MAGIC: &[u8; 4] = b"CRTS";
/// Magic of snapshot holds.
pub(crate) const HOLD_MAGIC: &[u8; 4] = b"CRHD";
/// Prefix of snapshot holds.
pub const HOLDS: &str = "holds/";
/// Prefix of snapshot tombstones.
pub const TOMBSTONES: &str = "tombstones/";
/// Prefix of key revocations.
pub(crate) const REVOKED: &str = "revoked/";
/// Largest signed record read.
pub(crate) const MAX_SIGNED_SIZE: u64 = 64 << 10;

const VERSION: u8 = 1;
const HEADER: usize = 5 + 64;

/// An admin's authorisation to forget one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Tombstone {
    /// The snapshot id.
    pub(crate) snapshot: String,
    /// When, by the admin's clock (informational).
    pub(crate) time: String,
    /// The admin key file that signed (its id).
    pub(crate) key: String,
    /// The admin's host.
    pub(crate) host: String,
}

/// An admin's hold on one snapshot (`holds/<id>`): forget and prune keep
/// the snapshot, whatever a policy says, until the hold is released (its
/// object deleted) or `until` has passed. Fixture:
/// `tests/fixtures/hold-v1.hex`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The snapshot held.
    pub snapshot: String,
    /// When the hold ends (RFC 3339); `None`: when it is released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Why (free text, e.g. a legal case number).
    #[serde(default)]
    pub reason: String,
    /// When it was written, by the admin's clock (informational).
    pub time: String,
    /// The admin key file that signed (its id).
    pub key: String,
    /// The admin's host.
    pub host: String,
}

/// Signs `hold` as a `CRHD` record of repository `repo_id`.
#[doc(hidden)]
pub fn encode_hold(admin: &AdminKey, repo_id: &str, hold: &Hold) -> Result<Vec<u8>> {
    encode_signed(admin, HOLD_MAGIC, repo_id, hold)
}

/// Checks and parses a hold read from `object` (errors as [`decode_signed`]).
#[doc(hidden)]
pub fn decode_hold(
    authority: &AdminPublicKey,
    repo_id: &str,
    object: &str,
    bytes: &[u8],
) -> Result<Hold> {
    decode_signed(authority, HOLD_MAGIC, repo_id, object, bytes)
}

/// An admin's revocation of one key file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Revocation {
    pub(crate) key: String,
    pub(crate) time: String,
    pub(crate) by: String,
    pub(crate) host: String,
}

fn context(magic: &[u8; 4]) -> Vec<u8> {
    let mut c = b"cairn/v1/signed/".to_vec();
    c.extend_from_slice(magic);
    c
}

fn message(repo_id: &str, json: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(repo_id.len() + 1 + json.len());
    m.extend_from_slice(repo_id.as_bytes());
    m.push(0);
    m.extend_from_slice(json);
    m
}

/// Serialises and signs `doc`.
pub(crate) fn encode_signed<T: Serialize>(
    admin: &AdminKey,
    magic: &[u8; 4],
    repo_id: &str,
    doc: &T,
) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(doc).map_err(|e| Error::Internal {
        what: format!("serialising a signed record: {e}"),
    })?;
    let sig = admin.sign(&context(magic), &message(repo_id, &json));
    let mut out = Vec::with_capacity(HEADER + json.len());
    out.extend_from_slice(magic);
    out.push(VERSION);
    out.extend_from_slice(&sig);
    out.extend_from_slice(&json);
    Ok(out)
}

/// Checks and parses a signed record read from `object`.
///
/// # Errors
/// [`Error::Corrupt`] for a bad magic or JSON, [`Error::UnsupportedVersion`],
/// [`Error::NotAuthorised`] when the signature does not verify under
/// `authority` (forged, planted, or signed by another authority).
pub(crate) fn decode_signed<T: DeserializeOwned>(
    authority: &AdminPublicKey,
    magic: &[u8; 4],
    repo_id: &str,
    object: &str,
    bytes: &[u8],
) -> Result<T> {
    if bytes.len() < HEADER || &bytes[..4] != magic {
        return Err(Error::corrupt(object, "bad magic or truncated"));
    }
    if bytes[4] != VERSION {
        return Err(Error::UnsupportedVersion {
            object: object.to_owned(),
            found: bytes[4],
        });
    }
    let json = &bytes[HEADER..];
    authority
        .verify(&context(magic), &message(repo_id, json), &bytes[5..HEADER])
        .map_err(|_| Error::NotAuthorised {
            object: object.to_owned(),
        })?;
    serde_json::from_slice(json).map_err(|e| Error::corrupt(object, e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const REPO: &str = "00112233445566778899aabbccddeeff";

    fn tombstone() -> Tombstone {
        Tombstone {
            snapshot: "ab".repeat(32),
            time: "2026-11-29T00:00:00Z".into(),
            key: "cd".repeat(32),
            host: "golden".into(),
        }
    }

    /// Signed by version 1 with the authority seeded `[0x33; 32]` (ed25519
    /// signatures are deterministic; bless with `CAIRN_BLESS_FIXTURES=1`).
    const GOLDEN_TOMBSTONE: &str = "43524e5401e1e1aa7d76fc87262c3f098e939958e041d1094926b18fc0566de4486f057cf40031cc33c8082fe701ccc6c8027146230f290672526c4257d1d927a2688175007b22736e617073686f74223a2261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162222c2274696d65223a22323032362d31312d32395430303a30303a30305a222c226b6579223a2263646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364222c22686f7374223a22676f6c64656e227d";

    /// A shred record (`CRTS`), signed like the tombstone above.
    const GOLDEN_SHRED: &str = "43525453011b3219323a9a629441def47692cc439ffdba7bc0e093937978f3d470512fed72ea83c4bc250bdc95857b4b47acd63ad620d18b7ae7024430c5a3fb033c3591057b2274656e616e74223a223131313131313131313131313131313131313131313131313131313131313131222c226e616d657370616365223a223232323232323232323232323232323232323232323232323232323232323232222c2274696d65223a22323032362d31312d33305430303a30303a30305a222c226b6579223a2263646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364222c22686f7374223a22676f6c64656e227d";

    #[test]
    fn version_1_shred_record_is_pinned() {
        use crate::tenant::ShredRecordForTests as ShredRecord;
        let admin = AdminKey::from_seed(&[0x33; 32]);
        let record = ShredRecord {
            tenant: "11".repeat(16),
            namespace: "22".repeat(16),
            time: "2026-11-30T00:00:00Z".into(),
            key: "cd".repeat(32),
            host: "golden".into(),
        };
        let bytes = encode_signed(&admin, SHRED_MAGIC, REPO, &record).unwrap();
        if std::env::var_os("CAIRN_BLESS_FIXTURES").is_some() {
            println!("const GOLDEN_SHRED: &str = \"{}\";", hex::encode(&bytes));
            return;
        }
        assert_eq!(hex::encode(&bytes), GOLDEN_SHRED);
        let back: ShredRecord =
            decode_signed(&admin.public(), SHRED_MAGIC, REPO, "s", &bytes).unwrap();
        assert_eq!(back, record);
        // Not valid as a tombstone, nor under another authority.
        let mut as_tombstone = bytes.clone();
        as_tombstone[..4].copy_from_slice(TOMBSTONE_MAGIC);
        assert!(decode_signed::<Tombstone>(
            &admin.public(),
            TOMBSTONE_MAGIC,
            REPO,
            "s",
            &as_tombstone
        )
        .is_err());
        let other = AdminKey::from_seed(&[0x34; 32]).public();
        assert!(decode_signed::<ShredRecord>(&other, SHRED_MAGIC, REPO, "s", &bytes).is_err());
    }

    #[test]
    fn version_1_tombstone_is_pinned_and_verified() {
        let admin = AdminKey::from_seed(&[0x33; 32]);
        let bytes = encode_signed(&admin, TOMBSTONE_MAGIC, REPO, &tombstone()).unwrap();
        if std::env::var_os("CAIRN_BLESS_FIXTURES").is_some() {
            println!(
                "const GOLDEN_TOMBSTONE: &str = \"{}\";",
                hex::encode(&bytes)
            );
            return;
        }
        assert_eq!(hex::encode(&bytes), GOLDEN_TOMBSTONE);
        let pk = admin.public();
        let t: Tombstone = decode_signed(&pk, TOMBSTONE_MAGIC, REPO, "t", &bytes).unwrap();
        assert_eq!(t, tombstone());
        // Another authority, another repository, another purpose, a flipped
        // byte: each refused.
        let other = AdminKey::from_seed(&[0x34; 32]).public();
        let refused = |r: Result<Tombstone>| matches!(r, Err(Error::NotAuthorised { .. }));
        assert!(refused(decode_signed(
            &other,
            TOMBSTONE_MAGIC,
            REPO,
            "t",
            &bytes
        )));
        let other_repo = "f".repeat(32);
        assert!(refused(decode_signed(
            &pk,
            TOMBSTONE_MAGIC,
            &other_repo,
            "t",
            &bytes
        )));
        let mut as_revocation = bytes.clone();
        as_revocation[..4].copy_from_slice(REVOCATION_MAGIC);
        assert!(refused(decode_signed(
            &pk,
            REVOCATION_MAGIC,
            REPO,
            "t",
            &as_revocation
        )));
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(refused(decode_signed(
            &pk,
            TOMBSTONE_MAGIC,
            REPO,
            "t",
            &flipped
        )));
        for len in 0..HEADER {
            assert!(
                decode_signed::<Tombstone>(&pk, TOMBSTONE_MAGIC, REPO, "t", &bytes[..len]).is_err()
            );
        }
    }
}
