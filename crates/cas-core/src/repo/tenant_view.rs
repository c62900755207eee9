//! A tenant's view of a repository: the same handle over another
//! namespace and keys (see [`crate::tenant`]).

use std::sync::{Arc, Mutex, RwLock};

use cairn_backends::Backend;
use cairn_crypto::KeySet;

use super::Repository;
use crate::index::Index;
use crate::Result;

impl Repository {
    /// The same repository seen through a tenant's namespace and keys
    /// (same config, key file, role and authority), with its index loaded.
    pub(crate) async fn tenant_view(
        &self,
        backend: Arc<dyn Backend>,
        keys: KeySet,
        view: crate::tenant::TenantView,
    ) -> Result<Repository> {
        // Tenants read around the local cache: their objects stay out of
        // it, so shredding one leaves nothing of it on this machine.
        let mut repo = self.derived(backend, Arc::new(keys), Vec::new());
        repo.tenant = Some(Arc::new(view));
        repo.reload_index().await?;
        Ok(repo)
    }

    /// A handle sharing this one's config, key file, role and authority,
    /// over `backend` with `keys`: its own (empty) index, memos, no tenant
    /// and no cache. The callers set what differs and load the index.
    pub(crate) fn derived(
        &self,
        backend: Arc<dyn Backend>,
        keys: Arc<KeySet>,
        key_warnings: Vec<crate::OpenWarning>,
    ) -> Repository {
        Repository {
            backend,
            keys: RwLock::new(keys),
            config: self.config.clone(),
            chunker: self.chunker,
            compression: self.compression,
            key_name: self.key_name.clone(),
            master: self.master.clone(),
            role: self.role,
            authority: RwLock::new(self.authority_chain()),
            admin: RwLock::new(self.admin.read().unwrap_or_else(|e| e.into_inner()).clone()),
            exchange: self.exchange.clone(),
            index: Arc::new(RwLock::new(Index::default())),
            tree_packs: Mutex::default(),
            key_warnings,
            index_warnings: Mutex::default(),
            journal_memo: Mutex::default(),
            tenant: None,
            cache: None,
            cpu: self.cpu.clone(),
        }
    }
}
