//! Reading metadata through the local cache (see [`crate::cache`]).
//!
//! Every cached read is authenticated twice: the cache file's MAC, then
//! the same check the object gets when it comes from the backend (AEAD,
//! content hash). A cached copy failing the second is deleted and the
//! object fetched from the backend; only bytes that passed are cached.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use rayon::prelude::*;

use super::Repository;
use crate::cache::{CacheOptions, MetaCache};
use crate::open::{get_capped, OpenWarning};
use crate::pack::PackId;
use crate::Result;

impl Repository {
    /// The local metadata cache, if this handle was opened with one
    /// ([`OpenOptions::cache`](crate::OpenOptions::cache)).
    pub fn cache(&self) -> Option<&Arc<MetaCache>> {
        self.cache.as_ref()
    }

    /// A handle on the same repository that reads nothing through the
    /// cache, with its own index loaded from the backend: for judging the
    /// stored objects themselves (`check`, `repair`), which a cached copy
    /// made before they were damaged or lost would hide.
    pub async fn without_cache(&self) -> Result<Repository> {
        let warnings = (self.key_warnings.iter())
            .filter(|w| !matches!(w, OpenWarning::Cache { .. }))
            .cloned()
            .collect();
        let mut repo = self.derived(self.backend.clone(), self.keys(), warnings);
        repo.tenant = self.tenant.clone();
        repo.reload_index().await?;
        Ok(repo)
    }

    /// Opens the cache for this repository; a cache that cannot be opened
    /// (no home, a read-only disk) is a warning, not a failure.
    pub(super) async fn open_cache(
        &mut self,
        opts: Option<CacheOptions>,
    ) -> Result<Option<OpenWarning>> {
        let Some(opts) = opts else { return Ok(None) };
        let key = self.keys().local_cache_key();
        let id = self.config.id.clone();
        let where_ = opts
            .dir
            .clone()
            .or_else(crate::cache::default_cache_dir)
            .map_or_else(|| "cache".to_owned(), |d| d.display().to_string());
        match self
            .cpu
            .spawn(move || MetaCache::open(&opts, &id, key))
            .await?
        {
            Ok(c) => {
                self.cache = Some(Arc::new(c));
                Ok(None)
            }
            Err(e) => Ok(Some(OpenWarning::Cache {
                object: where_,
                reason: e.to_string(),
            })),
        }
    }

    /// Reads object `name` whole (at most `max` bytes) and decodes it with
    /// `decode`, which must authenticate it: from the cache if it holds an
    /// intact copy that `decode` accepts, else from the backend (caching
    /// the bytes once `decode` accepted them).
    pub(crate) async fn read_meta<T, F>(&self, name: &str, max: u64, decode: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&Bytes) -> Result<T> + Send + Sync + Clone + 'static,
    {
        if let Some(cache) = self.cache.clone() {
            let (n, d) = (name.to_owned(), decode.clone());
            let hit = self
                .cpu
                .spawn(move || {
                    let bytes = cache.get(&n, max)?;
                    match d(&bytes) {
                        Ok(v) => Some(v),
                        Err(_) => {
                            cache.reject(&n);
                            None
                        }
                    }
                })
                .await?;
            if let Some(v) = hit {
                return Ok(v);
            }
        }
        let bytes = get_capped(&*self.backend, name, max).await?;
        let (cache, n) = (self.cache.clone(), name.to_owned());
        self.cpu
            .spawn(move || {
                let v = decode(&bytes)?;
                if let Some(c) = cache {
                    c.put(&n, &bytes);
                }
                Ok(v)
            })
            .await?
    }

    /// The objects among `names` the cache holds intact and `decode`
    /// (which must authenticate, given the name and bytes) accepts, read in
    /// one batch on the CPU pool: a warm `snapshots` or index load then
    /// costs one hop, not one per object. Rejected files are deleted; the
    /// caller fetches what is missing from the backend.
    pub(crate) async fn cached_many<T, F>(
        &self,
        names: Vec<String>,
        max: u64,
        decode: F,
    ) -> HashMap<String, T>
    where
        T: Send + 'static,
        F: Fn(&str, &Bytes) -> Result<T> + Send + Sync + 'static,
    {
        let Some(cache) = self.cache.clone() else {
            return HashMap::new();
        };
        self.cpu
            .spawn(move || {
                names
                    .into_par_iter()
                    .filter_map(|n| {
                        let bytes = cache.get(&n, max)?;
                        match decode(&n, &bytes) {
                            Ok(v) => Some((n, v)),
                            Err(_) => {
                                cache.reject(&n);
                                None
                            }
                        }
                    })
                    .collect()
            })
            .await
            .unwrap_or_default()
    }

    /// Caches `bytes`, just written as object `name` (write-through: the
    /// next process need not download what this one wrote).
    pub(crate) async fn cache_written(&self, name: &str, bytes: &Bytes) {
        if let Some(cache) = self.cache.clone() {
            let (n, b) = (name.to_owned(), bytes.clone());
            let _ = self.cpu.spawn(move || cache.put(&n, &b)).await;
        }
    }

    /// A whole tree pack from the cache, if intact (its MAC, and its bytes
    /// hash to its id).
    pub(super) async fn cached_tree_pack(&self, pack: PackId, max: u64) -> Option<Bytes> {
        let cache = self.cache.clone()?;
        self.cpu
            .spawn(move || {
                let key = pack.key();
                let bytes = cache.get(&key, max)?;
                if PackId::of(&bytes) != pack {
                    cache.reject(&key);
                    return None;
                }
                Some(bytes)
            })
            .await
            .ok()
            .flatten()
    }

    /// Caches a tree pack fetched from the backend, if its bytes hash to
    /// its id (a damaged pack is served from memory blob by blob, as
    /// without a cache, but never kept on disk).
    pub(super) async fn cache_tree_pack(&self, pack: PackId, bytes: &Bytes) {
        if let Some(cache) = self.cache.clone() {
            let b = bytes.clone();
            let _ = self
                .cpu
                .spawn(move || {
                    if PackId::of(&b) == pack {
                        cache.put(&pack.key(), &b);
                    }
                })
                .await;
        }
    }

    /// Drops cached objects under key directory `dir` that a complete
    /// listing (`listed`, full names) no longer names.
    pub(crate) async fn cache_retain(&self, dir: &'static str, listed: HashSet<String>) {
        if let Some(cache) = self.cache.clone() {
            let _ = self
                .cpu
                .spawn(move || cache.retain(dir, &|n| listed.contains(n)))
                .await;
        }
    }

    /// Drops cached packs the index no longer names (pruned).
    pub(crate) async fn cache_retain_packs(&self) {
        let Some(cache) = self.cache.clone() else {
            return;
        };
        let packs: HashSet<PackId> = self.index().packs().iter().copied().collect();
        let _ = self
            .cpu
            .spawn(move || {
                cache.retain("data", &|n| {
                    let hex = n.rsplit('/').next().unwrap_or_default();
                    let mut id = [0u8; 32];
                    hex::decode_to_slice(hex, &mut id).is_ok() && packs.contains(&PackId(id))
                })
            })
            .await;
    }
}
