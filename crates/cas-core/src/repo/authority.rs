//! The admin authority chain: how removing an admin takes the authority's
//! signing key away from it.
//!
//! Every admin key file carries the authority's seed, so a removed admin
//! keeps it. Removing an admin therefore starts a *new* authority (a fresh
//! ed25519 key pair) and writes a *link* `authorities/<n>` from the old one
//! to the new one. The new seed is sealed to each remaining admin key
//! file's X25519 key (the grant mechanism key epochs use,
//! `cairn_crypto::exchange`), so the removed admin never sees it.
//!
//! # What stays valid: pins
//!
//! The old authority signed things that must stay valid: tombstones,
//! revocations, shred records, epochs and grants, and the endorsements of
//! the remaining key files. The link carries the BLAKE3 hash of the stored
//! bytes of each of them (*pins*): after the link, an object signed by the
//! retired authority is accepted only if its hash is pinned by the link
//! that retired that authority; whatever it signs afterwards is refused,
//! whatever name it is stored under. For a key file the hash of its bytes
//! is its id (`keys/<hash>`), so pinning a key file carries its endorsement
//! over; the removed key file is not pinned, so it loses its endorsement at
//! the link even before its revocation is written.
//!
//! Why hashes rather than a high-water mark carried by each signed object:
//! the records written so far (version 1) carry no counter, and the old
//! authority could put any counter it likes in a new one; a hash set needs
//! no change to any existing format and is exact. The cost is that the
//! rotating admin reads every signed object once, and the link grows with
//! their number (32 bytes each; [`MAX_LINK_SIZE`] bounds it).
//!
//! # Walking the chain
//!
//! A client trusts the authority its own key file names (the *root*,
//! authenticated by its password). From it, it walks forward: the
//! lowest-numbered link above the root's whose `previous` is the current
//! authority and whose two signatures verify makes its `authority` current;
//! and so on, in number order. It also walks back from the root (a key file
//! added after a rotation names the newer authority): the link whose
//! `authority` is the root, verified by that root's signature, names the
//! authority before it and its pins. The result is an [`AuthorityChain`]:
//! the current authority, and each retired one with its pins. Every
//! verification site goes through it.
//!
//! A link whose `previous` is an authority already retired is ignored: the
//! holder of an old authority cannot fork the chain from behind. Link
//! numbers are create-only, so the removed admin cannot replace the link
//! that retired it (without the power to overwrite storage; see the limits).
//!
//! # Format (version 1) — do not change; add a new version instead
//!
//! ```text
//! offset    length  field
//! 0         4       magic "CRNA"
//! 4         1       version = 0x01
//! 5         64      ed25519 signature by the previous authority, context
//!                   "cairn/v1/authority-link/previous", over bytes 133..end
//! 69        64      ed25519 signature by the new authority, context
//!                   "cairn/v1/authority-link/new", over bytes 133..end
//! 133       4       J: length of the JSON header (u32 little-endian)
//! 137       J       JSON header (below; not encrypted: keys, ids, times)
//! 137+J     32·P    pins: BLAKE3-256 hashes, strictly ascending (no
//!                   duplicates); P = (length − 137 − J) / 32, exact
//! ```
//!
//! | JSON field | meaning |
//! |------------|---------|
//! | `repository` | the repository id (keeps a link from being replayed into another repository) |
//! | `link` | `n`, equal to the number in the object name `authorities/<n, 10 digits>` |
//! | `previous`, `authority` | hex of the old and the new authority's public keys |
//! | `created`, `by`, `host` | time (the writer's clock), the admin key file id that wrote it, its host: informational |
//! | `removed` | the key file ids whose removal started it (informational) |
//! | `grants` | key file id → hex of a grant (`cairn_crypto::exchange`, version 1) of the new authority's 32-byte seed, context `"cairn/v1/authority-grant" ‖ 0x00 ‖ repository id ‖ 0x00 ‖ n (u32 LE) ‖ key file id` |
//!
//! The new authority's signature proves the writer holds the new seed, and
//! lets a client whose key file names the new authority verify the link
//! (walking back). A repository without `authorities/` (every repository
//! before this format) has the one authority its key files name, as before.
//!
//! # Limits (honest)
//!
//! - A removed admin who can also overwrite or delete storage objects can
//!   delete the link and write its own from the old authority to a key it
//!   holds. A client that never saw the real link cannot tell: at the time
//!   of the removal the removed admin knew everything a fresh client knows.
//!   Clients that keep state (a handle that already walked the chain) are
//!   not fooled. Pair with storage that refuses overwrites and deletes.
//! - Until a handle refreshes its chain (on open, when it lists snapshots,
//!   and when it refreshes its key epochs: every backup, prune and rotation
//!   starts so), it verifies under the chain it has.
//! - Erasure receipts are handed out, not stored, so they cannot be
//!   pinned: one signed by a retired authority no longer verifies against
//!   the repository ([`crate::tenant::verify_receipt`] without an expected
//!   authority still checks its signature).

