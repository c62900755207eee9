//! Reading key epochs: which epoch objects are valid, and the key set a
//! key file opens (see the parent module for the formats).

use std::collections::BTreeMap;

use cairn_backends::Backend;
use cairn_crypto::{AdminPublicKey, ExchangeSecret, KeySet, MasterKey};
use zeroize::Zeroizing;

use super::{
    chain_aad, chain_key, epoch_name, grant_context, grant_name, EpochRecord, GrantRecord, EPOCHS,
    EPOCH_MAGIC, GRANT_MAGIC,
};
use crate::open::{get_capped, list_tolerant, OpenWarning};
use crate::repo::crypto_err;
use crate::repo::signed::{decode_signed, MAX_SIGNED_SIZE};
use crate::{Error, Result};

fn open_previous(
    root: &MasterKey,
    repo_id: &str,
    rec: &EpochRecord,
    object: &str,
) -> Result<Vec<(u32, MasterKey)>> {
    let sealed = hex::decode(&rec.previous).map_err(|_| Error::corrupt(object, "previous"))?;
    let plain = Zeroizing::new(
        chain_key(root)?
            .open(&sealed, &chain_aad(repo_id, rec.epoch))
            .map_err(|_| Error::Authentication {
                object: object.to_owned(),
            })?,
    );
    if plain.len() % 36 != 0 {
        return Err(Error::corrupt(object, "previous roots have a bad length"));
    }
    let mut out = Vec::new();
    for item in plain.chunks_exact(36) {
        let mut e = [0u8; 4];
        e.copy_from_slice(&item[..4]);
        let mut r = [0u8; 32];
        r.copy_from_slice(&item[4..]);
        out.push((u32::from_le_bytes(e), MasterKey::from_bytes(r)));
    }
    Ok(out)
}

/// The valid epoch records (verified under `authority`), and warnings for
/// the others. Without an authority nothing verifies: the listed numbers
/// are returned as `unverifiable`.
pub(crate) async fn read_epochs(
    backend: &dyn Backend,
    authority: Option<&AdminPublicKey>,
    repo_id: &str,
) -> Result<(BTreeMap<u32, EpochRecord>, Vec<OpenWarning>, Option<u32>)> {
    let (heard, incomplete) = list_tolerant(backend, EPOCHS).await?;
    let mut warnings = Vec::new();
    if let Some(e) = incomplete {
        warnings.push(OpenWarning::Listing {
            object: EPOCHS.into(),
            reason: e.to_string(),
        });
    }
    let mut valid = BTreeMap::new();
    let mut unverifiable = None;
    for meta in heard {
        let name = meta.key;
        let warn = |reason: String| OpenWarning::Epoch {
            object: name.clone(),
            reason,
        };
        let Some(n) = name
            .strip_prefix(EPOCHS)
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|&n| n > 0)
        else {
            warnings.push(warn("not an epoch object name".into()));
            continue;
        };
        let Some(authority) = authority else {
            unverifiable = unverifiable.max(Some(n));
            continue;
        };
        let bytes = match get_capped(backend, &name, MAX_SIGNED_SIZE).await {
            Ok(b) => b,
            Err(e) if e.is_backend_failure() => return Err(e),
            Err(e) => {
                warnings.push(warn(e.to_string()));
                continue;
            }
        };
        match decode_signed::<EpochRecord>(authority, EPOCH_MAGIC, repo_id, &name, &bytes) {
            Ok(r) if r.epoch == n => {
                valid.insert(n, r);
            }
            Ok(r) => warnings.push(warn(format!("names epoch {}", r.epoch))),
            Err(e) => warnings.push(warn(e.to_string())),
        }
    }
    Ok((valid, warnings, unverifiable))
}

/// The key set a key file opens: every epoch up to the newest valid one.
///
/// # Errors
/// [`Error::EpochNotGranted`] when the newest epoch holds no grant this
/// key file can open (it was left out of a rotation).
pub(crate) async fn load(
    backend: &dyn Backend,
    master: &MasterKey,
    authority: Option<&AdminPublicKey>,
    exchange: Option<&ExchangeSecret>,
    key_name: &str,
    repo_id: &str,
) -> Result<(KeySet, Vec<OpenWarning>)> {
    let (records, warnings, unverifiable) = read_epochs(backend, authority, repo_id).await?;
    let not_granted = |epoch| Error::EpochNotGranted {
        epoch,
        key: key_name.to_owned(),
    };
    if let Some(n) = unverifiable {
        // A version 1 key file (no authority) cannot verify epochs, and
        // could not have received a grant: it was left out.
        return Err(not_granted(n));
    }
    let Some((&n, rec)) = records.last_key_value() else {
        return Ok((KeySet::derive(master), warnings));
    };
    let id = key_name.trim_start_matches("keys/");
    let exchange = exchange.ok_or_else(|| not_granted(n))?;
    let grant_hex = match rec.grants.get(id) {
        Some(g) => g.clone(),
        None => read_grant(backend, authority, repo_id, n, id)
            .await?
            .ok_or_else(|| not_granted(n))?,
    };
    let object = epoch_name(n);
    let grant = hex::decode(grant_hex).map_err(|_| Error::corrupt(&object, "grant hex"))?;
    let root = exchange
        .open_grant(&grant, &grant_context(repo_id, n, id))
        .map_err(|_| not_granted(n))?;
    let mut roots = open_previous(&root, repo_id, rec, &object)?;
    roots.push((n, root));
    let refs: Vec<(u32, &MasterKey)> = roots.iter().map(|(e, r)| (*e, r)).collect();
    let keys = KeySet::with_epochs(master, n, &refs).map_err(crypto_err(object))?;
    Ok((keys, warnings))
}

async fn read_grant(
    backend: &dyn Backend,
    authority: Option<&AdminPublicKey>,
    repo_id: &str,
    n: u32,
    id: &str,
) -> Result<Option<String>> {
    let Some(authority) = authority else {
        return Ok(None);
    };
    let name = grant_name(n, id);
    let bytes = match get_capped(backend, &name, MAX_SIGNED_SIZE).await {
        Ok(b) => b,
        Err(e) if e.is_backend_failure() => return Err(e),
        Err(_) => return Ok(None),
    };
    Ok(
        decode_signed::<GrantRecord>(authority, GRANT_MAGIC, repo_id, &name, &bytes)
            .ok()
            .filter(|g| g.epoch == n && g.key == id)
            .map(|g| g.grant),
    )
}
