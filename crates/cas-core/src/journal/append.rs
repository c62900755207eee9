//! Reading the journal and appending entries to it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::{entry_key, Entry, Operation, Who, ENTRY_MAGIC, JOURNAL_PREFIX, MAX_ENTRY_SIZE};
use crate::open::get_capped;
use crate::repo::put_idempotent;
use crate::snapshot::seal_doc;
use crate::{Error, Repository, Result};

/// Entries fetched at once.
const READ_CONCURRENCY: usize = 16;

/// Every journal entry stored, as read (see [`load_journal`]).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct LoadedJournal {
    /// Entries that are intact (named by their hash, authentic), by id.
    pub entries: BTreeMap<String, Entry>,
    /// Entries listed but not usable, by id, with why (altered, forged,
    /// malformed, or a name that is no entry id).
    pub unreadable: BTreeMap<String, Error>,
}

impl LoadedJournal {
    /// Ids of every entry listed, readable or not.
    pub fn ids(&self) -> impl Iterator<Item = &String> {
        self.entries.keys().chain(self.unreadable.keys())
    }

    /// The heads: entries (readable or not) that no readable entry names as
    /// a parent, sorted. An unreadable entry's parents are unknown, so the
    /// entries it names stay heads too: a writer then names them again.
    pub fn heads(&self) -> Vec<String> {
        let named: BTreeSet<&String> = self.entries.values().flat_map(|e| &e.parents).collect();
        let mut heads: Vec<String> = self
            .ids()
            .filter(|id| !named.contains(id))
            .cloned()
            .collect();
        heads.sort();
        heads
    }

    /// The `seq` of an entry whose parents are `parents`.
    #[doc(hidden)]
    pub fn seq_after(&self, parents: &[String]) -> u64 {
        parents
            .iter()
            .filter_map(|p| self.entries.get(p))
            .map(|e| e.seq.saturating_add(1))
            .max()
            .unwrap_or(if parents.is_empty() { 0 } else { 1 })
    }
}

/// Lists `journal/` (a listing that cannot be shown complete fails) and
/// reads every entry. A damaged entry is collected in
/// [`LoadedJournal::unreadable`]; a storage failure fails the load.
///
/// Every entry is read from storage (verification must see what storage
/// holds now); what is read refreshes the handle's memo for writers.
pub async fn load_journal(repo: &Repository) -> Result<LoadedJournal> {
    load(repo, false).await
}

/// [`load_journal`] for a writer, which needs only the heads and their
/// `seq`: entries this handle verified before are taken from its memo, not
/// read again. An entry is immutable and named by the hash of its bytes, so
/// the copy is what was stored under that name; should storage have been
/// altered since, the writer names the entry as it was, and verification
/// (which reads everything) reports the alteration. A long-lived handle (a
/// service running scheduled backups) thus reads only the entries written
/// since its last operation; entries no longer listed leave the memo.
pub(crate) async fn load_for_append(repo: &Repository) -> Result<LoadedJournal> {
    load(repo, true).await
}

async fn load(repo: &Repository, use_memo: bool) -> Result<LoadedJournal> {
    let names: Vec<String> = repo
        .backend()
        .list(JOURNAL_PREFIX)
        .map_ok(|m| m.key)
        .try_collect()
        .await?;
    let mut out = LoadedJournal::default();
    let mut to_read = Vec::new();
    {
        let mut memo = lock(repo);
        let listed: BTreeSet<&str> = names
            .iter()
            .map(|k| k.trim_start_matches(JOURNAL_PREFIX))
            .collect();
        memo.retain(|id, _| listed.contains(id.as_str()));
        for key in &names {
            let id = key.trim_start_matches(JOURNAL_PREFIX);
            match memo.get(id).filter(|_| use_memo) {
                Some(e) => {
                    out.entries.insert(id.to_owned(), e.clone());
                }
                None => to_read.push(key.clone()),
            }
        }
    }
    if use_memo {
        // A writer takes entries from the local metadata cache too (each
        // authenticated again: MAC, name = hash, AEAD), so a one-shot
        // process does not fetch the whole journal before every backup.
        // Verification (`use_memo` false) reads storage, as it must.
        let keys = repo.keys();
        let cached = repo
            .cached_many(to_read.clone(), MAX_ENTRY_SIZE, move |key, bytes| {
                entry_from_bytes(&keys, key, bytes)
            })
            .await;
        to_read.retain(|key| !cached.contains_key(key));
        let mut memo = lock(repo);
        for (key, e) in cached {
            let id = key.trim_start_matches(JOURNAL_PREFIX).to_owned();
            memo.insert(id.clone(), e.clone());
            out.entries.insert(id, e);
        }
    }
    let read: Vec<(String, Result<Entry>)> = futures::stream::iter(to_read)
        .map(|key| async move {
            let r = read_entry(repo, &key).await;
            (key, r)
        })
        .buffer_unordered(READ_CONCURRENCY)
        .collect()
        .await;
    for (key, r) in read {
        let id = key.trim_start_matches(JOURNAL_PREFIX).to_owned();
        match r {
            Ok(e) => {
                lock(repo).insert(id.clone(), e.clone());
                out.entries.insert(id, e);
            }
            // Deleted between the listing and the read: as if not listed.
            Err(Error::Backend(e)) if e.is_not_found() => {}
            Err(e) if e.is_backend_failure() => return Err(e),
            Err(e) => {
                out.unreadable.insert(id, e);
            }
        }
    }
    // The listing was complete: cached entries it no longer names (a
    // checkpoint's cut) leave the cache.
    repo.cache_retain("journal", names.into_iter().collect())
        .await;
    Ok(out)
}

