//! The erasure receipt: what a shred destroyed, signed by the admin
//! authority.
//!
//! # Format (`"format": "cairn-erasure-receipt/1"`) — do not change
//!
//! A JSON object with the fields of [`Receipt`], in that order. The
//! `signature` is ed25519 by the admin authority (context
//! `"cairn/v1/erasure-receipt"`) over the compact JSON serialisation of the
//! receipt with `signature` set to `""` — exactly what
//! `serde_json::to_vec` writes for the struct, so [`verify_receipt`]
//! re-serialises the parsed value and checks the signature over that; any
//! change to any field fails. A field the struct does not have (anywhere,
//! nested objects included) or a field given twice is refused before the
//! signature is checked: the signature covers only the fields re-encoded,
//! so an added field would otherwise ride along unsigned.
//! `authority` names the public key that
//! signed; a verifier should compare it with the authority it trusts (its
//! own key file's, which [`Repository::verify_receipt`] does).

use serde::{Deserialize, Serialize};

use cairn_crypto::{AdminKey, AdminPublicKey};

use crate::{Error, Repository, Result};

/// The receipt format this build writes and reads.
pub const RECEIPT_FORMAT: &str = "cairn-erasure-receipt/1";
const CONTEXT: &[u8] = b"cairn/v1/erasure-receipt";

/// An erasure receipt (see the module docs).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// [`RECEIPT_FORMAT`].
    pub format: String,
    /// The repository's id.
    pub repository: String,
    /// The tenant's name (the receipt goes to whoever asked for the
    /// erasure; it is never stored in the repository).
    pub tenant: String,
    /// The tenant's id (hex), as object names carry it.
    pub tenant_id: String,
    /// The namespaces whose keys were destroyed (`tenants/<namespace>/`).
    pub namespaces: Vec<String>,
    /// When (the shredding machine's clock, RFC 3339).
    pub time: String,
    /// The admin key file that authorised it (its id).
    pub key: String,
    /// The host it ran on.
    pub host: String,
    /// The admin authority's public key (hex) that signed this receipt and
    /// the shred records.
    pub authority: String,
    /// Every copy of the tenant's wrapped keys destroyed, and where its
    /// absence was confirmed.
    pub destroyed: Vec<DestroyedObject>,
    /// The tenant's snapshot records deleted.
    pub snapshots_forgotten: Vec<String>,
    /// The shred records written (they make the namespaces garbage).
    pub shred_records: Vec<String>,
    /// The repository journal entry recording the shred.
    pub journal_entry: String,
    /// Ciphertext of the tenant still stored, until `prune` reclaims it.
    pub pending_gc: Vec<PendingGc>,
    /// What this receipt cannot vouch for.
    pub limits: Vec<String>,
    /// Hex ed25519 signature (see the module docs).
    pub signature: String,
}

/// One destroyed copy of a tenant's wrapped keys.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestroyedObject {
    /// The object.
    pub object: String,
    /// Its size as listed (0 for stray pieces of an earlier copy).
    pub bytes: u64,
    /// The stores that answered "not found" when it was read back after
    /// the deletion: `repository` (the backend as Cairn sees it) and each
    /// store the caller named (for an erasure layout, every child).
    pub confirmed_absent_on: Vec<String>,
}

