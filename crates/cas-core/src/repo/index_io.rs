//! Loading and writing index objects.

use std::sync::Arc;

use bytes::Bytes;
use cairn_crypto::KeySet;
use futures::StreamExt;

use super::{put_idempotent, Repository, INDEX_SPLIT_SIZE, LOAD_CONCURRENCY};
use crate::index::{decode_index, encode_index, index_key, Index};
use crate::open::{get_capped, list_tolerant, OpenWarning, MAX_INDEX_SIZE};
use crate::pack::{PackEntry, PackId, ENTRY_LEN};
use crate::{Error, Result};

/// Index objects read: each name with the packs (and entries) it lists.
type Loaded = Vec<(String, Vec<(PackId, Vec<PackEntry>)>)>;

/// A tolerant listing: the keys heard, and why it may be incomplete.
type Listing = (
    Vec<cairn_backends::ObjectMeta>,
    Option<cairn_backends::Error>,
);

impl Repository {
    /// Reads every index object again (e.g. after another process's backup).
    ///
    /// An index object that is missing, unreadable, too large, fails
    /// authentication or does not decode is skipped and named in
    /// [`open_warnings`](Self::open_warnings); a transient backend failure
    /// (an outage, worth retrying) fails the load.
    pub async fn reload_index(&self) -> Result<()> {
        // A prune may consolidate the index while it is read; it writes the
        // new object before deleting the old ones, so a fresh listing after
        // a vanished object finds everything again.
        let listing = list_tolerant(&*self.backend, "index/").await?;
        self.reload_index_from(listing).await
    }

    /// [`reload_index`](Self::reload_index) starting from a listing of
    /// `index/` already made (`open` makes it side by side with reading
    /// the key file). Listings after the first are made here.
    pub(super) async fn reload_index_from(&self, listing: Listing) -> Result<()> {
        let mut listing = Some(listing);
        for _ in 0..8 {
            let l = match listing.take() {
                Some(l) => l,
                None => list_tolerant(&*self.backend, "index/").await?,
            };
            if self.load_index_once(l, false).await? {
                return Ok(());
            }
        }
        // Still churning: load what is there, naming what vanished.
        let l = list_tolerant(&*self.backend, "index/").await?;
        self.load_index_once(l, true).await.map(drop)
    }

    /// Loads the index once from `listing`; `false` if an index object
    /// vanished between the listing and its read (worth listing again).
    async fn load_index_once(&self, listing: Listing, last: bool) -> Result<bool> {
        let mut vanished = false;
        let (heard, incomplete) = listing;
        let names: Vec<String> = heard.into_iter().map(|m| m.key).collect();
        if incomplete.is_none() {
            // Index objects a prune consolidated away leave the cache.
            self.cache_retain("index", names.iter().cloned().collect())
                .await;
        }
        let keys = self.keys();
        let mut loaded: Loaded = Vec::new();
        let mut warnings = Vec::new();
        if let Some(e) = incomplete {
            warnings.push(OpenWarning::Listing {
                object: "index/".into(),
                reason: e.to_string(),
            });
        }
        let k = keys.clone();
        let cached = self
            .cached_many(names.clone(), MAX_INDEX_SIZE, move |name, bytes| {
                decode_index(&k, name, bytes)
            })
            .await;
        let missing: Vec<String> = names
            .into_iter()
            .filter(|n| !cached.contains_key(n))
            .collect();
        loaded.extend(cached);
        let mut stream = futures::stream::iter(missing)
            .map(|name| {
                let keys = keys.clone();
                async move {
                    let r = self.read_index_cached(keys, &name).await;
                    (name, r)
                }
            })
            .buffer_unordered(LOAD_CONCURRENCY);
        while let Some((name, r)) = stream.next().await {
            match r {
                Ok(packs) => loaded.push((name, packs)),
                Err(e) if e.is_backend_failure() => return Err(e),
                Err(e) => {
                    if matches!(&e, Error::Backend(b) if b.is_not_found()) {
                        vanished = true;
                    }
                    warnings.push(OpenWarning::Index {
                        object: name,
                        reason: e.to_string(),
                    });
                }
            }
        }
        if vanished && !last {
            return Ok(false);
        }
        let packs = loaded.iter().flat_map(|(_, p)| p);
        let mut index = Index::with_capacity(packs.map(|(_, e)| e.len()).sum());
        for (pack, entries) in loaded.iter().flat_map(|(_, p)| p) {
            index.add_pack(*pack, entries);
        }
        index.compact();
        self.prefer_present(&mut index, &loaded, &mut warnings)
            .await?;
        warnings.sort_by(|a, b| a.object().cmp(b.object()));
        *self.index_mut() = index;
        let whole = warnings.is_empty();
        *self
            .index_warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = warnings;
        if whole {
            // Packs a prune deleted leave the cache (only with the whole
            // index loaded: a skipped object's packs are still there).
            self.cache_retain_packs().await;
        }
        Ok(true)
    }