mod chain;
mod fetch;
mod rotate;
mod state;

pub use chain::AuthorityChain;
pub(crate) use fetch::{fetch, fetch_shared, SharedLinks};
pub use rotate::AuthorityReport;
pub(crate) use state::granted_admin;

use std::collections::BTreeMap;

use cairn_crypto::{AdminKey, AdminPublicKey};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Magic of authority links.
pub(crate) const LINK_MAGIC: &[u8; 4] = b"CRNA";
/// Prefix of authority links.
pub(crate) const AUTHORITIES: &str = "authorities/";
/// Largest link read or written: about 130 000 pins.
pub(crate) const MAX_LINK_SIZE: u64 = 4 << 20;

const VERSION: u8 = 1;
const SIGNED_FROM: usize = 5 + 64 + 64;
const CONTEXT_PREVIOUS: &[u8] = b"cairn/v1/authority-link/previous";
const CONTEXT_NEW: &[u8] = b"cairn/v1/authority-link/new";
const GRANT_LABEL: &[u8] = b"cairn/v1/authority-grant";

/// A link's JSON header (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LinkHeader {
    pub(crate) repository: String,
    pub(crate) link: u32,
    pub(crate) previous: String,
    pub(crate) authority: String,
    pub(crate) created: String,
    pub(crate) by: String,
    pub(crate) host: String,
    pub(crate) removed: Vec<String>,
    pub(crate) grants: BTreeMap<String, String>,
}

/// A link whose two signatures verified (against the keys it names: whether
/// the chain reaches it is [`AuthorityChain`]'s business).
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) header: LinkHeader,
    pub(crate) previous: AdminPublicKey,
    pub(crate) authority: AdminPublicKey,
    pub(crate) pins: Vec<[u8; 32]>,
}

/// `authorities/<n, 10 digits>`.
pub(crate) fn link_name(n: u32) -> String {
    format!("{AUTHORITIES}{n:010}")
}

/// The AEAD binding of the grant of link `n`'s seed to key file `key_id`.
pub(crate) fn grant_context(repo_id: &str, n: u32, key_id: &str) -> Vec<u8> {
    let mut c = GRANT_LABEL.to_vec();
    c.push(0);
    c.extend_from_slice(repo_id.as_bytes());
    c.push(0);
    c.extend_from_slice(&n.to_le_bytes());
    c.extend_from_slice(key_id.as_bytes());
    c
}

