//! Reading key epochs: which epoch objects are valid, and the key set a
//! key file opens (see the parent module for the formats).

use std::collections::BTreeMap;

use bytes::Bytes;
use cairn_backends::Backend;
use cairn_crypto::{ExchangeSecret, KeySet, MasterKey};
use futures::StreamExt;
use zeroize::Zeroizing;

use super::{
    chain_aad, chain_key, epoch_name, grant_context, grant_name, EpochRecord, GrantRecord, EPOCHS,
    EPOCH_MAGIC, GRANT_MAGIC,
};
use crate::open::{get_capped, list_tolerant, OpenWarning};
use crate::repo::crypto_err;
use crate::repo::signed::MAX_SIGNED_SIZE;
use crate::repo::AuthorityChain;
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
        // Straight into the zeroized-on-drop key: no stack copy of a root.
        let r = item[4..]
            .first_chunk::<32>()
            .ok_or_else(|| Error::corrupt(object, "previous roots have a bad length"))?;
        out.push((u32::from_le_bytes(e), MasterKey::from_key(r)));
    }
    Ok(out)
}

/// Epoch objects read ahead of verification: `open` lists and reads them
/// side by side with the key files, before it knows the authority that
/// verifies them (see [`fetch`]).
pub(crate) struct Fetched {
    /// Listing problems and names that are not epoch objects.
    warnings: Vec<OpenWarning>,
    /// The newest (at most [`READ_AHEAD`]) epoch objects, read.
    read: Vec<(u32, String, Result<Bytes>)>,
    /// The older ones, only listed (read when verified).
    listed: Vec<(u32, String)>,
}

/// How many epoch objects [`fetch`] reads before they can be verified:
/// they are small (at most [`MAX_SIGNED_SIZE`]), but a store can hold any
/// number of planted ones, so what is held unverified is bounded.
const READ_AHEAD: usize = 8;

/// Lists `epochs/` and reads the newest epoch objects, without verifying
/// anything (that needs the authority: [`verify`]).
pub(crate) async fn fetch(backend: &dyn Backend) -> Result<Fetched> {
    let (heard, incomplete) = list_tolerant(backend, EPOCHS).await?;
    let mut warnings = Vec::new();
    if let Some(e) = incomplete {
        warnings.push(OpenWarning::Listing {
            object: EPOCHS.into(),
            reason: e.to_string(),
        });
    }
    let mut listed = Vec::new();
    for meta in heard {
        match meta
            .key
            .strip_prefix(EPOCHS)
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|&n| n > 0)
        {
            Some(n) => listed.push((n, meta.key)),
            None => warnings.push(OpenWarning::Epoch {
                object: meta.key,
                reason: "not an epoch object name".into(),
            }),
        }
    }
    listed.sort();
    let ahead = listed.split_off(listed.len().saturating_sub(READ_AHEAD));
    let read = futures::stream::iter(ahead)
        .map(|(n, name)| async move {
            let bytes = get_capped(backend, &name, MAX_SIGNED_SIZE).await;
            (n, name, bytes)
        })
        .buffered(READ_AHEAD)
        .collect()
        .await;
    Ok(Fetched {
        warnings,
        read,
        listed,
    })
}

/// The smallest epoch number after `current` that nothing is stored at: a
/// rotation takes it, so junk planted at the next number (which does not
/// verify, so is no epoch) cannot make every rotation collide with it
/// (create-only) forever. Walking past junk, not past the highest number
/// listed, keeps one object planted at `u32::MAX` from exhausting the
/// numbers.
pub(crate) async fn next_free(backend: &dyn Backend, current: u32) -> Result<u32> {
    let (heard, _) = list_tolerant(backend, EPOCHS).await?;
    let taken: std::collections::BTreeSet<u32> = heard
        .iter()
        .filter_map(|m| m.key.strip_prefix(EPOCHS)?.parse::<u32>().ok())
        .collect();
    let mut n = current;
    loop {
        n = n.checked_add(1).ok_or_else(|| Error::Internal {
            what: "key epoch numbers exhausted".into(),
        })?;
        if !taken.contains(&n) {
            return Ok(n);
        }
    }
}

