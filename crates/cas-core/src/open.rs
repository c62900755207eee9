//! Opening a repository whose storage may hold damaged or hostile objects.
//!
//! The storage can be written by someone without the key (DESIGN, invariant
//! 9): they can plant key files, truncate objects or make one enormous. So
//! `open` reads every whole object with a size cap *before* allocating it,
//! skips key files it cannot or should not run (naming each in an
//! [`OpenWarning`]), and tries the next key file when the config does not
//! authenticate under one file's master key.

use std::fmt;

use bytes::Bytes;
use cairn_backends::Backend;
use cairn_crypto::{AdminKey, AnyKeyFile, KdfParams, KeySet, MasterKey, Role};
use futures::StreamExt;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cache::CacheOptions;
use crate::snapshot::{decode_doc, RepoConfig, CONFIG_MAGIC};
use crate::{CpuPool, Error, Result};

/// Largest config object read (it is a few hundred bytes of sealed JSON).
pub const MAX_CONFIG_SIZE: u64 = 64 << 10;
/// Largest key file read (a version 1 key file is 135 bytes, a version 2
/// one at most 528).
pub const MAX_KEY_FILE_SIZE: u64 = 4 << 10;
/// Largest snapshot record read (sealed JSON: time, host, paths, tags, summary).
pub const MAX_SNAPSHOT_SIZE: u64 = 16 << 20;
/// Largest index object read. `Repository::write_index` splits its packs
/// over several objects so that none it writes comes near this.
pub const MAX_INDEX_SIZE: u64 = 256 << 20;

/// How to open a repository. `Default` is what [`Repository::open`](crate::Repository::open) uses.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    /// Key files whose Argon2 memory exceeds this (KiB) are skipped, not run.
    pub max_kdf_memory_kib: u32,
    /// Key files whose Argon2 work (memory KiB × passes) exceeds this are
    /// skipped, not run.
    pub max_kdf_work: u64,
    /// The local metadata cache to read through (see [`crate::cache`]);
    /// `None` (the default) caches nothing on disk.
    pub cache: Option<CacheOptions>,
    /// Where the handle runs its CPU-heavy work, from the key file's
    /// Argon2 on (see [`CpuPool`]); rayon's global pool by default.
    pub cpu_pool: CpuPool,
}

impl Default for OpenOptions {
    /// Four times the cost of [`KdfParams::default`] (64 MiB × 3 passes):
    /// 256 MiB of memory, and at most 4 × 64 MiB × 3 of work. A key file
    /// planted in `keys/` can then cost `open` at most about four ordinary
    /// opens, instead of 4 GiB × 64 passes.
    fn default() -> Self {
        let d = KdfParams::default();
        OpenOptions {
            max_kdf_memory_kib: d.m_cost_kib.saturating_mul(4),
            max_kdf_work: 4 * u64::from(d.m_cost_kib) * u64::from(d.t_cost),
            cache: None,
            cpu_pool: CpuPool::default(),
        }
    }
}

impl OpenOptions {
    /// Sets the largest Argon2 memory (KiB) a key file may ask for.
    pub fn max_kdf_memory_kib(mut self, kib: u32) -> Self {
        self.max_kdf_memory_kib = kib;
        self
    }
    /// Sets the largest Argon2 work (memory KiB × passes) a key file may ask for.
    pub fn max_kdf_work(mut self, work: u64) -> Self {
        self.max_kdf_work = work;
        self
    }
    /// Reads index objects, snapshot records, journal entries and tree packs through a
    /// local cache (see [`crate::cache`]); `None` turns it off.
    pub fn cache(mut self, cache: impl Into<Option<CacheOptions>>) -> Self {
        self.cache = cache.into();
        self
    }
    /// Sets both limits from parameters: key files costing more memory or
    /// more memory × passes than `kdf` are skipped.
    pub fn kdf_ceiling(self, kdf: KdfParams) -> Self {
        self.max_kdf_memory_kib(kdf.m_cost_kib)
            .max_kdf_work(u64::from(kdf.m_cost_kib) * u64::from(kdf.t_cost))
    }