    /// Blobs indexed in several packs are looked up in one that exists
    /// (issue 20 item 8: an index object replayed after a prune moved them
    /// names a pack that is gone). Costs nothing without such blobs; with
    /// them, a lookup of each pack concerned or one listing of `data/`.
    /// Index objects naming packs found gone are named in warnings.
    async fn prefer_present(
        &self,
        index: &mut Index,
        loaded: &Loaded,
        warnings: &mut Vec<OpenWarning>,
    ) -> Result<()> {
        let contested = index.contested_packs();
        if contested.is_empty() {
            return Ok(());
        }
        let (present, gone) = crate::index::present_packs(&*self.backend, &contested).await?;
        index.prefer_present(&gone, &present);
        for (object, packs) in loaded {
            let missing: Vec<String> = packs
                .iter()
                .filter(|(p, _)| gone.contains(p))
                .map(|(p, _)| p.key())
                .collect();
            if let Some(first) = missing.first() {
                warnings.push(OpenWarning::StaleIndex {
                    object: object.clone(),
                    reason: format!("{} of its packs are not stored ({first}, …)", missing.len()),
                });
            }
        }
        Ok(())
    }

    /// Reads and decodes one index object through the local cache.
    async fn read_index_cached(
        &self,
        keys: Arc<KeySet>,
        name: &str,
    ) -> Result<Vec<(PackId, Vec<PackEntry>)>> {
        let n = name.to_owned();
        self.read_meta(name, MAX_INDEX_SIZE, move |bytes| {
            decode_index(&keys, &n, bytes)
        })
        .await
    }

    /// Reads and decodes one index object (size-capped, authenticated),
    /// always from the backend: `repair index` judges the stored copy.
    #[doc(hidden)]
    pub async fn read_index_object(
        &self,
        keys: Arc<KeySet>,
        name: &str,
    ) -> Result<Vec<(PackId, Vec<PackEntry>)>> {
        let bytes = get_capped(&*self.backend, name, MAX_INDEX_SIZE).await?;
        let name = name.to_owned();
        self.cpu
            .spawn(move || decode_index(&keys, &name, &bytes))
            .await?
    }

    /// Writes index objects for `packs` (which must already be stored);
    /// returns their names. Packs are spread over as many objects as needed
    /// to keep each well under the size readers accept.
    pub async fn write_index(&self, packs: &[(PackId, Vec<PackEntry>)]) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut start = 0;
        while start < packs.len() {
            let mut end = start;
            let mut size = 0u64;
            while end < packs.len() {
                let more = 36 + (packs[end].1.len() * ENTRY_LEN) as u64;
                if end > start && size + more > INDEX_SPLIT_SIZE {
                    break;
                }
                size += more;
                end += 1;
            }
            let bytes = encode_index(&self.keys(), &packs[start..end])?;
            let name = index_key(&bytes);
            let bytes = Bytes::from(bytes);
            put_idempotent(&*self.backend, &name, bytes.clone()).await?;
            self.cache_written(&name, &bytes).await;
            names.push(name);
            start = end;
        }
        Ok(names)
    }
}
