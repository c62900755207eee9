//! Opening, creating and reading a repository.

pub(crate) mod authority;
mod cached;
pub(crate) mod epochs;
mod holds;
mod index_io;
mod keys;
mod options;
mod put;
mod read_blob;
mod remove;
pub(crate) mod signed;
mod snapshots;
mod tenant_view;

pub use authority::{AuthorityChain, AuthorityReport};
pub use epochs::{EpochReport, EpochUsage, RotateOptions, RotateReport};
pub use holds::Holds;
pub(crate) use keys::{fetch_revocation, is_revoked, key_identity, revocation_name, revoked_by};
pub use keys::{KeyInfo, NewKey};
pub use options::InitOptions;
pub use remove::{RemoveOptions, RemoveReport};
#[doc(hidden)]
pub use signed::TOMBSTONES;
pub use signed::{decode_hold, encode_hold, Hold, HOLDS};
pub use snapshots::Tombstones;

#[doc(hidden)]
pub use put::put_idempotent;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use bytes::Bytes;
use cairn_backends::{Backend, PutMode};
use cairn_chunking::ChunkerConfig;
use cairn_crypto::{AdminKey, ExchangeSecret, KeySet, MasterKey, Role};
use futures::TryStreamExt;

use crate::blob::Compression;
use crate::index::Index;
use crate::open::{list_tolerant, unlock, OpenOptions, OpenWarning, MAX_INDEX_SIZE};
use crate::pack::PackId;
use crate::snapshot::{encode_doc, RepoConfig, CONFIG_MAGIC};
use crate::{journal, CpuPool, Error, Result};

/// How many objects are fetched at once when loading indexes and snapshots.
#[doc(hidden)]
pub const LOAD_CONCURRENCY: usize = 16;

/// Default target pack size: 16 MiB (see the crate docs for the measurement).
pub const DEFAULT_PACK_SIZE: u64 = 16 << 20;

/// Target pack sizes accepted by `init`, and re-checked at `open`.
const PACK_SIZES: std::ops::RangeInclusive<u64> = 1 << 20..=1 << 30;

/// `write_index` starts a new object past this many bytes: half the cap
/// readers accept, so one pack's entries can always follow.
const INDEX_SPLIT_SIZE: u64 = MAX_INDEX_SIZE / 2;