    /// Runs the handle's CPU-heavy work on `pool` instead of rayon's global
    /// pool: a service keeps Cairn on threads it sized and named.
    pub fn cpu_pool(mut self, pool: CpuPool) -> Self {
        self.cpu_pool = pool;
        self
    }

    fn allows(&self, p: KdfParams) -> bool {
        p.m_cost_kib <= self.max_kdf_memory_kib
            && u64::from(p.m_cost_kib) * u64::from(p.t_cost) <= self.max_kdf_work
    }
}

/// Something `open` (or an index reload) skipped, and why. The repository
/// opened anyway; the caller should show these to the user.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OpenWarning {
    /// A key file was not used: malformed, too costly to run, or its master
    /// key does not authenticate the config.
    KeyFile {
        /// The key file's name.
        object: String,
        /// Why it was skipped.
        reason: String,
    },
    /// An index object could not be read or decoded. The blobs only it
    /// listed are missing until `repair index` rebuilds them from the packs.
    Index {
        /// The index object's name.
        object: String,
        /// Why it was skipped.
        reason: String,
    },
    /// An index object names packs that are not stored (replayed after a
    /// prune, or left by one): where another pack holds the same blobs,
    /// they are read from there; the next prune drops its entries.
    StaleIndex {
        /// The index object's name.
        object: String,
        /// Which packs are missing.
        reason: String,
    },
    /// A key epoch object (`epochs/<n>`) or grant was ignored: its admin
    /// signature does not verify (planted or damaged), or it is malformed.
    /// Data keeps being written under the newest valid epoch.
    Epoch {
        /// The object's name.
        object: String,
        /// Why it was ignored.
        reason: String,
    },
    /// An admin authority link (`authorities/<n>`) was ignored: it does not
    /// verify on its own (planted or damaged), is malformed, or belongs to
    /// another repository. The chain goes on without it.
    Authority {
        /// The object's name.
        object: String,
        /// Why it was ignored.
        reason: String,
    },
    /// A listing could not be shown complete (children of an erasure layout
    /// did not answer): what was heard is used, but objects stored only on
    /// the silent stores (key files, index objects) are missing for now.
    Listing {
        /// The prefix listed (`object()` gives it).
        object: String,
        /// Which stores failed.
        reason: String,
    },
    /// The local metadata cache could not be opened: the repository works
    /// without it (every object comes from the backend).
    Cache {
        /// The cache directory.
        object: String,
        /// Why.
        reason: String,
    },
}

impl OpenWarning {
    /// The object concerned.
    pub fn object(&self) -> &str {
        match self {
            OpenWarning::KeyFile { object, .. }
            | OpenWarning::Index { object, .. }
            | OpenWarning::StaleIndex { object, .. }
            | OpenWarning::Epoch { object, .. }
            | OpenWarning::Authority { object, .. }
            | OpenWarning::Listing { object, .. }
            | OpenWarning::Cache { object, .. } => object,
        }
    }
}

impl fmt::Display for OpenWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenWarning::KeyFile { object, reason } => {
                write!(f, "key file {object} skipped: {reason}")
            }
            OpenWarning::Index { object, reason } => write!(
                f,
                "index object {object} skipped (the blobs it lists are missing until `repair index`): {reason}"
            ),
            OpenWarning::StaleIndex { object, reason } => write!(
                f,
                "index object {object} names packs that are gone (replayed, or left by a prune; \
                 the next prune drops them): {reason}"
            ),
            OpenWarning::Epoch { object, reason } => {
                write!(f, "key epoch object {object} ignored: {reason}")
            }
            OpenWarning::Authority { object, reason } => {
                write!(f, "admin authority link {object} ignored: {reason}")
            }
            OpenWarning::Listing { object, reason } => write!(
                f,
                "the listing of {object} may be incomplete (objects only on unreachable stores are missing for now): {reason}"
            ),
            OpenWarning::Cache { object, reason } => {
                write!(f, "metadata cache {object} not used: {reason}")
            }
        }
    }
}

