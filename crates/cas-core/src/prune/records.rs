//! The objects of the deletion protocol: session leases, kill markers,
//! condemned records and wait observations.
//!
//! # Formats (version 1) — do not change; add a new version instead
//!
//! Each is a sealed JSON document framed like snapshot records
//! (`magic:[u8;4] version:u8=1 seal(metadata key, json, aad = magic || version)`):
//!
//! | key | magic | JSON fields |
//! |-----|-------|-------------|
//! | `sessions/<32 hex random>` | `CRNS` | `id`, `host`, `pid`, `counter` (bumped on refresh), `started` (informational) |
//! | `killed/<session id>` | `CRNX` | `session`, `counter` (the value seen when declared dead) |
//! | `condemned/<hex BLAKE3 of object>` | `CRNK` | `packs` (hex pack ids), `time` (the pruner's clock, only for `--grace`), `by` (session id) |
//! | `waits/<condemned hash>.<hex BLAKE3 of object>` | `CRNW` | `condemned`, `run` (pruner session), `sessions` ({id: counter}), `time` |
//!
//! Leases are the only objects ever overwritten (a refresh); everything
//! else is create-only and named by its hash or a random id.

use std::collections::BTreeMap;

use bytes::Bytes;
use cairn_backends::PutMode;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use crate::pack::PackId;
use crate::repo::put_idempotent;
use crate::snapshot::{decode_doc, encode_doc};
use crate::{Error, Repository, Result};

pub(crate) const SESSION_MAGIC: &[u8; 4] = b"CRNS";
pub(crate) const KILLED_MAGIC: &[u8; 4] = b"CRNX";
pub(crate) const CONDEMNED_MAGIC: &[u8; 4] = b"CRNK";
pub(crate) const WAIT_MAGIC: &[u8; 4] = b"CRNW";

/// Prefix of session leases.
pub(crate) const SESSIONS: &str = "sessions/";
/// Prefix of kill markers.
pub(crate) const KILLED: &str = "killed/";
/// Prefix of condemned records.
pub(crate) const CONDEMNED: &str = "condemned/";
/// Prefix of wait observations.
pub(crate) const WAITS: &str = "waits/";

/// A running writer's lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Random session id (the object's name).
    pub id: String,
    /// Host the writer runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// Bumped by every refresh: a counter that stops moving across several
    /// prune runs is how a dead writer is recognised without a clock.
    pub counter: u64,
    /// When it started, by its own clock (shown to people, never used).
    pub started: String,
}

/// The mark a pruner leaves on a session it declared dead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Killed {
    pub(crate) session: String,
    pub(crate) counter: u64,
}

/// Packs condemned by a prune: writers must not dedup against them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Condemned {
    pub(crate) packs: Vec<String>,
    pub(crate) time: String,
    pub(crate) by: String,
}

/// The sessions a pruner saw after a condemned record was visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Wait {
    pub(crate) condemned: String,
    pub(crate) run: String,
    pub(crate) sessions: BTreeMap<String, u64>,
    pub(crate) time: String,
}

impl Condemned {
    pub(crate) fn pack_ids(&self, object: &str) -> Result<Vec<PackId>> {
        self.packs
            .iter()
            .map(|h| parse_pack_hex(h).ok_or_else(|| Error::corrupt(object, "bad pack id")))
            .collect()
    }
}

/// A pack id from 64 hex digits.
pub(crate) fn parse_pack_hex(hex_id: &str) -> Option<PackId> {
    let mut id = [0u8; 32];
    hex::decode_to_slice(hex_id, &mut id).ok()?;
    Some(PackId(id))
}

/// The pack id of a `data/xx/<hex>` key.
pub(crate) fn pack_of_key(key: &str) -> Option<PackId> {
    let hex_id = key.strip_prefix("data/")?.split('/').nth(1)?;
    parse_pack_hex(hex_id)
}

/// Names of the objects under `prefix`.
pub(crate) async fn list_names(repo: &Repository, prefix: &str) -> Result<Vec<String>> {
    Ok(repo
        .backend()
        .list(prefix)
        .map_ok(|m| m.key)
        .try_collect()
        .await?)
}

/// Reads and opens one document.
pub(crate) async fn read_doc<T: serde::de::DeserializeOwned>(
    repo: &Repository,
    magic: &[u8; 4],
    key: &str,
) -> Result<T> {
    let bytes = repo.backend().get(key).await?;
    decode_doc(repo.keys(), magic, key, &bytes)
}

/// Stores a document under `prefix` + its hash (+ `suffix`); returns the key.
pub(crate) async fn write_hashed<T: Serialize>(
    repo: &Repository,
    magic: &[u8; 4],
    prefix: &str,
    doc: &T,
) -> Result<String> {
    let bytes = encode_doc(repo.keys(), magic, doc)?;
    let key = format!("{prefix}{}", blake3::hash(&bytes).to_hex());
    put_idempotent(&**repo.backend(), &key, Bytes::from(bytes)).await?;
    Ok(key)
}

/// Writes a document under a fixed key.
pub(crate) async fn write_at<T: Serialize>(
    repo: &Repository,
    magic: &[u8; 4],
    key: &str,
    doc: &T,
    mode: PutMode,
) -> Result<()> {
    let bytes = encode_doc(repo.keys(), magic, doc)?;
    repo.backend().put(key, Bytes::from(bytes), mode).await?;
    Ok(())
}

/// Deletes `key`; one already gone is fine (a crashed run may have deleted it).
pub(crate) async fn delete_quiet(repo: &Repository, key: &str) -> Result<()> {
    match repo.backend().delete(key).await {
        Err(e) if e.is_not_found() => Ok(()),
        r => Ok(r?),
    }
}

/// Every visible condemned record.
pub(crate) async fn load_condemned(repo: &Repository) -> Result<Vec<(String, Condemned)>> {
    let mut out = Vec::new();
    for key in list_names(repo, CONDEMNED).await? {
        match read_doc(repo, CONDEMNED_MAGIC, &key).await {
            Ok(c) => out.push((key, c)),
            // Deleted between the listing and the read: its packs are gone
            // or live again; either way nothing to avoid.
            Err(Error::Backend(e)) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Every pack named by a visible condemned record.
pub(crate) async fn condemned_packs(
    repo: &Repository,
) -> Result<std::collections::HashSet<PackId>> {
    let mut set = std::collections::HashSet::new();
    for (key, c) in load_condemned(repo).await? {
        set.extend(c.pack_ids(&key)?);
    }
    Ok(set)
}