/// Serialises and signs a link from `previous` to `new`. `pins` need not be
/// sorted.
pub(crate) fn encode_link(
    previous: &AdminKey,
    new: &AdminKey,
    header: &LinkHeader,
    pins: &[[u8; 32]],
) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(header).map_err(|e| Error::Internal {
        what: format!("serialising an authority link: {e}"),
    })?;
    let mut pins = pins.to_vec();
    pins.sort_unstable();
    pins.dedup();
    let json_len = u32::try_from(json.len()).map_err(|_| Error::Internal {
        what: "authority link header too long".into(),
    })?;
    let mut body = Vec::with_capacity(4 + json.len() + 32 * pins.len());
    body.extend_from_slice(&json_len.to_le_bytes());
    body.extend_from_slice(&json);
    for p in &pins {
        body.extend_from_slice(p);
    }
    if (SIGNED_FROM + body.len()) as u64 > MAX_LINK_SIZE {
        return Err(Error::InvalidOption {
            what: format!(
                "{} objects signed by the admin authority to carry over: more than one \
                 authority link holds ({MAX_LINK_SIZE} bytes)",
                pins.len()
            ),
        });
    }
    let mut out = Vec::with_capacity(SIGNED_FROM + body.len());
    out.extend_from_slice(LINK_MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&previous.sign(CONTEXT_PREVIOUS, &body));
    out.extend_from_slice(&new.sign(CONTEXT_NEW, &body));
    out.extend_from_slice(&body);
    Ok(out)
}

fn public_key(object: &str, field: &str, hex_key: &str) -> Result<AdminPublicKey> {
    let mut pk = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut pk)
        .map_err(|_| Error::corrupt(object, format!("{field} is not 32 bytes of hex")))?;
    AdminPublicKey::from_bytes(&pk)
        .map_err(|_| Error::corrupt(object, format!("{field} is not a public key")))
}