/// A repository opened with a password: the keys, the config and the index.
///
/// Cheap to share: wrap it in an `Arc`. Reading is safe from many tasks at
/// once; one backup at a time per `Repository` value.
pub struct Repository {
    backend: Arc<dyn Backend>,
    // Replaced when this handle rotates the key epoch (`rotate_keys`).
    keys: RwLock<Arc<KeySet>>,
    config: RepoConfig,
    chunker: ChunkerConfig,
    compression: Compression,
    key_name: String,
    // Kept (zeroized on drop) so key files can be added and passwords changed.
    master: Arc<MasterKey>,
    role: Role,
    // The chain of admin authorities, walked from the one the key file that
    // opened this handle names (none for a version 1 file); and the current
    // authority's secret, for admins granted it. Both replaced when the
    // chain moves (`repo::authority`).
    authority: RwLock<Option<Arc<AuthorityChain>>>,
    admin: RwLock<Option<Arc<AdminKey>>>,
    // The key file's key-exchange secret (version 3 files): opens grants
    // of new key epochs.
    exchange: Option<Arc<ExchangeSecret>>,
    index: Arc<RwLock<Index>>,
    tree_packs: Mutex<HashMap<PackId, Bytes>>,
    // Key files skipped by `open` (fixed), and index objects skipped by the
    // last index load (replaced by every reload).
    key_warnings: Vec<OpenWarning>,
    index_warnings: Mutex<Vec<OpenWarning>>,
    // Journal entries already read and verified by this handle: immutable
    // and named by their hash, so a later operation reuses them and reads
    // only entries that are new in the listing (see `journal::load_journal`).
    pub(crate) journal_memo: Mutex<HashMap<String, crate::journal::Entry>>,
    // Set on a tenant's view (see `crate::tenant`): `backend` is then the
    // tenant's namespace and `keys` the tenant's own.
    tenant: Option<Arc<crate::tenant::TenantView>>,
    // The on-disk metadata cache (`OpenOptions::cache`); none by default.
    cache: Option<Arc<crate::cache::MetaCache>>,
    // Where CPU-heavy work runs (`OpenOptions::cpu_pool`).
    cpu: CpuPool,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("id", &self.config.id)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

pub(crate) fn key_file_name(bytes: &[u8]) -> String {
    format!("keys/{}", blake3::hash(bytes).to_hex())
}

fn crypto_err(object: impl Into<String>) -> impl FnOnce(cairn_crypto::Error) -> Error {
    let object = object.into();
    move |source| Error::Crypto { object, source }
}

impl Repository {
    /// Creates a repository on an empty `backend`, protected by `password`.
    pub async fn init(
        backend: Arc<dyn Backend>,
        password: &[u8],
        opts: InitOptions,
    ) -> Result<Self> {
        if !PACK_SIZES.contains(&opts.pack_size) {
            return Err(Error::InvalidOption {
                what: format!("pack size {} outside 1 MiB ..= 1 GiB", opts.pack_size),
            });
        }
        for prefix in ["config", "keys/"] {
            if let Some(found) = backend.list(prefix).try_next().await? {
                return Err(Error::AlreadyInitialized { object: found.key });
            }
        }
        let master = Arc::new(MasterKey::generate().map_err(crypto_err("master key"))?);
        let keys = KeySet::derive(&master);
        let admin = Arc::new(AdminKey::generate().map_err(crypto_err("admin authority"))?);
        let new = NewKey::admin()
            .kdf(opts.kdf)
            .label(opts.label.clone().unwrap_or_else(keys::default_label));
        let (keyfile, exchange) =
            keys::wrap(&opts.cpu_pool, &master, &admin, &new, password).await?;
        let mut rid = [0u8; 16];
        getrandom_fill(&mut rid)?;
        let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let config = RepoConfig::new_v1(
            hex::encode(rid),
            now,
            &opts.chunker,
            opts.compression.to_string(),
            opts.pack_size,
        );
        // Key file first: a crash before the config leaves no "config" and
        // `init` can simply be run again after removing the stray key.
        let key_name = key_file_name(&keyfile);
        backend
            .put(&key_name, Bytes::from(keyfile), PutMode::CreateOnly)
            .await?;
        let cfg = encode_doc(&keys, CONFIG_MAGIC, &config)?;
        backend
            .put("config", Bytes::from(cfg), PutMode::CreateOnly)
            .await?;
        let repo = Repository {
            backend,
            keys: RwLock::new(Arc::new(keys)),
            chunker: opts.chunker,
            compression: opts.compression,
            config,
            key_name,
            master,
            role: Role::Admin,
            authority: RwLock::new(Some(Arc::new(AuthorityChain::single(admin.public())))),
            admin: RwLock::new(Some(admin)),
            exchange: Some(Arc::new(exchange)),
            index: Arc::new(RwLock::new(Index::default())),
            tree_packs: Mutex::default(),
            key_warnings: Vec::new(),
            index_warnings: Mutex::default(),
            journal_memo: Mutex::default(),
            tenant: None,
            cache: None,
            cpu: opts.cpu_pool.clone(),
        };
        // The journal's root. Failing it fails `init` (the repository
        // exists, without a journal root: the first journaled operation
        // then starts the journal).
        let added = journal::counts([("keys", 1), ("config", 1)]);
        journal::record_after(&repo, journal::Operation::Init, added, Default::default()).await?;
        Ok(repo)
    }

    /// Opens the repository on `backend` with `password`, and loads its index,
    /// with the default [`OpenOptions`].
    pub async fn open(backend: Arc<dyn Backend>, password: &[u8]) -> Result<Self> {
        Self::open_with(backend, password, OpenOptions::default()).await
    }

