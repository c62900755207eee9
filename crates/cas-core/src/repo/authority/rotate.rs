//! Starting a new admin authority: what `key remove` of an admin does after
//! its key epoch rotation (see the parent module).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use cairn_backends::PutMode;
use cairn_crypto::{seal_grant, AdminKey, AnyKeyFile, MasterKey, Role};
use futures::StreamExt;
use serde::Serialize;

use super::{encode_link, grant_context, link_name, AuthorityChain, Link, LinkHeader, AUTHORITIES};
use crate::open::{get_capped, read_key_file};
use crate::prune::records::list_names;
use crate::repo::signed::{decode_signed, MAX_SIGNED_SIZE};
use crate::repo::{crypto_err, Repository, LOAD_CONCURRENCY};
use crate::{Error, Result};

/// Where objects signed by the authority are stored, and their magics
/// (tenants' tombstones are found through the tenant list).
const SIGNED: [(&str, &[u8; 4]); 5] = [
    (
        crate::repo::signed::TOMBSTONES,
        crate::repo::signed::TOMBSTONE_MAGIC,
    ),
    (
        crate::repo::signed::REVOKED,
        crate::repo::signed::REVOCATION_MAGIC,
    ),
    (
        crate::tenant::TENANT_SHREDS,
        crate::repo::signed::SHRED_MAGIC,
    ),
    ("epochs/", crate::repo::epochs::EPOCH_MAGIC),
    ("grants/", crate::repo::epochs::GRANT_MAGIC),
];

/// What a new authority link did.
#[non_exhaustive]
#[derive(Debug, Clone, Serialize)]
pub struct AuthorityReport {
    /// The link's number.
    pub link: u32,
    /// Its object (`authorities/<n>`).
    pub object: String,
    /// The new authority's public key (hex).
    pub authority: String,
    /// Admin key files (ids) granted the new authority.
    pub granted: Vec<String>,
    /// How many objects signed by the old authority stay valid (pinned).
    pub pinned: usize,
}