/// Reads the whole object `key`, refusing (before allocating it) one larger
/// than `max` bytes: a ranged read of `max + 1` bytes bounds what the
/// backend hands back, whatever the object's real size.
#[doc(hidden)]
pub async fn get_capped(backend: &dyn Backend, key: &str, max: u64) -> Result<Bytes> {
    let bytes = backend.get_range(key, 0..max.saturating_add(1)).await?;
    if bytes.len() as u64 > max {
        return Err(Error::TooLarge {
            object: key.to_owned(),
            max,
        });
    }
    Ok(bytes)
}

/// How many key files `open` reads ahead of the one it is trying.
const KEY_FILES_AHEAD: usize = 4;

/// The key file that opened the repository, its master key and the config.
pub(crate) struct Unlocked {
    pub(crate) key_name: String,
    pub(crate) master: MasterKey,
    pub(crate) role: Role,
    /// The authorities walked from the one the key file names.
    pub(crate) chain: Option<crate::repo::AuthorityChain>,
    /// The current authority's signing key (admins granted it).
    pub(crate) admin: Option<AdminKey>,
    pub(crate) exchange: Option<cairn_crypto::ExchangeSecret>,
    pub(crate) config: RepoConfig,
    pub(crate) warnings: Vec<OpenWarning>,
}

