//! [`AuthorityChain`]: the authorities a handle trusts, built by walking
//! the links from its key file's authority (see the parent module).

use std::collections::HashSet;

use cairn_crypto::{AdminPublicKey, KeyFileV2};
use serde::de::DeserializeOwned;

use super::Link;
use crate::repo::signed::decode_signed;
use crate::{Error, Result};

/// The admin authorities a handle trusts: the current one, which signs
/// everything new, and each retired one, whose signatures count only for
/// the objects the link that retired it pinned.
#[derive(Debug, Clone)]
pub struct AuthorityChain {
    current: AdminPublicKey,
    link: u32,
    retired: Vec<Retired>,
}

#[derive(Debug, Clone)]
struct Retired {
    key: AdminPublicKey,
    by_link: u32,
    pins: HashSet<[u8; 32]>,
}

impl AuthorityChain {
    /// The chain of one authority (a repository without links, or a
    /// repository just created).
    pub(crate) fn single(root: AdminPublicKey) -> Self {
        AuthorityChain {
            current: root,
            link: 0,
            retired: Vec::new(),
        }
    }

    /// Walks `links` (verified each on its own, any order) back and forward
    /// from `root`, the authority the opening key file names.
    pub(crate) fn walk(root: AdminPublicKey, mut links: Vec<Link>) -> Self {
        links.sort_by_key(|l| l.header.link);
        let mut chain = Self::single(root);
        // Back: the link that made the root, then the one that made its
        // previous authority, and so on (each vouched for by the newer
        // authority's signature).
        let mut made = links.iter().position(|l| l.authority == root);
        if let Some(i) = made {
            chain.link = links[i].header.link;
        }
        while let Some(i) = made {
            let l = &links[i];
            chain.retired.push(Retired {
                key: l.previous,
                by_link: l.header.link,
                pins: l.pins.iter().copied().collect(),
            });
            made = links[..i].iter().position(|p| p.authority == l.previous);
        }
        chain.extend(links);
        chain
    }

    /// Moves forward along `links` (verified each on its own): in number
    /// order, each link above the current one whose `previous` is the
    /// current authority retires it. Links from an authority already
    /// retired (a fork by its holder) are passed over.
    pub(crate) fn extend(&mut self, mut links: Vec<Link>) {
        links.sort_by_key(|l| l.header.link);
        for l in links {
            if l.header.link > self.link && l.previous == self.current {
                self.retired.push(Retired {
                    key: self.current,
                    by_link: l.header.link,
                    pins: l.pins.into_iter().collect(),
                });
                self.current = l.authority;
                self.link = l.header.link;
            }
        }
    }

    /// The current authority: what signs everything new.
    pub fn current(&self) -> &AdminPublicKey {
        &self.current
    }

    /// The number of the link that made the current authority (0: the
    /// authority is the one the key files of the repository's creation
    /// name, or the chain was walked from a key file that names it).
    pub fn link(&self) -> u32 {
        self.link
    }

