//! Key epochs: rotating the keys new data is sealed under, so that a
//! removed key's holder who kept a copy of the master key cannot read what
//! is written (or re-encrypted) afterwards.
//!
//! Epoch 0 is the keys derived from the master key (no object). Epoch `n >= 1`
//! has a random root, delivered to each remaining key file as a *grant*
//! (`cairn_crypto::exchange`: sealed to the file's X25519 public key, which
//! only version 3 key files carry). Every sealed message names its epoch
//! (`cairn_crypto::seal`, version 2), so readers open any epoch they hold and
//! writers seal under the newest valid one. Prune's repack re-encrypts blobs
//! of older epochs and re-seals the index ([`crate::prune`]);
//! [`Repository::epoch_usage`] reports what is still under each epoch.
//!
//! # Objects (version 1) — do not change; add a new version instead
//!
//! Both are signed records (`repo::signed` layout: magic, version 0x01,
//! ed25519 signature by the admin authority over repository id || 0x00 ||
//! JSON, then the JSON), so a storage attacker — or a backup host, which
//! knows the master key but not the authority — cannot plant an epoch whose
//! root they chose and make clients encrypt to it. Unsigned or forged ones
//! are ignored and named in [`Repository::open_warnings`].
//!
//! | key | magic | JSON fields |
//! |-----|-------|-------------|
//! | `epochs/<n, 10 digits>` | `CREP` | `epoch`, `created`, `by` (rotating key id), `host`, `previous`, `grants` (key id → grant hex), `dropped` |
//! | `grants/<n, 10 digits>/<key id>` | `CRGT` | `epoch`, `key`, `grant` (hex), `time`, `by` |
//!
//! A rotation numbers its epoch with the smallest number above the newest
//! valid epoch that no object is stored at: objects that do not verify
//! (planted junk at `epochs/<n+1>`) are skipped, not collided with.
//!
//! `grants/` holds grants made after the rotation (a key added, a password
//! changed). A grant's context (its AEAD binding) is `repository id || 0x00 ||
//! epoch (u32 LE) || key id`. `previous` is the hex of a sealed message
//! (`cairn_crypto::seal`, version 1) under `HKDF-SHA256(epoch root,
//! "cairn/v1/epoch-chain")`, associated data `"CREP" || repository id ||
//! epoch`, holding `(epoch u32 LE || root)` for every epoch `1..n`: whoever
//! opens epoch `n` can read everything before it, so a key added later needs
//! one grant only.
//!
//! # Limits (honest)
//!
//! - The chunk-id key stays epoch 0's (dedup survives rotation): a removed
//!   holder can still compute chunk ids, i.e. confirm a plaintext they know
//!   is stored, but decrypt nothing of a later epoch.
//! - Snapshot records are named by the hash of their sealed bytes, so they
//!   are not re-sealed: a removed holder can still read the records written
//!   before the rotation (time, host, paths, tags, root tree id, summary) —
//!   not the trees or file contents, which repack re-encrypts. Journal
//!   entries, the config and prune's bookkeeping records likewise keep their
//!   epoch. [`EpochUsage`] counts snapshot records separately.
//! - Version 1 and 2 key files cannot receive a grant: a rotation refuses
//!   until their passwords are changed (which writes version 3) or they are
//!   dropped (removed).
//! - Someone who can delete objects can delete `epochs/`: clients then seal
//!   under an older epoch again (data already written under the newer one
//!   stays unreadable to them, which `check` reports). Pair with storage
//!   that refuses deletes.

use std::collections::BTreeMap;
use std::time::SystemTime;

use bytes::Bytes;
use cairn_backends::{Backend, PutMode};
use cairn_crypto::{
    primitives, seal_grant, AnyKeyFile, ExchangePublic, KeySet, MasterKey, SealingKey,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::signed::encode_signed;
use super::{crypto_err, Repository};
use crate::open::read_key_file;
use crate::Result;

mod load;
mod rotate;
mod usage;
pub(crate) use load::{fetch, load, load_fetched, next_free};
pub use usage::{EpochReport, EpochUsage};

/// Magic of epoch objects.
pub(crate) const EPOCH_MAGIC: &[u8; 4] = b"CREP";
/// Magic of grant objects.
pub(crate) const GRANT_MAGIC: &[u8; 4] = b"CRGT";
pub(crate) const EPOCHS: &str = "epochs/";
const GRANTS: &str = "grants/";
const LABEL_CHAIN: &[u8] = b"cairn/v1/epoch-chain";

/// A key epoch, as signed by the rotating admin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EpochRecord {
    pub(crate) epoch: u32,
    pub(crate) created: String,
    pub(crate) by: String,
    pub(crate) host: String,
    pub(crate) previous: String,
    pub(crate) grants: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) dropped: Vec<String>,
}

/// A grant made after its epoch's rotation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GrantRecord {
    pub(crate) epoch: u32,
    pub(crate) key: String,
    pub(crate) grant: String,
    pub(crate) time: String,
    pub(crate) by: String,
}

pub(crate) fn epoch_name(n: u32) -> String {
    format!("{EPOCHS}{n:010}")
}

pub(crate) fn grant_name(n: u32, key_id: &str) -> String {
    format!("{GRANTS}{n:010}/{key_id}")
}

pub(crate) fn grant_context(repo_id: &str, epoch: u32, key_id: &str) -> Vec<u8> {
    let mut c = repo_id.as_bytes().to_vec();
    c.push(0);
    c.extend_from_slice(&epoch.to_le_bytes());
    c.extend_from_slice(key_id.as_bytes());
    c
}

