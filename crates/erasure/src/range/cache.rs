//! The block tables of recently read objects.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::format::BlockTable;

/// Block tables kept for the objects read last: a restore reads several
/// ranges of each pack, and the table is the same for all of them.
const CACHED_TABLES: usize = 64;

/// The block tables of recently read objects (at most [`CACHED_TABLES`],
/// about 12 KiB each for 16 MiB packs under 4+2). A stale entry (the object
/// was overwritten by another process) costs only speed: its blocks fail
/// verification, the read falls back to the whole-object path and the
/// entry is dropped.
#[derive(Debug, Default)]
pub(crate) struct TableCache(Mutex<VecDeque<(String, Arc<BlockTable>)>>);

impl TableCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(String, Arc<BlockTable>)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn get(&self, key: &str) -> Option<Arc<BlockTable>> {
        let q = self.lock();
        q.iter().find(|(k, _)| k == key).map(|(_, t)| Arc::clone(t))
    }

    pub(super) fn insert(&self, key: &str, table: Arc<BlockTable>) {
        let mut q = self.lock();
        q.retain(|(k, _)| k != key);
        if q.len() >= CACHED_TABLES {
            q.pop_front();
        }
        q.push_back((key.to_owned(), table));
    }

    /// Forgets `key` (written, deleted, or found stale).
    pub(crate) fn forget(&self, key: &str) {
        self.lock().retain(|(k, _)| k != key);
    }
}