/// The valid epoch records among what [`fetch`] read (verified under
/// `authority`; the older objects it only listed are read now, a few at a
/// time), and warnings for the others. Without an authority nothing
/// verifies: the newest listed number is returned as `unverifiable`.
pub(crate) async fn verify(
    backend: &dyn Backend,
    fetched: Fetched,
    authority: Option<&AuthorityChain>,
    repo_id: &str,
) -> Result<(BTreeMap<u32, EpochRecord>, Vec<OpenWarning>, Option<u32>)> {
    let Fetched {
        mut warnings,
        read,
        listed,
    } = fetched;
    let Some(authority) = authority else {
        // Nothing to verify with (and what was read ahead, or failed to
        // be, is not looked at).
        let newest = read.iter().map(|r| r.0).chain(listed.iter().map(|l| l.0));
        return Ok((BTreeMap::new(), warnings, newest.max()));
    };
    let mut valid = BTreeMap::new();
    let mut judge = |n: u32, name: String, bytes: Result<Bytes>| -> Result<()> {
        let warn = |reason: String| OpenWarning::Epoch {
            object: name.clone(),
            reason,
        };
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) if e.is_backend_failure() => return Err(e),
            Err(e) => {
                warnings.push(warn(e.to_string()));
                return Ok(());
            }
        };
        match authority.decode::<EpochRecord>(EPOCH_MAGIC, repo_id, &name, &bytes) {
            Ok(r) if r.epoch == n => {
                valid.insert(n, r);
            }
            Ok(r) => warnings.push(warn(format!("names epoch {}", r.epoch))),
            Err(e) => warnings.push(warn(e.to_string())),
        }
        Ok(())
    };
    for (n, name, bytes) in read {
        judge(n, name, bytes)?;
    }
    let mut older = futures::stream::iter(listed)
        .map(|(n, name)| async move {
            let bytes = get_capped(backend, &name, MAX_SIGNED_SIZE).await;
            (n, name, bytes)
        })
        .buffered(READ_AHEAD);
    while let Some((n, name, bytes)) = older.next().await {
        judge(n, name, bytes)?;
    }
    // Listing order, whatever order the reads came back in.
    warnings.sort_by(|a, b| a.object().cmp(b.object()));
    Ok((valid, warnings, None))
}

/// The key set a key file opens: every epoch up to the newest valid one.
///
/// # Errors
/// [`Error::EpochNotGranted`] when the newest epoch holds no grant this
/// key file can open (it was left out of a rotation).
pub(crate) async fn load(
    backend: &dyn Backend,
    master: &MasterKey,
    authority: Option<&AuthorityChain>,
    exchange: Option<&ExchangeSecret>,
    key_name: &str,
    repo_id: &str,
) -> Result<(KeySet, Vec<OpenWarning>)> {
    let fetched = fetch(backend).await?;
    load_fetched(
        backend, fetched, master, authority, exchange, key_name, repo_id,
    )
    .await
}

/// [`load`] on epoch objects [`fetch`] already read (`open` reads them
/// side by side with the key files).
pub(crate) async fn load_fetched(
    backend: &dyn Backend,
    fetched: Fetched,
    master: &MasterKey,
    authority: Option<&AuthorityChain>,
    exchange: Option<&ExchangeSecret>,
    key_name: &str,
    repo_id: &str,
) -> Result<(KeySet, Vec<OpenWarning>)> {
    let (records, warnings, unverifiable) = verify(backend, fetched, authority, repo_id).await?;
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
    authority: Option<&AuthorityChain>,
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
    Ok(authority
        .decode::<GrantRecord>(GRANT_MAGIC, repo_id, &name, &bytes)
        .ok()
        .filter(|g| g.epoch == n && g.key == id)
        .map(|g| g.grant))
}
