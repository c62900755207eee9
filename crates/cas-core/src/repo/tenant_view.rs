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
        let repo = Repository {
            backend,
            keys: RwLock::new(Arc::new(keys)),
            config: self.config.clone(),
            chunker: self.chunker,
            compression: self.compression,
            key_name: self.key_name.clone(),
            master: self.master.clone(),
            role: self.role,
            authority: self.authority,
            admin: self.admin.clone(),
            exchange: self.exchange.clone(),
            index: Arc::new(RwLock::new(Index::default())),
            tree_packs: Mutex::default(),
            key_warnings: Vec::new(),
            index_warnings: Mutex::default(),
            journal_memo: Mutex::default(),
            tenant: Some(Arc::new(view)),
            // Tenants read around the local cache: their objects stay out
            // of it, so shredding one leaves nothing of it on this machine.
            cache: None,
        };
        repo.reload_index().await?;
        Ok(repo)
    }
}