    /// The retired authorities this chain knows, each with the number of
    /// the link that retired it, newest first.
    pub fn retired(&self) -> Vec<(AdminPublicKey, u32)> {
        let mut out: Vec<_> = self.retired.iter().map(|r| (r.key, r.by_link)).collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.1));
        out
    }

    /// Whether `key` is the current or a retired authority of this chain.
    pub fn knows(&self, key: &AdminPublicKey) -> bool {
        self.current == *key || self.retired.iter().any(|r| r.key == *key)
    }

    /// The retired authorities whose link pinned the object with these
    /// stored bytes (by its BLAKE3 hash).
    fn pinning(&self, hash: &[u8; 32]) -> impl Iterator<Item = &AdminPublicKey> {
        let hash = *hash;
        self.retired
            .iter()
            .filter(move |r| r.pins.contains(&hash))
            .map(|r| &r.key)
    }

    /// [`decode_signed`] under this chain: the current authority's
    /// signature, or a retired one's on bytes its retiring link pinned.
    ///
    /// # Errors
    /// As [`decode_signed`]; [`Error::NotAuthorised`] for a signature by
    /// a retired authority on bytes nobody pinned (signed after it was
    /// retired, by whoever still holds it).
    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        magic: &[u8; 4],
        repo_id: &str,
        object: &str,
        bytes: &[u8],
    ) -> Result<T> {
        match decode_signed(&self.current, magic, repo_id, object, bytes) {
            Err(Error::NotAuthorised { .. }) if !self.retired.is_empty() => {}
            r => return r,
        }
        let hash = *blake3::hash(bytes).as_bytes();
        for key in self.pinning(&hash) {
            if let Ok(t) = decode_signed(key, magic, repo_id, object, bytes) {
                return Ok(t);
            }
        }
        Err(Error::NotAuthorised {
            object: object.to_owned(),
        })
    }

    /// Whether `verify` accepts the signature on `bytes` under the current
    /// authority, or under a retired one whose link pinned those bytes
    /// (for signed objects of other layouts, e.g. tenant key objects).
    pub(crate) fn accepts(&self, bytes: &[u8], verify: impl Fn(&AdminPublicKey) -> bool) -> bool {
        verify(&self.current) || self.pinning(blake3::hash(bytes).as_bytes()).any(verify)
    }

    /// Whether this chain endorses key file `name` (`keys/<hash of its
    /// bytes>`, which `open::read_key_file` checked): endorsed by the
    /// current authority, or by a retired one whose link pinned the file.
    pub(crate) fn endorses(&self, file: &KeyFileV2, name: &str) -> bool {
        if file.is_endorsed_by(&self.current) {
            return true;
        }
        let mut hash = [0u8; 32];
        if hex::decode_to_slice(name.trim_start_matches("keys/"), &mut hash).is_err() {
            return false;
        }
        self.pinning(&hash).any(|key| file.is_endorsed_by(key))
    }

    /// Whether key file `name`, endorsed by `root` (the authority it
    /// names), is still endorsed here: `root` is current, or was retired by
    /// a link that pinned the file.
    pub(crate) fn carries(&self, root: &AdminPublicKey, name: &str) -> bool {
        if self.current == *root {
            return true;
        }
        let mut hash = [0u8; 32];
        if hex::decode_to_slice(name.trim_start_matches("keys/"), &mut hash).is_err() {
            return false;
        }
        self.pinning(&hash).any(|key| key == root)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use cairn_crypto::AdminKey;

    use super::super::{Link, LinkHeader};
    use super::*;

    fn key(seed: u8) -> AdminKey {
        AdminKey::from_seed(&[seed; 32])
    }

    fn link(n: u32, from: &AdminKey, to: &AdminKey, pins: &[[u8; 32]]) -> Link {
        Link {
            header: LinkHeader {
                repository: "r".into(),
                link: n,
                previous: from.public().to_hex(),
                authority: to.public().to_hex(),
                created: String::new(),
                by: String::new(),
                host: String::new(),
                removed: Vec::new(),
                grants: BTreeMap::new(),
            },
            previous: from.public(),
            authority: to.public(),
            pins: pins.to_vec(),
        }
    }

    #[test]
    fn the_walk_goes_forward_and_back_and_ignores_forks_from_behind() {
        let (a, b, c, evil) = (key(1), key(2), key(3), key(9));
        let links = vec![
            link(2, &b, &c, &[[2; 32]]),
            link(1, &a, &b, &[[1; 32]]),
            // The holder of a (retired by link 1) links it to its own key.
            link(3, &a, &evil, &[]),
        ];
        let from_a = AuthorityChain::walk(a.public(), links.clone());
        assert_eq!(*from_a.current(), c.public());
        assert_eq!(from_a.link(), 2);
        assert_eq!(from_a.retired(), vec![(b.public(), 2), (a.public(), 1)]);
        // A key file added after link 1 names b: the same chain.
        let from_b = AuthorityChain::walk(b.public(), links.clone());
        assert_eq!(*from_b.current(), c.public());
        assert_eq!(from_b.retired(), from_a.retired());
        assert!(from_b.carries(&b.public(), &format!("keys/{}", hex::encode([2; 32]))));
        assert!(!from_b.carries(&b.public(), &format!("keys/{}", hex::encode([1; 32]))));
        assert!(!from_b.knows(&evil.public()));
        // A link below the current one from the current authority is no
        // way back either.
        let mut extended = from_a.clone();
        extended.extend(vec![link(1, &c, &evil, &[])]);
        assert_eq!(*extended.current(), c.public());
    }

    #[test]
    fn a_retired_authority_counts_only_for_what_its_link_pinned() {
        let (a, b) = (key(1), key(2));
        let repo = "00112233445566778899aabbccddeeff";
        let record = |n: u8| -> Vec<u8> {
            let doc = serde_json::json!({ "n": n });
            crate::repo::signed::encode_signed(&a, b"CRNT", repo, &doc).unwrap()
        };
        let (kept, fresh) = (record(1), record(2));
        let pin = *blake3::hash(&kept).as_bytes();
        let chain = AuthorityChain::walk(a.public(), vec![link(1, &a, &b, &[pin])]);
        let ok = chain.decode::<serde_json::Value>(b"CRNT", repo, "t", &kept);
        assert_eq!(ok.unwrap()["n"], 1);
        let refused = chain.decode::<serde_json::Value>(b"CRNT", repo, "t", &fresh);
        assert!(matches!(refused, Err(Error::NotAuthorised { .. })));
        // The same bytes under the current authority's own signature pass.
        let by_b =
            crate::repo::signed::encode_signed(&b, b"CRNT", repo, &serde_json::json!({})).unwrap();
        assert!(chain
            .decode::<serde_json::Value>(b"CRNT", repo, "t", &by_b)
            .is_ok());
    }
}
