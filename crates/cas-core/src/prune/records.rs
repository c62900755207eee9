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
//! | `condemned/<hex BLAKE3 of object>` | `CRNK` | `packs` (hex pack ids), `time` (the pruner's clock, only for `--grace`), `by` (session id), `strays` (optional, see below) |
//! | `waits/<condemned hash>.<hex BLAKE3 of object>` | `CRNW` | `condemned`, `run` (pruner session), `sessions` ({id: counter}), `time` |
//!
//! `strays` (keys whose stored pieces form no object, see
//! [`PartialObjects`](cairn_backends::PartialObjects)) was added to version
//! 1 without a version change: it is left out when empty, so records
//! without strays are byte-for-byte what they were, and a reader that
//! predates it ignores it, which only leaves the strays in place (no
//! writer ever relies on a stray key). Both shapes are pinned below.
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

pub const SESSION_MAGIC: &[u8; 4] = b"CRNS";
pub const KILLED_MAGIC: &[u8; 4] = b"CRNX";
pub const CONDEMNED_MAGIC: &[u8; 4] = b"CRNK";
pub const WAIT_MAGIC: &[u8; 4] = b"CRNW";

/// Prefix of session leases.
pub const SESSIONS: &str = "sessions/";
/// Prefix of kill markers.
pub const KILLED: &str = "killed/";
/// Prefix of condemned records.
pub const CONDEMNED: &str = "condemned/";
/// Prefix of wait observations.
pub const WAITS: &str = "waits/";

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
pub struct Killed {
    pub session: String,
    pub counter: u64,
}

/// Packs condemned by a prune: writers must not dedup against them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condemned {
    pub packs: Vec<String>,
    pub time: String,
    pub by: String,
    /// Keys with stray pieces (erasure shards of no object), removed in
    /// phase 2 if they still are stray then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub strays: Vec<String>,
}

/// The sessions a pruner saw after a condemned record was visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wait {
    pub condemned: String,
    pub run: String,
    pub sessions: BTreeMap<String, u64>,
    pub time: String,
}

impl Condemned {
    pub fn pack_ids(&self, object: &str) -> Result<Vec<PackId>> {
        self.packs
            .iter()
            .map(|h| parse_pack_hex(h).ok_or_else(|| Error::corrupt(object, "bad pack id")))
            .collect()
    }
}

/// A pack id from 64 hex digits.
pub fn parse_pack_hex(hex_id: &str) -> Option<PackId> {
    let mut id = [0u8; 32];
    hex::decode_to_slice(hex_id, &mut id).ok()?;
    Some(PackId(id))
}

/// The pack id of a `data/xx/<hex>` key.
pub fn pack_of_key(key: &str) -> Option<PackId> {
    let hex_id = key.strip_prefix("data/")?.split('/').nth(1)?;
    parse_pack_hex(hex_id)
}

/// Names of the objects under `prefix`.
pub async fn list_names(repo: &Repository, prefix: &str) -> Result<Vec<String>> {
    Ok(repo
        .backend()
        .list(prefix)
        .map_ok(|m| m.key)
        .try_collect()
        .await?)
}

/// Reads `key`, an object found by listing `prefix`. If the read fails and
/// the object is no longer listed, it was deleted meanwhile — in an erasure
/// layout a delete in progress reads as "not enough shards", not as "not
/// found" — and the error is `NotFound`, which callers that list again
/// retry on.
pub async fn get_listed(repo: &Repository, prefix: &str, key: &str) -> Result<bytes::Bytes> {
    match repo.backend().get(key).await {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.is_not_found() => Err(e.into()),
        Err(e) => {
            if list_names(repo, prefix).await?.iter().any(|k| k == key) {
                return Err(e.into());
            }
            Err(cairn_backends::Error::NotFound {
                key: key.to_owned(),
            }
            .into())
        }
    }
}

/// Reads and opens one document.
pub async fn read_doc<T: serde::de::DeserializeOwned>(
    repo: &Repository,
    magic: &[u8; 4],
    key: &str,
) -> Result<T> {
    let bytes = repo.backend().get(key).await?;
    decode_doc(&repo.keys(), magic, key, &bytes)
}