impl Repository {
    /// Retires the current admin authority for a fresh one: pins what it
    /// signed that stays valid, grants the new seed to every remaining
    /// admin key file (not `removed`, ids), writes the link, and switches
    /// this handle to the new authority (it keeps the new signing key even
    /// if its own key file is among `removed`, until it is dropped).
    ///
    /// # Errors
    /// [`Error::RotationBlocked`] when a remaining admin key file cannot
    /// receive a grant (version 1 or 2); [`Error::AuthorityExists`] when
    /// another admin retired the same authority first.
    pub(crate) async fn rotate_authority(&self, removed: &[String]) -> Result<AuthorityReport> {
        const OP: &str = "retire the admin authority";
        self.require_whole("key management")?;
        self.refresh_authority().await?;
        let admin = self.admin_key(OP)?;
        let chain = self
            .authority_chain()
            .ok_or(Error::NoAuthority { operation: OP })?;
        let recipients = self.admin_recipients(&chain, removed).await?;
        let pins = self.pins(&chain, removed).await?;
        let new = AdminKey::generate().map_err(crypto_err("admin authority"))?;
        let n = self.next_free_link(chain.link()).await?;
        let id = &self.config().id;
        let seed = MasterKey::from_key(&new.expose_seed());
        let mut grants = BTreeMap::new();
        for (key, public) in &recipients {
            let g = seal_grant(&seed, public, &grant_context(id, n, key))
                .map_err(crypto_err(format!("keys/{key}")))?;
            grants.insert(key.clone(), hex::encode(g));
        }
        let header = LinkHeader {
            repository: id.clone(),
            link: n,
            previous: chain.current().to_hex(),
            authority: new.public().to_hex(),
            created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            by: self.key_name().trim_start_matches("keys/").to_owned(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            removed: removed.to_vec(),
            grants,
        };
        let bytes = encode_link(&admin, &new, &header, &pins)?;
        let object = link_name(n);
        match self
            .backend()
            .put(&object, Bytes::from(bytes), PutMode::CreateOnly)
            .await
        {
            Err(e) if e.is_already_exists() => return Err(Error::AuthorityExists { link: n }),
            r => r?,
        }
        let mut next = AuthorityChain::clone(&chain);
        next.extend(vec![Link {
            header,
            previous: *chain.current(),
            authority: new.public(),
            pins: pins.clone(),
        }]);
        self.set_authority(next, Some(Arc::new(new.clone())));
        Ok(AuthorityReport {
            link: n,
            object,
            authority: new.public().to_hex(),
            granted: recipients.into_iter().map(|(k, _)| k).collect(),
            pinned: pins.len(),
        })
    }

    /// The admin key files (ids) that receive the new authority: endorsed
    /// under `chain`, not revoked, not `removed`.
    async fn admin_recipients(
        &self,
        chain: &AuthorityChain,
        removed: &[String],
    ) -> Result<Vec<(String, cairn_crypto::ExchangePublic)>> {
        let (mut out, mut lacking) = (Vec::new(), Vec::new());
        for name in list_names(self, "keys/").await? {
            let id = name.trim_start_matches("keys/").to_owned();
            if removed.contains(&id) {
                continue;
            }
            let file = match read_key_file(&**self.backend(), &name).await {
                Ok(f) => f,
                Err(e) if e.is_backend_failure() => return Err(e),
                Err(_) => continue,
            };
            let AnyKeyFile::V2(f) = &file else { continue };
            if f.role() != Role::Admin || !chain.endorses(f, &name) {
                continue;
            }
            let backend = &**self.backend();
            if crate::repo::is_revoked(backend, chain, &self.config().id, &name, &file).await? {
                continue;
            }
            match f.exchange_public() {
                Some(pk) => out.push((id, pk)),
                None => lacking.push(id),
            }
        }
        if !lacking.is_empty() {
            return Err(Error::RotationBlocked { keys: lacking });
        }
        Ok(out)
    }

    /// The hashes of every stored object the current authority of `chain`
    /// signed or endorsed, but the key files `removed`. Strict listings: a
    /// listing that cannot be shown complete would drop valid objects.
    async fn pins(&self, chain: &AuthorityChain, removed: &[String]) -> Result<Vec<[u8; 32]>> {
        let current = *chain.current();
        let repo_id = self.config().id.clone();
        let mut names = Vec::new();
        for (prefix, _) in SIGNED {
            names.extend(list_names(self, prefix).await?);
        }
        for t in self.tenants().await? {
            let prefix = format!("{}{}/tombstones/", crate::tenant::TENANTS, t.namespace);
            names.extend(list_names(self, &prefix).await?);
        }
        let magics: HashSet<[u8; 4]> = SIGNED.iter().map(|(_, m)| **m).collect();
        let backend = &**self.backend();
        let mut reads = futures::stream::iter(names)
            .map(|name| async move {
                let bytes = get_capped(backend, &name, MAX_SIGNED_SIZE).await;
                (name, bytes)
            })
            .buffer_unordered(LOAD_CONCURRENCY);
        let mut pins = Vec::new();
        while let Some((name, bytes)) = reads.next().await {
            let bytes = match bytes {
                Ok(b) => b,
                Err(e) if e.is_backend_failure() => return Err(e),
                // Gone meanwhile, or too large to be a record: not signed.
                Err(_) => continue,
            };
            let Some(magic) = bytes.get(..4).and_then(|m| <[u8; 4]>::try_from(m).ok()) else {
                continue;
            };
            if !magics.contains(&magic) {
                continue;
            }
            let signed =
                decode_signed::<serde::de::IgnoredAny>(&current, &magic, &repo_id, &name, &bytes);
            if signed.is_ok() {
                pins.push(*blake3::hash(&bytes).as_bytes());
            }
        }
        // Rekeyed tenants' key objects carry the authority's signature too.
        pins.extend(crate::tenant::signed_key_pins(self, &current).await?);
        for name in list_names(self, "keys/").await? {
            let id = name.trim_start_matches("keys/");
            if removed.iter().any(|r| r == id) {
                continue;
            }
            match read_key_file(backend, &name).await {
                Ok(AnyKeyFile::V2(f)) if f.is_endorsed_by(&current) => {
                    let mut hash = [0u8; 32];
                    if hex::decode_to_slice(id, &mut hash).is_ok() {
                        pins.push(hash);
                    }
                }
                Err(e) if e.is_backend_failure() => return Err(e),
                _ => {}
            }
        }
        Ok(pins)
    }

    /// The smallest link number above `current` at which nothing is
    /// stored: planted junk there is walked past, not collided with.
    async fn next_free_link(&self, current: u32) -> Result<u32> {
        let taken: HashSet<u32> = list_names(self, AUTHORITIES)
            .await?
            .iter()
            .filter_map(|k| k.strip_prefix(AUTHORITIES)?.parse().ok())
            .collect();
        let mut n = current;
        loop {
            n = n.checked_add(1).ok_or_else(|| Error::Internal {
                what: "authority link numbers exhausted".into(),
            })?;
            if !taken.contains(&n) {
                return Ok(n);
            }
        }
    }
}