/// Finds a key file that `password` opens and whose master key
/// authenticates the config. Key files are tried in name order; malformed,
/// too costly or non-matching ones are skipped with a warning.
pub(crate) async fn unlock(
    backend: &dyn Backend,
    password: &[u8],
    opts: &OpenOptions,
    links: crate::repo::authority::SharedLinks<'_>,
) -> Result<Unlocked> {
    // Side by side: one round trip less on every open of a remote store.
    let (cfg, listed, revocations) = futures::join!(
        get_capped(backend, "config", MAX_CONFIG_SIZE),
        list_tolerant(backend, "keys/"),
        list_tolerant(backend, crate::repo::signed::REVOKED)
    );
    let cfg_bytes = match cfg {
        Ok(b) => b,
        Err(Error::Backend(e)) if e.is_not_found() => {
            return Err(Error::NotARepository {
                reason: "no config object".into(),
            })
        }
        Err(e) => return Err(e),
    };
    let (keys_heard, incomplete) = listed?;
    let mut names: Vec<String> = keys_heard.into_iter().map(|m| m.key).collect();
    if names.is_empty() {
        return Err(match incomplete {
            Some(e) => e.into(),
            None => Error::NotARepository {
                reason: "no key files".into(),
            },
        });
    }
    names.sort();
    // Revocations by key identity are looked for in this listing, so an
    // ordinary open spends no round on them; a listing that cannot be
    // shown complete sends `open` to read the one it needs.
    let (revocations_heard, revocations_incomplete) = revocations?;
    let revocations: std::collections::HashSet<String> =
        revocations_heard.into_iter().map(|m| m.key).collect();
    let mut warnings = Vec::new();
    if let Some(e) = incomplete {
        warnings.push(OpenWarning::Listing {
            object: "keys/".into(),
            reason: e.to_string(),
        });
    }
    let mut skip = |object: &str, reason: String| {
        warnings.push(OpenWarning::KeyFile {
            object: object.to_owned(),
            reason,
        })
    };
    // Each key file is read with its revocation object, a few files ahead
    // of the one being tried (in name order): an ordinary open then waits
    // for one round of reads, not three (file, then revocation), and a
    // store stuffed with planted key files costs no more reads than the
    // files tried plus the window.
    let mut files = futures::stream::iter(names.iter())
        .map(|name| async move {
            let by_name = crate::repo::revocation_name(name);
            let (file, revocation) = futures::join!(
                read_key_file(backend, name),
                crate::repo::fetch_revocation(backend, &by_name)
            );
            (name, file, revocation)
        })
        .buffered(KEY_FILES_AHEAD);
    while let Some((name, file, revocation)) = files.next().await {
        let file = match file {
            Ok(f) => f,
            // An outage (not the file being bad) stops the open: skipping
            // would turn it into "wrong password".
            Err(e) if e.is_backend_failure() => return Err(e),
            Err(e) => {
                skip(name, e.to_string());
                continue;
            }
        };
        let p = file.params();
        if !opts.allows(p) {
            skip(
                name,
                format!(
                    "its key derivation costs {} MiB × {} passes, above this open's ceiling \
                     ({} MiB, {} MiB-passes); raise it with OpenOptions to use this key file",
                    p.m_cost_kib / 1024,
                    p.t_cost,
                    opts.max_kdf_memory_kib / 1024,
                    opts.max_kdf_work / 1024
                ),
            );
            continue;
        }
        let identity = crate::repo::key_identity(&file)
            .map(|i| format!("{}{i}", crate::repo::signed::REVOKED));
        let pw = Zeroizing::new(password.to_vec());
        let opened = match opts.cpu_pool.spawn(move || file.open(&pw)).await? {
            Ok(m) => m,
            Err(cairn_crypto::Error::WrongPassword) => continue,
            Err(e) => {
                skip(name, e.to_string());
                continue;
            }
        };
        let keys = KeySet::derive(&opened.master);
        match decode_doc::<RepoConfig>(&keys, CONFIG_MAGIC, "config", &cfg_bytes) {
            Ok(config) => {
                // A key an admin revoked no longer opens, even if its file
                // was stored again (its holder kept a copy). The revocation
                // was read with the file; its failure to read is only
                // fatal for the file that opens. Revocations are verified
                // under the chain of authorities walked from the one the
                // file names, which must still endorse the file.
                let (mut chain, mut admin) = (None, opened.admin);
                if let Some(root) = opened.authority {
                    let shared = links.clone().await;
                    let again;
                    let fetched = match &*shared {
                        Ok(f) => f,
                        // The shared error cannot be moved out: read again
                        // for one of our own (or the links, if it passed).
                        Err(_) => {
                            again = crate::repo::authority::fetch(backend, 0).await?;
                            &again
                        }
                    };
                    let resolved = fetched.resolve(backend, root, &config.id).await?;
                    let c = &resolved.chain;
                    if !c.carries(&root, name) {
                        skip(
                            name,
                            format!(
                                "the admin authority it names was retired by authorities/{:010} \
                                 without carrying this key file over (it was removed)",
                                c.retired().iter().find(|r| r.0 == root).map_or(0, |r| r.1)
                            ),
                        );
                        continue;
                    }
                    let stored = revocation?;
                    let by_name = crate::repo::revocation_name(name);
                    let mut revoked =
                        crate::repo::revoked_by(c, &config.id, &by_name, stored.as_ref());
                    if let Some(object) = identity.filter(|o| {
                        !revoked && (revocations_incomplete.is_some() || revocations.contains(o))
                    }) {
                        let stored = crate::repo::fetch_revocation(backend, &object).await?;
                        revoked = crate::repo::revoked_by(c, &config.id, &object, stored.as_ref());
                    }
                    if revoked {
                        skip(name, "revoked by an admin".into());
                        continue;
                    }
                    if *c.current() != root && admin.is_some() {
                        // The key file's seed is of a retired authority:
                        // the current one comes from the link's grant.
                        admin = resolved.current.as_ref().and_then(|h| {
                            crate::repo::authority::granted_admin(
                                h,
                                opened.exchange.as_ref(),
                                &config.id,
                                name,
                                c.current(),
                            )
                        });
                    }
                    warnings.extend(resolved.warnings);
                    chain = Some(resolved.chain);
                }
                return Ok(Unlocked {
                    key_name: name.clone(),
                    master: opened.master,
                    role: opened.role,
                    chain,
                    admin,
                    exchange: opened.exchange,
                    config,
                    warnings,
                });
            }
            // Another master key's file (planted, or a stray from an
            // abandoned init): the next key file may be the right one.
            Err(Error::Authentication { .. }) => skip(
                name,
                "the password opens it, but the config does not authenticate under its master key"
                    .into(),
            ),
            Err(e) => return Err(e),
        }
    }
    if warnings.is_empty() {
        Err(Error::WrongPassword)
    } else {
        Err(Error::NoUsableKeyFile {
            skipped: warnings.iter().map(|w| w.to_string()).collect(),
        })
    }
}