/// Checks and parses link `object` (`authorities/<n>`): layout, both
/// signatures under the keys it names, and its number.
///
/// # Errors
/// [`Error::Corrupt`] for a bad layout, [`Error::UnsupportedVersion`],
/// [`Error::NotAuthorised`] when a signature does not verify.
pub(crate) fn decode_link(object: &str, n: u32, bytes: &[u8]) -> Result<Link> {
    let corrupt = |why: &str| Error::corrupt(object, why);
    if bytes.len() < SIGNED_FROM + 4 || &bytes[..4] != LINK_MAGIC {
        return Err(corrupt("bad magic or truncated"));
    }
    if bytes[4] != VERSION {
        return Err(Error::UnsupportedVersion {
            object: object.to_owned(),
            found: bytes[4],
        });
    }
    let body = &bytes[SIGNED_FROM..];
    let mut len = [0u8; 4];
    len.copy_from_slice(&body[..4]);
    let json_len = u32::from_le_bytes(len) as usize;
    let rest = &body[4..];
    if json_len > rest.len() || !(rest.len() - json_len).is_multiple_of(32) {
        return Err(corrupt("header length or pins do not fit the object"));
    }
    let header: LinkHeader =
        serde_json::from_slice(&rest[..json_len]).map_err(|e| corrupt(&e.to_string()))?;
    if header.link != n {
        return Err(corrupt("its link number is not the one in its name"));
    }
    let previous = public_key(object, "previous", &header.previous)?;
    let authority = public_key(object, "authority", &header.authority)?;
    if previous == authority {
        return Err(corrupt("links an authority to itself"));
    }
    let not_authorised = |_| Error::NotAuthorised {
        object: object.to_owned(),
    };
    previous
        .verify(CONTEXT_PREVIOUS, body, &bytes[5..69])
        .map_err(not_authorised)?;
    authority
        .verify(CONTEXT_NEW, body, &bytes[69..SIGNED_FROM])
        .map_err(not_authorised)?;
    let mut pins = Vec::with_capacity((rest.len() - json_len) / 32);
    for chunk in rest[json_len..].chunks_exact(32) {
        let mut p = [0u8; 32];
        p.copy_from_slice(chunk);
        if pins.last().is_some_and(|last: &[u8; 32]| *last >= p) {
            return Err(corrupt("pins are not strictly ascending"));
        }
        pins.push(p);
    }
    Ok(Link {
        header,
        previous,
        authority,
        pins,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn header(previous: &AdminKey, new: &AdminKey) -> LinkHeader {
        let mut grants = BTreeMap::new();
        grants.insert("ab".repeat(32), "01".repeat(81));
        LinkHeader {
            repository: "00112233445566778899aabbccddeeff".into(),
            link: 1,
            previous: previous.public().to_hex(),
            authority: new.public().to_hex(),
            created: "2026-12-07T00:00:00Z".into(),
            by: "cd".repeat(32),
            host: "golden".into(),
            removed: vec!["ef".repeat(32)],
            grants,
        }
    }

    /// A link from the authority seeded `[0x33; 32]` to the one seeded
    /// `[0x44; 32]`, with two pins (ed25519 signatures are deterministic;
    /// bless with `CAIRN_BLESS_FIXTURES=1`).
    const GOLDEN_LINK: &str = "43524e4101c890999ed339ba5cc60cdb2259cf7f9ac36e12aa6c7434ed0e704c885b3ea156d4940c29113e6328c4f7773ea6cc16954db9ed23aff678d43413427fac88ae0575cc8f34aa227bdb2fe04e7cb27065ca2bedef418a1404996304afec55a2a09dee9bcbfa2aaef126830340c10141fd7171b1d643cb478f8ad0178ef0a91f5a05920200007b227265706f7369746f7279223a223030313132323333343435353636373738383939616162626363646465656666222c226c696e6b223a312c2270726576696f7573223a2231376362373966623262343132306632623165633635653431393864366530386232386538313366656230316534613430303833396238356531383038306365222c22617574686f72697479223a2264373539373933626263313361323831396138323763373661646236666261386134396165653030376634396632643039393264393962383235616432633438222c2263726561746564223a22323032362d31322d30375430303a30303a30305a222c226279223a2263646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364222c22686f7374223a22676f6c64656e222c2272656d6f766564223a5b2265666566656665666566656665666566656665666566656665666566656665666566656665666566656665666566656665666566656665666566656665666566225d2c226772616e7473223a7b2261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162223a22303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031227d7d11111111111111111111111111111111111111111111111111111111111111112222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn version_1_link_is_pinned_and_verified() {
        let (a, b) = (
            AdminKey::from_seed(&[0x33; 32]),
            AdminKey::from_seed(&[0x44; 32]),
        );
        let pins = [[0x22; 32], [0x11; 32]];
        let bytes = encode_link(&a, &b, &header(&a, &b), &pins).unwrap();
        if std::env::var_os("CAIRN_BLESS_FIXTURES").is_some() {
            println!("const GOLDEN_LINK: &str = \"{}\";", hex::encode(&bytes));
            return;
        }
        assert_eq!(hex::encode(&bytes), GOLDEN_LINK);
        let link = decode_link("authorities/0000000001", 1, &bytes).unwrap();
        assert_eq!(link.header, header(&a, &b));
        assert_eq!(link.pins, vec![[0x11; 32], [0x22; 32]], "sorted");
        assert_eq!((link.previous, link.authority), (a.public(), b.public()));
        // Another number, a flipped byte anywhere after the magic, a cut:
        // each refused.
        assert!(decode_link("authorities/0000000002", 2, &bytes).is_err());
        for i in 4..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 1;
            assert!(decode_link("l", 1, &flipped).is_err(), "byte {i}");
        }
        for len in 0..bytes.len() {
            assert!(decode_link("l", 1, &bytes[..len]).is_err(), "length {len}");
        }
    }

    #[test]
    fn a_link_signed_by_one_side_only_is_refused() {
        let (a, b, c) = (
            AdminKey::from_seed(&[1; 32]),
            AdminKey::from_seed(&[2; 32]),
            AdminKey::from_seed(&[3; 32]),
        );
        // Signed by c where a should have signed: claims a → b.
        let forged = encode_link(&c, &b, &header(&a, &b), &[]).unwrap();
        assert!(matches!(
            decode_link("l", 1, &forged),
            Err(Error::NotAuthorised { .. })
        ));
        let forged = encode_link(&a, &c, &header(&a, &b), &[]).unwrap();
        assert!(matches!(
            decode_link("l", 1, &forged),
            Err(Error::NotAuthorised { .. })
        ));
    }
}
