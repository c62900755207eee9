//! Deciding which version of an object scrub and heal may rewrite towards.
//!
//! Shard checksums are unkeyed: anyone who can write to `m` children can
//! store a self-consistent forged version of an object there. Counting
//! shards therefore cannot tell the genuine version from a forged (or
//! stale) one, and rewriting towards the wrong one destroys the genuine
//! shards. So nothing is overwritten unless a [`Verifier`] vouches for the
//! winner; without one, repairs only fill in missing or corrupt shards of
//! an object that has a single version, and every other case is reported as
//! a conflict for a human (or a verifier) to settle.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

/// What a [`Verifier`] says about an object's bytes.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// These are the object's genuine bytes.
    Valid,
    /// These cannot be the object's bytes.
    Invalid,
    /// The verifier cannot tell (it knows nothing about this key).
    Unknown,
}

/// Tells genuine object bytes from forged or stale ones, for
/// [`ErasureBackend::with_verifier`](crate::ErasureBackend::with_verifier).
/// Any `Fn(&str, &[u8]) -> Verdict` is one.
pub trait Verifier: Send + Sync {
    /// Whether `data` is the genuine content of the object `key`.
    fn verify(&self, key: &str, data: &[u8]) -> Verdict;
}

impl<F: Fn(&str, &[u8]) -> Verdict + Send + Sync> Verifier for F {
    fn verify(&self, key: &str, data: &[u8]) -> Verdict {
        self(key, data)
    }
}

/// The verifier for content-addressed names, as Cairn repositories use them
/// (`data/ab/<hex>`, `index/<hex>`, `snapshots/<hex>`, `keys/<hex>`, where
/// `<hex>` is the lowercase hex BLAKE3 of the stored bytes): an object whose
/// last key segment is 64 lowercase hex digits is [`Verdict::Valid`] if they
/// are the BLAKE3 of its bytes and [`Verdict::Invalid`] otherwise; any other
/// key (`config`) is [`Verdict::Unknown`].
pub fn content_hash_verifier() -> Arc<dyn Verifier> {
    Arc::new(ContentHash)
}

struct ContentHash;

impl Verifier for ContentHash {
    fn verify(&self, key: &str, data: &[u8]) -> Verdict {
        let name = key.rsplit('/').next().unwrap_or(key);
        let hex = name.len() == 64
            && name
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            return Verdict::Unknown;
        }
        if blake3::hash(data).to_hex().as_str() == name {
            Verdict::Valid
        } else {
            Verdict::Invalid
        }
    }
}

/// The verifier an [`ErasureBackend`](crate::ErasureBackend) holds, if any.
#[derive(Clone, Default)]
pub(crate) struct VerifierSlot(pub(crate) Option<Arc<dyn Verifier>>);

impl fmt::Debug for VerifierSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

impl VerifierSlot {
    fn verify(&self, key: &str, data: &[u8]) -> Verdict {
        self.0
            .as_ref()
            .map_or(Verdict::Unknown, |v| v.verify(key, data))
    }
}

/// A version of an object that decoded from at least `k` shards.
pub(crate) struct Candidate {
    pub(crate) checksum: [u8; 32],
    pub(crate) shards: usize,
    pub(crate) data: Bytes,
}

/// The version scrub may repair towards.
pub(crate) enum Choice {
    /// The verifier vouches for it: every other shard may be overwritten.
    Verified([u8; 32], Bytes),
    /// The only decodable version, unverified: missing and corrupt shards
    /// may be written, and only while no shard of another version exists.
    Unverified([u8; 32], Bytes),
    /// No version can be chosen without risking genuine data.
    Conflict(String),
}

/// Picks the version to repair towards among `candidates` (every version
/// with `k` verified shards that decoded), deterministically: the input
/// order never matters.
pub(crate) fn choose(slot: &VerifierSlot, key: &str, candidates: Vec<Candidate>) -> Choice {
    let verdicts: Vec<Verdict> = candidates
        .iter()
        .map(|c| slot.verify(key, &c.data))
        .collect();
    let count = |v: Verdict| verdicts.iter().filter(|&&x| x == v).count();
    let describe = || {
        let mut v: Vec<String> = candidates
            .iter()
            .zip(&verdicts)
            .map(|(c, v)| {
                let sum: String = c.checksum[..4].iter().map(|b| format!("{b:02x}")).collect();
                format!("{sum}… ({} shards, {v:?})", c.shards)
            })
            .collect();
        v.sort();
        v.join(", ")
    };
    match (count(Verdict::Valid), count(Verdict::Unknown)) {
        (1, _) => {
            let i = verdicts.iter().position(|&v| v == Verdict::Valid);
            let c = i.and_then(|i| candidates.into_iter().nth(i));
            match c {
                Some(c) => Choice::Verified(c.checksum, c.data),
                None => Choice::Conflict("internal: verified version vanished".into()),
            }
        }
        (0, 1) if candidates.len() == 1 => match candidates.into_iter().next() {
            Some(c) => Choice::Unverified(c.checksum, c.data),
            None => Choice::Conflict("internal: candidate vanished".into()),
        },
        (0, 0) => Choice::Conflict(format!("no decodable version verifies: {}", describe())),
        _ => Choice::Conflict(format!(
            "several decodable versions and no single verified one: {}",
            describe()
        )),
    }
}