/// Reads and opens the document `key`, found by listing `prefix`; `None`
/// if it was deleted meanwhile (see [`get_listed`]).
pub async fn read_listed_doc<T: serde::de::DeserializeOwned>(
    repo: &Repository,
    magic: &[u8; 4],
    prefix: &str,
    key: &str,
) -> Result<Option<T>> {
    match get_listed(repo, prefix, key).await {
        Ok(bytes) => decode_doc(&repo.keys(), magic, key, &bytes).map(Some),
        Err(Error::Backend(e)) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Stores a document under `prefix` + its hash (+ `suffix`); returns the key.
pub async fn write_hashed<T: Serialize>(
    repo: &Repository,
    magic: &[u8; 4],
    prefix: &str,
    doc: &T,
) -> Result<String> {
    let bytes = encode_doc(&repo.keys(), magic, doc)?;
    let key = format!("{prefix}{}", blake3::hash(&bytes).to_hex());
    put_idempotent(&**repo.backend(), &key, Bytes::from(bytes)).await?;
    Ok(key)
}

/// Writes a document under a fixed key.
pub async fn write_at<T: Serialize>(
    repo: &Repository,
    magic: &[u8; 4],
    key: &str,
    doc: &T,
    mode: PutMode,
) -> Result<()> {
    let bytes = encode_doc(&repo.keys(), magic, doc)?;
    repo.backend().put(key, Bytes::from(bytes), mode).await?;
    Ok(())
}

/// Deletes `key`; one already gone is fine (a crashed run may have deleted it).
pub async fn delete_quiet(repo: &Repository, key: &str) -> Result<()> {
    match repo.backend().delete(key).await {
        Err(e) if e.is_not_found() => Ok(()),
        r => Ok(r?),
    }
}

/// Every visible condemned record.
pub async fn load_condemned(repo: &Repository) -> Result<Vec<(String, Condemned)>> {
    let mut out = Vec::new();
    for key in list_names(repo, CONDEMNED).await? {
        // Deleted between the listing and the read (finished): its packs
        // are gone or live again; either way nothing to avoid.
        if let Some(c) = read_listed_doc(repo, CONDEMNED_MAGIC, CONDEMNED, &key).await? {
            out.push((key, c));
        }
    }
    Ok(out)
}

/// Every pack named by a visible condemned record.
pub async fn condemned_packs(repo: &Repository) -> Result<std::collections::HashSet<PackId>> {
    let mut set = std::collections::HashSet::new();
    for (key, c) in load_condemned(repo).await? {
        set.extend(c.pack_ids(&key)?);
    }
    Ok(set)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cairn_crypto::{KeySet, MasterKey};

    fn keys() -> KeySet {
        KeySet::derive(&MasterKey::from_bytes([42; 32]))
    }

    fn docs() -> (Lease, Killed, Condemned, Wait) {
        let lease = Lease {
            id: "00112233445566778899aabbccddeeff".into(),
            host: "golden".into(),
            pid: 7,
            counter: 3,
            started: "2026-11-29T00:00:00Z".into(),
        };
        let killed = Killed {
            session: lease.id.clone(),
            counter: 3,
        };
        let condemned = Condemned {
            packs: vec!["ab".repeat(32)],
            time: "2026-11-29T00:00:01Z".into(),
            by: "ffeeddccbbaa99887766554433221100".into(),
            strays: Vec::new(),
        };
        let wait = Wait {
            condemned: "condemned/cd".into(),
            run: condemned.by.clone(),
            sessions: [(lease.id.clone(), 3)].into_iter().collect(),
            time: "2026-11-29T00:00:02Z".into(),
        };
        (lease, killed, condemned, wait)
    }

    const FIXTURES: [&str; 4] = [GOLDEN_LEASE, GOLDEN_KILLED, GOLDEN_CONDEMNED, GOLDEN_WAIT];

    /// Sealed with the fixed key above by version 1 (bless with
    /// `CAIRN_BLESS_FIXTURES=1 cargo test -p cairn-cas-core --lib records`).
    const GOLDEN_LEASE: &str = "43524e530101aa641669fa108a4fd135c470be2a455c6b277255645bdb340f5f1813d88c8bd36a2f25bf9350cf3595b9ac8ef7c7336b54b0e51a2ebbe9a0c480548ce62a90406d57901a9180b50da4cfd173b86cb6f74b7fef8a294dfe4b0526ee13ad368ba49f882a588150b4566a90d700affe74f5222dd4e6f50030f68b1f0820c1785098cf5f9c7380e4a672d9a547352b9d5c844822045e57d3ed411acee4f35f77";
    const GOLDEN_KILLED: &str = "43524e580101f9dfc269246542804d5d1bddf5ec6c509d8d961b0274e43d7273ca569f1540f3f619b3afffba75769c5f8cc6980a94e8754c8747504926a9c9b552b8e05c221871c693d74ba8693045476835ee71e85045d2486fee6e46536f8b7f01fb890f6d1f0d0c965229e4bfad9a";
    const GOLDEN_CONDEMNED: &str = "43524e4b0101e590fddc20454a33c3030c8faf822e99b27eedb98b53ac23ffc791027fbb8934109bf5ba787713285db2045a9b412808787e1ccba79a4dd82707a799b3dccc1b0692b474854c46e8a6a2e6ae0f38dc95234c52c71b6987fb0bd2983a9418e147c35227526fabeec7ac715c34016b2d916ab4655d0701e6a3c512507ec1000d4375781ba611021510bfc799cdedc4744a60da3986e01ee181e769b8e4f24bd0838f2a886d3d309d644c34e30dcffb15ef6a015db9ad26cd7eecb1f85f2d0c7756b19c75df";
    const GOLDEN_WAIT: &str = "43524e5701019812a35faf6fb168c4f4d58bd3e72a05b9083ed14fe73f50477fc3e3b840c432e76238c82aca0488f55820ed495f9c32c0aa6223481bd360497fa4b804e38b85c952c82dbdf9f2844122926e277ee5c08dcd3cfe3a355ec03a9e2dcc58f7cbac735c307669a2481b7ad4496f432ebf53ddca88396d5e779e918709f0773474b204da467ead6403e3dcb892f9d62e1cab659969e65640db732a911d7f5edaae830efb5ad9c20f9dd4a95be6f50237c9ec0e28b3b133dcd866046676453b1b05d4135d2d6b51";

    /// A version-1 condemned record carrying strays (bless as above).
    const GOLDEN_CONDEMNED_STRAYS: &str = "43524e4b0101b83f82f14f61e8f363aa942045e32ed7df3c2a141e20dc7edc25bace20d24ed9cde150772224a123d8d4b1bbdacb2a56f219193b4fdeaeda1c32fbb7a9f882257e474b9c8ea7870a280d42e15bb35024a4a785267d75ab786a2b68d14044d497a2538abfa3d8da8f88f4fdd8586bf55bf4d97045b945ae5f6059f2ad62f1d551ba4937b5c637321595909ac5a54d36d8db7e0eb2e26b2eae837c3d350ee512aa52d22acc8f2ffdde8b064f4231d45d711c41cba8e12dcb2eac0faa66fa99f5c7654448bca679f3226fb74eaa7142459bd132ef3df7365208bd174874850465e47e6b43d23aa0d5851f39cd49d069800ccdac69bf78b142409a9b3d35911aef8b1ef200db67048c8a4a83835cdd21aaa1f697aeaa0acb8b73deff81d136175c82e512e5f4dd";

    #[test]
    fn version_1_condemned_records_with_strays_decode() {
        let k = keys();
        let mut c = docs().2;
        c.strays = vec!["data/ab/".to_owned() + &"ab".repeat(32), "index/cd".into()];
        if std::env::var_os("CAIRN_BLESS_FIXTURES").is_some() {
            let bytes = encode_doc(&k, CONDEMNED_MAGIC, &c).unwrap();
            println!(
                "const GOLDEN_CONDEMNED_STRAYS: &str = \"{}\";",
                hex::encode(bytes)
            );
            return;
        }
        let bytes = hex::decode(GOLDEN_CONDEMNED_STRAYS).unwrap();
        let back: Condemned = decode_doc(&k, CONDEMNED_MAGIC, "condemned/y", &bytes).unwrap();
        assert_eq!(back, c);
        // Without strays the field is left out: the older fixture's JSON.
        let plain = encode_doc(&k, CONDEMNED_MAGIC, &docs().2).unwrap();
        let plain: Condemned = decode_doc(&k, CONDEMNED_MAGIC, "condemned/z", &plain).unwrap();
        assert!(plain.strays.is_empty());
        assert!(!serde_json::to_string(&docs().2).unwrap().contains("strays"));
    }

    #[test]
    fn version_1_records_still_decode() {
        let k = keys();
        let (lease, killed, condemned, wait) = docs();
        if std::env::var_os("CAIRN_BLESS_FIXTURES").is_some() {
            for (name, bytes) in [
                ("LEASE", encode_doc(&k, SESSION_MAGIC, &lease).unwrap()),
                ("KILLED", encode_doc(&k, KILLED_MAGIC, &killed).unwrap()),
                (
                    "CONDEMNED",
                    encode_doc(&k, CONDEMNED_MAGIC, &condemned).unwrap(),
                ),
                ("WAIT", encode_doc(&k, WAIT_MAGIC, &wait).unwrap()),
            ] {
                println!("const GOLDEN_{name}: &str = \"{}\";", hex::encode(bytes));
            }
            return;
        }
        let bytes: Vec<Vec<u8>> = FIXTURES.iter().map(|h| hex::decode(h).unwrap()).collect();
        let l: Lease = decode_doc(&k, SESSION_MAGIC, "sessions/x", &bytes[0]).unwrap();
        let x: Killed = decode_doc(&k, KILLED_MAGIC, "killed/x", &bytes[1]).unwrap();
        let c: Condemned = decode_doc(&k, CONDEMNED_MAGIC, "condemned/x", &bytes[2]).unwrap();
        let w: Wait = decode_doc(&k, WAIT_MAGIC, "waits/x", &bytes[3]).unwrap();
        assert_eq!((l, x, c, w), docs());
        // Tampering and a wrong magic are refused, naming the object.
        let mut bad = bytes[2].clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(
            decode_doc::<Condemned>(&k, CONDEMNED_MAGIC, "condemned/x", &bad),
            Err(Error::Authentication { object }) if object == "condemned/x"
        ));
        assert!(decode_doc::<Wait>(&k, WAIT_MAGIC, "waits/x", &bytes[2]).is_err());
        assert_eq!(
            parse_pack_hex(&"ab".repeat(32)).map(|p| p.to_hex()),
            Some("ab".repeat(32))
        );
        assert!(pack_of_key("data/ab/xyz").is_none());
    }
}