/// Reads and parses key file `name`, refusing one whose name is not
/// `keys/<BLAKE3 of its bytes>`.
///
/// Every key file Cairn ever wrote is named so (`repo::key_file_name`,
/// since the first format), so the rule costs old repositories nothing; it
/// stops the bytes of a removed key from being stored again under a new
/// name, where a revocation looked up by name would not find them.
pub(crate) async fn read_key_file(backend: &dyn Backend, name: &str) -> Result<AnyKeyFile> {
    let bytes = get_capped(backend, name, MAX_KEY_FILE_SIZE).await?;
    if crate::repo::key_file_name(&bytes) != name {
        return Err(Error::corrupt(
            name,
            "its name is not the hash of its bytes (a key file stored again under another name)",
        ));
    }
    AnyKeyFile::from_bytes(&bytes).map_err(|source| Error::Crypto {
        object: name.to_owned(),
        source,
    })
}

/// Lists `prefix`, going on past a listing that cannot be shown complete
/// ([`cairn_backends::Error::Incomplete`], which erasure layouts yield after
/// the keys they heard): the keys heard, and that error. Readers (open,
/// snapshot listings) use what was heard with a warning; anything that
/// deletes on the strength of a listing must use the strict listing.
#[doc(hidden)]
pub async fn list_tolerant(
    backend: &dyn Backend,
    prefix: &str,
) -> Result<(
    Vec<cairn_backends::ObjectMeta>,
    Option<cairn_backends::Error>,
)> {
    let mut stream = backend.list(prefix);
    let (mut heard, mut incomplete) = (Vec::new(), None);
    while let Some(item) = stream.next().await {
        match item {
            Ok(m) => heard.push(m),
            Err(e) if e.is_incomplete() => incomplete = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Ok((heard, incomplete))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cairn_backends::{MemoryBackend, PutMode};

    use crate::snapshot::encode_doc;
    use crate::{Error, InitOptions, Repository};

    use super::*;

    /// A config sealed with the repository's own key but a pack size `init`
    /// would refuse (written by a buggy or hostile key holder).
    #[test]
    fn a_forged_pack_size_is_refused_at_open() {
        futures::executor::block_on(async {
            let store = Arc::new(MemoryBackend::new());
            let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
            let repo = Repository::init(store.clone(), b"pw", opts).await.unwrap();
            for bad in [0, 100, 1 << 40] {
                let mut config = repo.config().clone();
                config.pack_size = bad;
                let bytes = encode_doc(&repo.keys(), CONFIG_MAGIC, &config).unwrap();
                store
                    .put("config", Bytes::from(bytes), PutMode::Overwrite)
                    .await
                    .unwrap();
                let err = Repository::open(store.clone(), b"pw").await.unwrap_err();
                assert!(
                    matches!(&err, Error::Corrupt { object, reason }
                        if object == "config" && reason.contains("pack size")),
                    "{bad}: {err:?}"
                );
            }
        })
    }
}
