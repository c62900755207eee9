//! Opening, creating and reading a repository.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use bytes::Bytes;
use cairn_backends::{Backend, PutMode};
use cairn_chunking::ChunkerConfig;
use cairn_crypto::{ChunkId, KdfParams, KeyFile, KeySet, MasterKey};
use futures::{StreamExt, TryStreamExt};

use crate::blob::{open_blob, BlobKind, Compression};
use crate::index::{decode_index, encode_index, index_key, Index};
use crate::pack::{PackEntry, PackId};
use crate::snapshot::{
    decode_doc, encode_doc, snapshot_key, RepoConfig, Snapshot, CONFIG_MAGIC, SNAPSHOT_MAGIC,
};
use crate::tree::Tree;
use crate::{cpu, Error, Result};

/// How many objects are fetched at once when loading indexes and snapshots.
const LOAD_CONCURRENCY: usize = 16;

/// Settings for a new repository.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Chunker parameters (fixed for the repository's life).
    pub chunker: ChunkerConfig,
    /// Compression for new blobs.
    pub compression: Compression,
    /// Target pack size in bytes (1 MiB ..= 1 GiB).
    pub pack_size: u64,
    /// Argon2id parameters of the first key file.
    pub kdf: KdfParams,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            chunker: ChunkerConfig::default(),
            compression: Compression::default(),
            pack_size: DEFAULT_PACK_SIZE,
            kdf: KdfParams::default(),
        }
    }
}

impl InitOptions {
    /// Sets the chunker parameters.
    pub fn chunker(mut self, c: ChunkerConfig) -> Self {
        self.chunker = c;
        self
    }
    /// Sets the compression.
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }
    /// Sets the target pack size.
    pub fn pack_size(mut self, bytes: u64) -> Self {
        self.pack_size = bytes;
        self
    }
    /// Sets the key file's KDF parameters.
    pub fn kdf(mut self, kdf: KdfParams) -> Self {
        self.kdf = kdf;
        self
    }
}

/// Default target pack size: 16 MiB (see the crate docs for the measurement).
pub const DEFAULT_PACK_SIZE: u64 = 16 << 20;

/// A repository opened with a password: the keys, the config and the index.
///
/// Cheap to share: wrap it in an `Arc`. Reading is safe from many tasks at
/// once; one backup at a time per `Repository` value.
pub struct Repository {
    backend: Arc<dyn Backend>,
    keys: Arc<KeySet>,
    config: RepoConfig,
    chunker: ChunkerConfig,
    compression: Compression,
    key_name: String,
    // Kept (zeroized on drop) so key files can be added and passwords changed.
    master: Arc<MasterKey>,
    index: Arc<RwLock<Index>>,
    tree_packs: Mutex<HashMap<PackId, Bytes>>,
}

/// Bytes of whole tree packs kept in memory by [`Repository::read_blob`].
const TREE_CACHE_BYTES: usize = 64 << 20;

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("id", &self.config.id)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

