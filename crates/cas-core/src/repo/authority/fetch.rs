//! Reading authority links: ahead of the key (`open` lists and reads them
//! side by side with the key files), then resolving them into a chain.

use std::collections::HashSet;

use cairn_backends::Backend;
use cairn_crypto::AdminPublicKey;
use futures::StreamExt;

use super::{decode_link, AuthorityChain, Link, AUTHORITIES, MAX_LINK_SIZE};
use crate::open::{get_capped, list_tolerant, OpenWarning};
use crate::Result;

/// How many links are read at once.
const READ_AHEAD: usize = 4;

/// How many pins [`fetch`] keeps in memory before it knows which links the
/// chain uses (32 MiB): a store can hold any number of planted links that
/// verify on their own (anyone can sign one between two keys they made),
/// so past this the pins of further links are dropped and read again only
/// for links on the chain.
const MAX_PINS_HELD: usize = 1 << 20;

/// Links read ahead of verification against the chain.
pub(crate) struct FetchedLinks {
    links: Vec<Link>,
    /// Numbers of links whose pins were dropped (see [`MAX_PINS_HELD`]).
    partial: HashSet<u32>,
    warnings: Vec<OpenWarning>,
}

fn warning(object: &str, reason: String) -> OpenWarning {
    OpenWarning::Authority {
        object: object.to_owned(),
        reason,
    }
}

/// Lists `authorities/` and reads the links numbered above `above`, each
/// checked on its own (layout and both signatures). A repository without
/// links costs one listing.
pub(crate) async fn fetch(backend: &dyn Backend, above: u32) -> Result<FetchedLinks> {
    let (heard, incomplete) = list_tolerant(backend, AUTHORITIES).await?;
    let mut out = FetchedLinks {
        links: Vec::new(),
        partial: HashSet::new(),
        warnings: Vec::new(),
    };
    if let Some(e) = incomplete {
        out.warnings.push(OpenWarning::Listing {
            object: AUTHORITIES.into(),
            reason: e.to_string(),
        });
    }
    let mut wanted = Vec::new();
    for meta in heard {
        match meta
            .key
            .strip_prefix(AUTHORITIES)
            .and_then(|n| n.parse::<u32>().ok())
        {
            Some(n) if n > above => wanted.push((n, meta.key)),
            Some(_) => {}
            None => out
                .warnings
                .push(warning(&meta.key, "not an authority link name".into())),
        }
    }
    let mut reads = futures::stream::iter(wanted)
        .map(|(n, name)| async move { (n, read_link(backend, n, &name).await, name) })
        .buffered(READ_AHEAD);
    let mut held = 0usize;
    while let Some((n, link, name)) = reads.next().await {
        match link {
            Ok(mut l) => {
                held += l.pins.len();
                if held > MAX_PINS_HELD {
                    l.pins = Vec::new();
                    out.partial.insert(n);
                }
                out.links.push(l);
            }
            Err(e) if e.is_backend_failure() => return Err(e),
            Err(e) => out.warnings.push(warning(&name, e.to_string())),
        }
    }
    Ok(out)
}

async fn read_link(backend: &dyn Backend, n: u32, name: &str) -> Result<Link> {
    let bytes = get_capped(backend, name, MAX_LINK_SIZE).await?;
    decode_link(name, n, &bytes)
}

/// [`fetch`] of every link as a future `open` shares between the key-file
/// search (which walks the links once a key file opens) and its own join,
/// so the reads start in the first round.
pub(crate) type SharedLinks<'a> =
    futures::future::Shared<futures::future::BoxFuture<'a, std::sync::Arc<Result<FetchedLinks>>>>;

/// See [`SharedLinks`].
pub(crate) fn fetch_shared(backend: &dyn Backend) -> SharedLinks<'_> {
    use futures::FutureExt;
    async move { std::sync::Arc::new(fetch(backend, 0).await) }
        .boxed()
        .shared()
}

impl FetchedLinks {
    /// The links of repository `repo_id`, and warnings naming the others.
    fn of_repository(&self, repo_id: &str) -> (Vec<Link>, Vec<OpenWarning>) {
        let mut warnings = self.warnings.clone();
        let mut ours = Vec::new();
        for l in &self.links {
            match l.header.repository == repo_id {
                true => ours.push(l.clone()),
                false => warnings.push(warning(
                    &super::link_name(l.header.link),
                    "a link of another repository".into(),
                )),
            }
        }
        (ours, warnings)
    }

    /// The chain walked from `root`, and the header of the link that made
    /// its current authority (none when that is `root` itself, or no link
    /// read made it).
    pub(crate) async fn resolve(
        &self,
        backend: &dyn Backend,
        root: AdminPublicKey,
        repo_id: &str,
    ) -> Result<Resolved> {
        self.build(backend, repo_id, |links| AuthorityChain::walk(root, links))
            .await
    }

    /// `chain` moved forward along these links (a refresh: [`fetch`] was
    /// called with the chain's link number).
    pub(crate) async fn advance(
        &self,
        backend: &dyn Backend,
        chain: &AuthorityChain,
        repo_id: &str,
    ) -> Result<Resolved> {
        self.build(backend, repo_id, |links| {
            let mut next = chain.clone();
            next.extend(links);
            next
        })
        .await
    }

    /// `walk` over these links, again with the pins of the links it used
    /// read back if [`fetch`] dropped them.
    async fn build(
        &self,
        backend: &dyn Backend,
        repo_id: &str,
        walk: impl Fn(Vec<Link>) -> AuthorityChain,
    ) -> Result<Resolved> {
        let (mut links, warnings) = self.of_repository(repo_id);
        let mut chain = walk(links.clone());
        let used: Vec<u32> = chain
            .retired()
            .into_iter()
            .map(|(_, n)| n)
            .filter(|n| self.partial.contains(n))
            .collect();
        if !used.is_empty() {
            for n in used {
                let full = read_link(backend, n, &super::link_name(n)).await?;
                if let Some(l) = links.iter_mut().find(|l| l.header.link == n) {
                    *l = full;
                }
            }
            chain = walk(links.clone());
        }
        let current = links
            .into_iter()
            .find(|l| l.header.link == chain.link() && l.authority == *chain.current())
            .map(|l| l.header);
        Ok(Resolved {
            chain,
            current,
            warnings,
        })
    }
}

/// A chain and what it was built from.
pub(crate) struct Resolved {
    pub(crate) chain: AuthorityChain,
    /// The header of the link that made the current authority.
    pub(crate) current: Option<super::LinkHeader>,
    pub(crate) warnings: Vec<OpenWarning>,
}