/// Ciphertext left under a namespace.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingGc {
    /// The prefix (`tenants/<namespace>/`).
    pub prefix: String,
    /// Objects under it.
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// The limits every receipt states.
pub(crate) fn limits() -> Vec<String> {
    [
        "Key holders: every holder of a repository key could unwrap this tenant's keys before \
         the shred; anyone who kept them (or a process that had the tenant open and is still \
         running) can still decrypt copies of its ciphertext. Shredding protects against \
         future disclosure of the repository's keys, not against past key holders.",
        "Pending ciphertext: the tenant's packs, indexes and trees stay stored (sealed under the \
         destroyed keys) until an admin runs `prune`, which deletes everything under the \
         namespaces above. Until then they are undecryptable without the destroyed keys.",
        "Backend versioning, soft delete and snapshots: a store that keeps old versions or \
         deleted objects (S3 versioning, GCS/Azure soft delete, file-system or disk snapshots) \
         may still hold the deleted key objects. Cairn deletes the current object it can \
         address and cannot see or prove anything about older versions.",
        "Object lock / WORM retention: a store under retention may refuse or delay deletion; \
         only deletions confirmed above happened.",
        "Old copies of the repository: backups, mirrors or replicas of the storage made outside \
         Cairn, and erasure children detached or replaced before this shred, keep the key \
         objects they hold. Repositories filled by `cairn copy` from this tenant hold its data \
         re-sealed under their own keys, which this shred does not touch.",
        "Local caches: Cairn never caches tenant key objects. A local metadata cache on a machine \
         that opened this tenant may hold its metadata; caches on machines other than the one \
         that ran this shred are not reached.",
        "Confirmation: each deletion was confirmed by reading the object back from the stores \
         listed, at the time given; it is the stores' answer, not a physical erasure of media.",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

impl Receipt {
    fn signed_bytes(&self) -> Result<Vec<u8>> {
        let mut unsigned = self.clone();
        unsigned.signature = String::new();
        serde_json::to_vec(&unsigned).map_err(|e| Error::Internal {
            what: format!("serialising a receipt: {e}"),
        })
    }

    pub(crate) fn sign(mut self, admin: &AdminKey) -> Result<Self> {
        self.authority = admin.public().to_hex();
        let sig = admin.sign(CONTEXT, &self.signed_bytes()?);
        self.signature = hex::encode(sig);
        Ok(self)
    }

    /// The receipt as pretty-printed JSON (what `cairn shred --json` prints).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::Internal {
            what: format!("serialising a receipt: {e}"),
        })
    }
}

/// Parses and verifies a receipt: its signature under the authority it
/// names, and, if `expected` is given, that this is the authority expected.
///
/// # Errors
/// [`Error::ReceiptInvalid`] for anything else: not JSON, another format,
/// a changed field, another authority.
pub fn verify_receipt(json: &[u8], expected: Option<&AdminPublicKey>) -> Result<Receipt> {
    let invalid = |reason: &str| Error::ReceiptInvalid {
        reason: reason.to_owned(),
    };
    let receipt: Receipt =
        serde_json::from_slice(json).map_err(|e| invalid(&format!("not a receipt: {e}")))?;
    if receipt.format != RECEIPT_FORMAT {
        return Err(invalid(&format!("unknown format {:?}", receipt.format)));
    }
    let mut pk = [0u8; 32];
    hex::decode_to_slice(&receipt.authority, &mut pk)
        .map_err(|_| invalid("authority is not 32 bytes of hex"))?;
    let authority =
        AdminPublicKey::from_bytes(&pk).map_err(|_| invalid("authority is not a public key"))?;
    if expected.is_some_and(|e| *e != authority) {
        return Err(invalid(
            "signed by another admin authority than this repository's",
        ));
    }
    let sig = hex::decode(&receipt.signature).map_err(|_| invalid("signature is not hex"))?;
    authority
        .verify(CONTEXT, &receipt.signed_bytes()?, &sig)
        .map_err(|_| invalid("the signature does not verify (the receipt was changed)"))?;
    Ok(receipt)
}