fn lock(repo: &Repository) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Entry>> {
    repo.journal_memo.lock().unwrap_or_else(|e| e.into_inner())
}

async fn read_entry(repo: &Repository, key: &str) -> Result<Entry> {
    let id = key.trim_start_matches(JOURNAL_PREFIX);
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::corrupt(
            key,
            "not a journal entry name (64 hex digits)",
        ));
    }
    let bytes = get_capped(&**repo.backend(), key, MAX_ENTRY_SIZE).await?;
    let entry = entry_from_bytes(&repo.keys(), key, &bytes)?;
    repo.cache_written(key, &bytes).await;
    Ok(entry)
}

/// Entry `key` from its stored bytes: they must hash to its name, then
/// authenticate and decode.
fn entry_from_bytes(keys: &cairn_crypto::KeySet, key: &str, bytes: &[u8]) -> Result<Entry> {
    let id = key.trim_start_matches(JOURNAL_PREFIX);
    if blake3::hash(bytes).to_hex().as_str() != id {
        return Err(Error::corrupt(key, "contents do not hash to the name"));
    }
    super::decode_entry(keys, key, bytes)
}

/// The current heads of the journal (see [`LoadedJournal::heads`]).
pub async fn journal_heads(repo: &Repository) -> Result<Vec<String>> {
    Ok(load_journal(repo).await?.heads())
}

/// Where a new entry goes: the heads seen and its `seq`.
#[derive(Debug, Clone)]
#[doc(hidden)]
pub struct Seen {
    pub parents: Vec<String>,
    seq: u64,
}

impl Seen {
    /// An entry after `parents` of `journal`.
    #[doc(hidden)]
    pub fn after(journal: &LoadedJournal, parents: Vec<String>) -> Seen {
        let seq = journal.seq_after(&parents);
        Seen { parents, seq }
    }

    #[doc(hidden)]
    pub async fn now(repo: &Repository) -> Result<Seen> {
        let j = load_for_append(repo).await?;
        let parents = j.heads();
        Ok(Seen::after(&j, parents))
    }
}

/// Appends an entry recording `op` (with the objects it `added` and
/// `removed`, counted by kind) after the current heads; returns its id.
///
/// This is the one call each operation makes; see the module docs for
/// whether it comes before or after the operation's own writes.
pub async fn record(
    repo: &Repository,
    op: Operation,
    added: BTreeMap<String, u64>,
    removed: BTreeMap<String, u64>,
) -> Result<String> {
    let seen = Seen::now(repo).await?;
    write(repo, &seen, op, added, removed).await
}

/// Records a backup of `snapshot` after the heads `seen` before its record
/// was written (the same heads the record names).
pub async fn record_backup(
    repo: &Repository,
    seen: Result<Seen>,
    snapshot: &str,
    added: BTreeMap<String, u64>,
) -> Result<String> {
    let seen = match seen {
        Ok(s) => s,
        // The heads could not be read before the record: try again now.
        Err(_) => Seen::now(repo).await?,
    };
    let op = Operation::Backup {
        snapshot: snapshot.to_owned(),
    };
    write(repo, &seen, op, added, BTreeMap::new()).await
}

#[doc(hidden)]
pub async fn write(
    repo: &Repository,
    seen: &Seen,
    op: Operation,
    added: BTreeMap<String, u64>,
    removed: BTreeMap<String, u64>,
) -> Result<String> {
    let entry = Entry {
        repo: repo.config().id.clone(),
        parents: seen.parents.clone(),
        seq: seen.seq,
        who: Who {
            key: repo.key_name().to_owned(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
        },
        time: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        op,
        added,
        removed,
    };
    let bytes = seal_doc(&repo.keys().journal_key(), ENTRY_MAGIC, &entry)?;
    let id = blake3::hash(&bytes).to_hex().to_string();
    let (key, bytes) = (entry_key(&id), Bytes::from(bytes));
    put_idempotent(&**repo.backend(), &key, bytes.clone()).await?;
    repo.cache_written(&key, &bytes).await;
    lock(repo).insert(id.clone(), entry);
    Ok(id)
}

/// `record`, with a failure turned into [`Error::JournalWrite`] for an
/// operation whose effect already stands.
#[doc(hidden)]
pub async fn record_after(
    repo: &Repository,
    op: Operation,
    added: BTreeMap<String, u64>,
    removed: BTreeMap<String, u64>,
) -> Result<String> {
    let kind = op.kind();
    record(repo, op, added, removed)
        .await
        .map_err(|e| Error::JournalWrite {
            operation: kind.to_owned(),
            source: Box::new(e),
        })
}

/// Records that `snapshot` was restored (`files` files, `bytes` bytes
/// written), after the current heads. A restore's effect is outside the
/// repository, so a failure is [`Error::JournalWrite`]: the restore stands.
pub async fn record_restore(
    repo: &Repository,
    snapshot: &str,
    files: u64,
    bytes: u64,
) -> Result<String> {
    let op = Operation::Restore {
        snapshot: snapshot.to_owned(),
        files,
        bytes,
    };
    record_after(repo, op, BTreeMap::new(), BTreeMap::new()).await
}