pub(crate) fn chain_key(root: &MasterKey) -> Result<SealingKey> {
    let mut k = Zeroizing::new([0u8; 32]);
    primitives::hkdf_sha256(b"", root.expose_bytes(), LABEL_CHAIN, &mut k[..])
        .map_err(crypto_err("epoch chain key"))?;
    Ok(SealingKey::from_bytes(*k))
}

pub(crate) fn chain_aad(repo_id: &str, epoch: u32) -> Vec<u8> {
    let mut a = EPOCH_MAGIC.to_vec();
    a.extend_from_slice(repo_id.as_bytes());
    a.extend_from_slice(&epoch.to_le_bytes());
    a
}

/// Seals the roots of `keys`' epochs `1..` under the new epoch's root.
pub(crate) fn seal_previous(
    keys: &KeySet,
    root: &MasterKey,
    repo_id: &str,
    epoch: u32,
) -> Result<String> {
    let mut plain = Zeroizing::new(Vec::new());
    for e in keys.epochs().into_iter().filter(|&e| e > 0) {
        if let Some(r) = keys.expose_epoch_root(e) {
            plain.extend_from_slice(&e.to_le_bytes());
            plain.extend_from_slice(r.expose_bytes());
        }
    }
    let sealed = chain_key(root)?
        .seal(&plain, &chain_aad(repo_id, epoch))
        .map_err(crypto_err(epoch_name(epoch)))?;
    Ok(hex::encode(sealed))
}

/// How a rotation treats key files that cannot receive a grant.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct RotateOptions {
    /// Remove (revoke and delete) endorsed key files of version 1 or 2
    /// instead of refusing ([`Error::RotationBlocked`](crate::Error::RotationBlocked)): they could not open
    /// the new epoch anyway.
    pub drop_old_keys: bool,
}

impl RotateOptions {
    /// Sets `drop_old_keys`.
    pub fn drop_old_keys(mut self, yes: bool) -> Self {
        self.drop_old_keys = yes;
        self
    }
}

/// What a rotation did.
#[non_exhaustive]
#[derive(Debug, Clone, Serialize)]
pub struct RotateReport {
    /// The new epoch.
    pub epoch: u32,
    /// Its object.
    pub object: String,
    /// Key files (ids) granted the new epoch.
    pub granted: Vec<String>,
    /// Key files (ids) dropped (removed) because they could not receive it.
    pub dropped: Vec<String>,
    /// Key files not granted because this handle's authority did not
    /// endorse them (planted, or unreadable): they cannot open new data.
    pub not_trusted: Vec<String>,
}

/// Who a rotation grants to.
pub(crate) struct Recipients {
    pub(crate) grantable: Vec<(String, ExchangePublic)>,
    pub(crate) lacking: Vec<String>,
    pub(crate) not_trusted: Vec<String>,
}

/// Sorts the key files (minus `exclude`, ids) into those that can receive
/// a grant, endorsed ones that cannot, and untrusted ones.
pub(crate) async fn recipients(
    repo: &Repository,
    authority: &super::AuthorityChain,
    exclude: &[String],
) -> Result<Recipients> {
    let mut r = Recipients {
        grantable: Vec::new(),
        lacking: Vec::new(),
        not_trusted: Vec::new(),
    };
    for name in crate::prune::records::list_names(repo, "keys/").await? {
        let id = name.trim_start_matches("keys/").to_owned();
        if exclude.contains(&id) {
            continue;
        }
        let file = read_key_file(&**repo.backend(), &name).await;
        if let Ok(f) = &file {
            let backend = &**repo.backend();
            if super::is_revoked(backend, authority, &repo.config().id, &name, f).await? {
                continue;
            }
        }
        match file {
            Ok(AnyKeyFile::V2(f)) if authority.endorses(&f, &name) => match f.exchange_public() {
                Some(pk) => r.grantable.push((id, pk)),
                None => r.lacking.push(id),
            },
            Ok(AnyKeyFile::V1(_)) => r.lacking.push(id),
            Err(e) if e.is_backend_failure() => return Err(e),
            _ => r.not_trusted.push(id),
        }
    }
    Ok(r)
}

/// Grants `keys`' current epoch to a key file added (or re-written) after
/// the rotation: `grants/<n>/<id>`, signed. Nothing before any rotation.
pub(crate) async fn grant_current(
    repo: &Repository,
    admin: &cairn_crypto::AdminKey,
    key_name: &str,
    public: &ExchangePublic,
) -> Result<()> {
    let keys = repo.refresh_keys().await?;
    let n = keys.epoch();
    let Some(root) = keys.expose_epoch_root(n) else {
        return Ok(());
    };
    let id = key_name.trim_start_matches("keys/");
    let grant = seal_grant(&root, public, &grant_context(&repo.config().id, n, id))
        .map_err(crypto_err(key_name))?;
    let record = GrantRecord {
        epoch: n,
        key: id.to_owned(),
        grant: hex::encode(grant),
        time: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        by: repo.key_name().trim_start_matches("keys/").to_owned(),
    };
    let bytes = encode_signed(admin, GRANT_MAGIC, &repo.config().id, &record)?;
    repo.backend()
        .put(&grant_name(n, id), Bytes::from(bytes), PutMode::CreateOnly)
        .await?;
    Ok(())
}