fn key_file_name(bytes: &[u8]) -> String {
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
        if !(1 << 20..=1 << 30).contains(&opts.pack_size) {
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
        let keys = Arc::new(KeySet::derive(&master));
        let password = password.to_vec();
        let kdf = opts.kdf;
        let m = master.clone();
        let keyfile = cpu::spawn(move || KeyFile::create(&m, &password, kdf))
            .await?
            .map_err(crypto_err("new key file"))?
            .to_bytes();
        let mut rid = [0u8; 16];
        getrandom_fill(&mut rid)?;
        let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let config = RepoConfig {
            version: 1,
            id: hex::encode(rid),
            created: now,
            chunk_min: opts.chunker.min_size(),
            chunk_avg: opts.chunker.avg_size(),
            chunk_max: opts.chunker.max_size(),
            compression: opts.compression.to_string(),
            pack_size: opts.pack_size,
        };
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
        Ok(Repository {
            backend,
            keys,
            chunker: opts.chunker,
            compression: opts.compression,
            config,
            key_name,
            master,
            index: Arc::new(RwLock::new(Index::default())),
            tree_packs: Mutex::default(),
        })
    }

    /// Opens the repository on `backend` with `password`, and loads its index.
    pub async fn open(backend: Arc<dyn Backend>, password: &[u8]) -> Result<Self> {
        let cfg_bytes = match backend.get("config").await {
            Ok(b) => b,
            Err(e) if e.is_not_found() => {
                return Err(Error::NotARepository {
                    reason: "no config object".into(),
                })
            }
            Err(e) => return Err(e.into()),
        };
        let names: Vec<String> = backend
            .list("keys/")
            .map_ok(|m| m.key)
            .try_collect()
            .await?;
        if names.is_empty() {
            return Err(Error::NotARepository {
                reason: "no key files".into(),
            });
        }
        let mut opened = None;
        for name in names {
            let bytes = backend.get(&name).await?;
            let file = KeyFile::from_bytes(&bytes).map_err(crypto_err(name.clone()))?;
            let password = password.to_vec();
            match cpu::spawn(move || file.open(&password)).await? {
                Ok(master) => {
                    opened = Some((name, master));
                    break;
                }
                Err(cairn_crypto::Error::WrongPassword) => continue,
                Err(e) => return Err(crypto_err(name)(e)),
            }
        }
        let (key_name, master) = opened.ok_or(Error::WrongPassword)?;
        let keys = Arc::new(KeySet::derive(&master));
        let config: RepoConfig = decode_doc(&keys, CONFIG_MAGIC, "config", &cfg_bytes)?;
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
        let repo = Repository {
            backend,
            keys,
            config,
            chunker,
            compression,
            key_name,
            master: Arc::new(master),
            index: Arc::new(RwLock::new(Index::default())),
            tree_packs: Mutex::default(),
        };
        repo.reload_index().await?;
        Ok(repo)
    }

    /// Adds a key file for `password`; returns its object name.
    pub async fn add_key(&self, password: &[u8], kdf: KdfParams) -> Result<String> {
        let bytes = self.wrap_master(password, kdf).await?;
        let name = key_file_name(&bytes);
        self.backend
            .put(&name, Bytes::from(bytes), PutMode::CreateOnly)
            .await?;
        Ok(name)
    }

    async fn wrap_master(&self, password: &[u8], kdf: KdfParams) -> Result<Vec<u8>> {
        let master = self.master.clone();
        let password = password.to_vec();
        let file = cpu::spawn(move || KeyFile::create(&master, &password, kdf))
            .await?
            .map_err(crypto_err("new key file"))?;
        Ok(file.to_bytes())
    }

    /// Replaces the key file this repository was opened with by one for
    /// `new_password`; returns the new key file's name. The new file is
    /// written before the old one is removed, so a crash in between leaves
    /// both passwords working, never neither.
    pub async fn change_password(&mut self, new_password: &[u8], kdf: KdfParams) -> Result<String> {
        let name = self.add_key(new_password, kdf).await?;
        self.backend.delete(&self.key_name).await?;
        self.key_name = name.clone();
        Ok(name)
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }
    /// The derived keys.
    pub fn keys(&self) -> &Arc<KeySet> {
        &self.keys
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

    /// Read access to the index.
    pub fn index(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn index_mut(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads every index object again (e.g. after another process's backup).
    pub async fn reload_index(&self) -> Result<()> {
        // A prune may consolidate the index while it is read; it writes the
        // new object before deleting the old ones, so a fresh listing after
        // a vanished object finds everything again.
        let mut attempts = 0;
        loop {
            match self.load_index_once().await {
                Err(Error::Backend(e)) if e.is_not_found() && attempts < 8 => attempts += 1,
                r => return r,
            }
        }
    }

    async fn load_index_once(&self) -> Result<()> {
        let names: Vec<String> = self
            .backend
            .list("index/")
            .map_ok(|m| m.key)
            .try_collect()
            .await?;
        let keys = self.keys.clone();
        let mut loaded: Vec<(PackId, Vec<PackEntry>)> = Vec::new();
        let mut stream = futures::stream::iter(names)
            .map(|name| {
                let keys = keys.clone();
                async move {
                    let bytes = self.backend.get(&name).await?;
                    cpu::spawn(move || decode_index(&keys, &name, &bytes)).await?
                }
            })
            .buffer_unordered(LOAD_CONCURRENCY);
        while let Some(packs) = stream.next().await {
            loaded.extend(packs?);
        }
        let blobs = loaded.iter().map(|(_, e)| e.len()).sum();
        let mut index = Index::with_capacity(blobs);
        for (pack, entries) in &loaded {
            index.add_pack(*pack, entries);
        }
        index.compact();
        *self.index_mut() = index;
        Ok(())
    }

    /// Writes an index object for `packs` (which must already be stored).
    pub async fn write_index(&self, packs: &[(PackId, Vec<PackEntry>)]) -> Result<String> {
        let bytes = encode_index(&self.keys, packs)?;
        let name = index_key(&bytes);
        put_idempotent(&*self.backend, &name, Bytes::from(bytes)).await?;
        Ok(name)
    }

    /// Reads, opens and verifies one blob.
    pub async fn read_blob(&self, id: &ChunkId) -> Result<Vec<u8>> {
        let loc = self.index().get(id).ok_or(Error::MissingBlob { id: *id })?;
        let key = loc.pack.key();
        let e = loc.entry;
        let range = u64::from(e.offset)..u64::from(e.offset) + u64::from(e.length);
        let sealed = if e.kind == BlobKind::Tree {
            self.tree_pack_range(loc.pack, &key, range).await?
        } else {
            self.backend.get_range(&key, range).await?
        };
        if sealed.len() != e.length as usize {
            return Err(Error::corrupt(&key, format!("blob {id} is truncated")));
        }
        let keys = self.keys.clone();
        let id = *id;
        cpu::spawn(move || {
            open_blob(
                &keys,
                &key,
                e.kind,
                &id,
                e.compression,
                e.raw_length,
                &sealed,
            )
        })
        .await?
    }

    /// Tree packs hold only trees, are small, and a walk reads many blobs
    /// from each: fetch them whole once (one request, and one decode on an
    /// erasure-coded backend) and serve later tree reads from memory.
    async fn tree_pack_range(
        &self,
        pack: PackId,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<Bytes> {
        let cached = self
            .tree_packs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&pack)
            .cloned();
        let whole = match cached {
            Some(b) => b,
            None => {
                let b = self.backend.get(key).await?;
                let mut cache = self.tree_packs.lock().unwrap_or_else(|e| e.into_inner());
                let held: usize = cache.values().map(|v| v.len()).sum();
                if held + b.len() > TREE_CACHE_BYTES {
                    cache.clear();
                }
                cache.insert(pack, b.clone());
                b
            }
        };
        let end = (range.end as usize).min(whole.len());
        let start = (range.start as usize).min(end);
        Ok(whole.slice(start..end))
    }

    /// Reads a tree blob.
    pub async fn load_tree(&self, id: &ChunkId) -> Result<Tree> {
        let bytes = self.read_blob(id).await?;
        Tree::decode(&format!("tree {id}"), &bytes)
    }

    /// Stores a snapshot record; returns its id. Call only after the packs and
    /// index objects it needs are stored.
    pub async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<String> {
        let bytes = encode_doc(&self.keys, SNAPSHOT_MAGIC, snapshot)?;
        let id = blake3::hash(&bytes).to_hex().to_string();
        put_idempotent(&*self.backend, &snapshot_key(&id), Bytes::from(bytes)).await?;
        Ok(id)
    }

    /// Loads one snapshot record by full id.
    pub async fn load_snapshot(&self, id: &str) -> Result<Snapshot> {
        let key = snapshot_key(id);
        let bytes = self.backend.get(&key).await?;
        if blake3::hash(&bytes).to_hex().as_str() != id {
            return Err(Error::corrupt(&key, "contents do not match the name"));
        }
        decode_doc(&self.keys, SNAPSHOT_MAGIC, &key, &bytes)
    }

    /// The ids of every snapshot record stored (without reading them).
    pub async fn snapshot_ids(&self) -> Result<Vec<String>> {
        Ok(self
            .backend
            .list("snapshots/")
            .map_ok(|m| m.key.trim_start_matches("snapshots/").to_owned())
            .try_collect()
            .await?)
    }

    /// Every snapshot, oldest first; fails if any record cannot be read.
    pub async fn snapshots(&self) -> Result<Vec<(String, Snapshot)>> {
        let (all, mut errors) = self.readable_snapshots().await?;
        match errors.is_empty() {
            true => Ok(all),
            false => Err(errors.remove(0)),
        }
    }

    /// Every snapshot that can be read, oldest first, and the errors of
    /// those that cannot: one damaged record (or one written by a newer
    /// version) must not stop backups, selection or `check`.
    pub async fn readable_snapshots(&self) -> Result<(Vec<(String, Snapshot)>, Vec<Error>)> {
        let ids = self.snapshot_ids().await?;
        let loaded: Vec<Result<(String, Snapshot)>> = futures::stream::iter(ids)
            .map(|id| async move {
                let s = self.load_snapshot(&id).await?;
                Ok((id, s))
            })
            .buffer_unordered(LOAD_CONCURRENCY)
            .collect()
            .await;
        let (mut all, mut errors) = (Vec::new(), Vec::new());
        for r in loaded {
            match r {
                Ok(s) => all.push(s),
                Err(e) => errors.push(e),
            }
        }
        all.sort_by(|a, b| (a.1.system_time(), &a.0).cmp(&(b.1.system_time(), &b.0)));
        Ok((all, errors))
    }

    /// Finds a snapshot by `latest` (the newest readable one), a full id, or
    /// an unambiguous id prefix (whose record must then be readable).
    pub async fn find_snapshot(&self, query: &str) -> Result<(String, Snapshot)> {
        let not_found = || Error::SnapshotNotFound {
            query: query.to_owned(),
        };
        if query == "latest" {
            return self
                .readable_snapshots()
                .await?
                .0
                .into_iter()
                .last()
                .ok_or_else(not_found);
        }
        let mut matches: Vec<String> = self
            .snapshot_ids()
            .await?
            .into_iter()
            .filter(|id| id.starts_with(query))
            .collect();
        match matches.len() {
            0 => Err(not_found()),
            1 => {
                let id = matches.remove(0);
                let snap = self.load_snapshot(&id).await?;
                Ok((id, snap))
            }
            count => Err(Error::AmbiguousSnapshot {
                prefix: query.to_owned(),
                count,
            }),
        }
    }
}

/// Create-only put where finding the same name already stored is success:
/// names are hashes of content, so the object there is the one we meant.
pub(crate) async fn put_idempotent(backend: &dyn Backend, key: &str, bytes: Bytes) -> Result<()> {
    match backend.put(key, bytes, PutMode::CreateOnly).await {
        Err(e) if e.is_already_exists() => Ok(()),
        r => Ok(r?),
    }
}

fn getrandom_fill(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::Internal {
        what: format!("no randomness from the operating system: {e}"),
    })
}