    /// Opens the repository on `backend` with `password`, and loads its index.
    ///
    /// One bad object does not lock the repository: key files that are
    /// malformed or cost more than `opts` allows are skipped, and index
    /// objects that cannot be read are skipped (the blobs only they list are
    /// then missing). Each is named in [`open_warnings`](Self::open_warnings).
    pub async fn open_with(
        backend: Arc<dyn Backend>,
        password: &[u8],
        opts: OpenOptions,
    ) -> Result<Self> {
        // Three things need no key: finding the key file (config, key
        // listing, key file and its revocation), the epoch objects and the
        // index listing. Side by side, an open waits for two rounds of
        // requests, not six. Nothing read ahead is trusted before it is
        // verified under the key file's authority (epochs) or keys (index).
        // The authority links too: listed in the first round, read in the
        // second, side by side with the key file (`unlock` walks them).
        let links = authority::fetch_shared(&*backend);
        let (unlocked, epochs, index_listing, _) = futures::join!(
            unlock(&*backend, password, &opts, links.clone()),
            epochs::fetch(&*backend),
            list_tolerant(&*backend, "index/"),
            links.clone()
        );
        // It borrows `backend`, which the handle takes below.
        drop(links);
        let unlocked = unlocked?;
        let config = unlocked.config;
        if config.version != 1 {
            return Err(Error::UnsupportedVersion {
                object: "config".into(),
                found: config.version as u8,
            });
        }
        let chunker = ChunkerConfig::new(config.chunk_min, config.chunk_avg, config.chunk_max)
            .map_err(|e| Error::corrupt("config", e.to_string()))?;
        let compression = Compression::parse(&config.compression)
            .map_err(|e| Error::corrupt("config", e.to_string()))?;
        // The same bounds as `init`: a config written by a buggy or hostile
        // key holder must not make backups build 0-byte or 100 GiB packs.
        if !PACK_SIZES.contains(&config.pack_size) {
            return Err(Error::corrupt(
                "config",
                format!("pack size {} outside 1 MiB ..= 1 GiB", config.pack_size),
            ));
        }
        let (keys, epoch_warnings) = epochs::load_fetched(
            &*backend,
            epochs?,
            &unlocked.master,
            unlocked.chain.as_ref(),
            unlocked.exchange.as_ref(),
            &unlocked.key_name,
            &config.id,
        )
        .await?;
        let mut key_warnings = unlocked.warnings;
        key_warnings.extend(epoch_warnings);
        let mut repo = Repository {
            backend,
            keys: RwLock::new(Arc::new(keys)),
            config,
            chunker,
            compression,
            key_name: unlocked.key_name,
            master: Arc::new(unlocked.master),
            role: unlocked.role,
            authority: RwLock::new(unlocked.chain.map(Arc::new)),
            admin: RwLock::new(unlocked.admin.map(Arc::new)),
            exchange: unlocked.exchange.map(Arc::new),
            index: Arc::new(RwLock::new(Index::default())),
            tree_packs: Mutex::default(),
            key_warnings,
            index_warnings: Mutex::default(),
            journal_memo: Mutex::default(),
            tenant: None,
            cache: None,
            cpu: opts.cpu_pool.clone(),
        };
        if let Some(w) = repo.open_cache(opts.cache).await? {
            repo.key_warnings.push(w);
        }
        repo.reload_index_from(index_listing?).await?;
        Ok(repo)
    }

    /// What `open` and the last index load skipped: key files not used and
    /// index objects not loaded, each named with the reason.
    pub fn open_warnings(&self) -> Vec<OpenWarning> {
        let mut all = self.key_warnings.clone();
        all.extend(self.index_warning_list());
        all
    }

    fn index_warning_list(&self) -> Vec<OpenWarning> {
        self.index_warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Index objects the last index load had to skip (unreadable or
    /// undecodable): what `repair index` replaces.
    pub fn damaged_index_objects(&self) -> Vec<String> {
        self.index_warning_list()
            .into_iter()
            .map(|w| w.object().to_owned())
            .collect()
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }
    /// The derived keys: every key epoch this handle holds, sealing under
    /// the newest (see [`rotate_keys`](Self::rotate_keys)). A snapshot of
    /// the current set: a rotation by this handle replaces it.
    pub fn keys(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set_keys(&self, keys: KeySet) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
    }
    /// The repository's settings.
    pub fn config(&self) -> &RepoConfig {
        &self.config
    }
    /// The chunker parameters.
    pub fn chunker(&self) -> ChunkerConfig {
        self.chunker
    }
    /// Compression for new blobs.
    pub fn compression(&self) -> Compression {
        self.compression
    }
    /// The name of the key file this repository was opened (or created) with.
    pub fn key_name(&self) -> &str {
        &self.key_name
    }
    /// The role of the key this repository was opened with (version 1 key
    /// files are admins).
    pub fn role(&self) -> Role {
        self.role
    }
    /// The tenant this handle is a view of (none for the whole repository).
    pub fn tenant(&self) -> Option<&crate::tenant::TenantView> {
        self.tenant.as_deref()
    }

    /// Fails with [`Error::NotOnTenant`] on a tenant's view.
    pub(crate) fn require_whole(&self, operation: &'static str) -> Result<()> {
        match self.tenant {
            None => Ok(()),
            Some(_) => Err(Error::NotOnTenant { operation }),
        }
    }

    /// Fails with [`Error::NotAdmin`] unless opened with an admin key.
    #[doc(hidden)]
    pub fn require_admin(&self, operation: &'static str) -> Result<()> {
        match self.role {
            Role::Admin => Ok(()),
            role => Err(Error::NotAdmin { operation, role }),
        }
    }

    /// The pool this handle runs its CPU-heavy work on.
    #[doc(hidden)]
    pub fn cpu(&self) -> &CpuPool {
        &self.cpu
    }

    /// Read access to the index.
    pub fn index(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    #[doc(hidden)]
    pub fn index_mut(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn getrandom_fill(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::Internal {
        what: format!("no randomness from the operating system: {e}"),
    })
}
