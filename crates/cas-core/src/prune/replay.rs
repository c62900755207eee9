//! Index entries are trusted only for packs a listing shows (issue 20 item
//! 8). Someone with write access to the storage but no key can keep old
//! index objects and upload them again after a prune deleted their packs:
//! they still decrypt and verify, but the packs they name are gone. A backup
//! must not deduplicate against such entries (it would acknowledge a
//! snapshot that cannot be restored), and prune drops them.
//!
//! The check is one listing of `data/` (a request per page of names), made
//! after the index objects were read: a pack is always stored before the
//! index object naming it, so a pack of an index object just read is in the
//! listing unless it no longer exists.

use std::collections::HashSet;

use futures::TryStreamExt;

use super::records::pack_of_key;
use crate::{PackId, Repository, Result};

/// The packs stored now, by one listing of `data/`.
pub async fn stored_packs(repo: &Repository) -> Result<HashSet<PackId>> {
    let mut out = HashSet::new();
    let mut stream = repo.backend().list("data/");
    while let Some(m) = stream.try_next().await? {
        if let Some(p) = pack_of_key(&m.key) {
            out.insert(p);
        }
    }
    Ok(out)
}