impl Repository {
    /// [`verify_receipt`] against this handle's authority, and for this
    /// repository.
    pub fn verify_receipt(&self, json: &[u8]) -> Result<Receipt> {
        let authority = self.authority().ok_or(Error::NoAuthority {
            operation: "verify an erasure receipt",
        })?;
        // Receipts are not stored, so no link pins them: one signed by a
        // retired authority (which its holder may still sign with) is
        // refused like any other authority's.
        let r = verify_receipt(json, Some(&authority))?;
        if r.repository != self.config().id {
            return Err(Error::ReceiptInvalid {
                reason: format!("receipt is for repository {}", r.repository),
            });
        }
        Ok(r)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn receipt() -> Receipt {
        Receipt {
            format: RECEIPT_FORMAT.into(),
            repository: "00".repeat(16),
            tenant: "Zoë".into(),
            tenant_id: "11".repeat(16),
            namespaces: vec!["22".repeat(16)],
            time: "2026-11-30T00:00:00Z".into(),
            key: "33".repeat(32),
            host: "golden".into(),
            authority: String::new(),
            destroyed: vec![DestroyedObject {
                object: format!("tenant-keys/{}/{}", "11".repeat(16), "44".repeat(32)),
                bytes: 150,
                confirmed_absent_on: vec!["repository".into()],
            }],
            snapshots_forgotten: vec!["55".repeat(32)],
            shred_records: vec![],
            journal_entry: "66".repeat(32),
            pending_gc: vec![PendingGc {
                prefix: format!("tenants/{}/", "22".repeat(16)),
                objects: 7,
                bytes: 7000,
            }],
            limits: limits(),
            signature: String::new(),
        }
    }

    /// Version 1 pinned: the same fields signed by the authority seeded
    /// `[0x33; 32]` (ed25519 is deterministic) give these exact bytes, and
    /// the committed file verifies. Bless with `CAIRN_BLESS_FIXTURES=1`.
    #[test]
    fn version_1_receipt_is_pinned() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/receipt-v1.json"
        );
        let json = receipt()
            .sign(&AdminKey::from_seed(&[0x33; 32]))
            .unwrap()
            .to_json()
            .unwrap();
        if std::env::var_os("CAIRN_BLESS_FIXTURES").is_some() {
            std::fs::write(path, &json).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap();
        assert_eq!(json, committed);
        let pk = AdminKey::from_seed(&[0x33; 32]).public();
        let r = verify_receipt(committed.as_bytes(), Some(&pk)).unwrap();
        assert_eq!(r.tenant, "Zoë");
    }

    #[test]
    fn a_receipt_verifies_and_any_change_is_refused() {
        let admin = AdminKey::from_seed(&[0x33; 32]);
        let r = receipt().sign(&admin).unwrap();
        let json = r.to_json().unwrap();
        assert_eq!(verify_receipt(json.as_bytes(), None).unwrap(), r);
        let pk = admin.public();
        assert_eq!(verify_receipt(json.as_bytes(), Some(&pk)).unwrap(), r);
        let other = AdminKey::from_seed(&[0x34; 32]).public();
        assert!(verify_receipt(json.as_bytes(), Some(&other)).is_err());
        for (from, to) in [("\"objects\": 7", "\"objects\": 8"), ("Zoë", "Zoe")] {
            let changed = json.replace(from, to);
            assert_ne!(changed, json);
            let err = verify_receipt(changed.as_bytes(), None).unwrap_err();
            assert!(matches!(err, Error::ReceiptInvalid { .. }), "{err}");
        }
        // Re-signed by another authority: valid alone, refused against ours.
        let forged = receipt().sign(&AdminKey::from_seed(&[0x34; 32])).unwrap();
        let forged = forged.to_json().unwrap();
        assert!(verify_receipt(forged.as_bytes(), None).is_ok());
        assert!(verify_receipt(forged.as_bytes(), Some(&pk)).is_err());
        assert!(verify_receipt(b"{}", None).is_err());
    }

    /// Issue #20 item 10: the signature covers only the fields the struct
    /// re-encodes, so an added field (top level or nested) or a repeated
    /// one must be refused, not carried along unsigned.
    #[test]
    fn a_receipt_with_an_unsigned_field_does_not_verify() {
        let admin = AdminKey::from_seed(&[0x33; 32]);
        let json = receipt().sign(&admin).unwrap().to_json().unwrap();
        let pk = admin.public();
        assert!(verify_receipt(json.as_bytes(), Some(&pk)).is_ok());
        let added = [
            (
                "{\n",
                "{\n  \"note\": \"all copies destroyed, incl. backups\",\n",
            ),
            ("\"objects\": 7", "\"objects\": 7, \"verified\": true"),
            ("\"bytes\": 150,", "\"bytes\": 150, \"extra\": 1,"),
            (
                "\"host\": \"golden\",",
                "\"host\": \"golden\", \"host\": \"golden\",",
            ),
        ];
        for (from, to) in added {
            let changed = json.replacen(from, to, 1);
            assert_ne!(changed, json);
            let err = verify_receipt(changed.as_bytes(), Some(&pk)).unwrap_err();
            assert!(matches!(err, Error::ReceiptInvalid { .. }), "{to}: {err}");
        }
    }
}
