//! Helpers shared by the journal tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use cairn::cas::journal::{load_journal, verify, Entry, JournalReport};
use cairn::cas::{backup, BackupOptions, InitOptions, NoProgress, Repository, SnapshotId};
use cairn_backends::{Backend, MemoryBackend};
use cairn_crypto::KdfParams;

pub const PW: &[u8] = b"pw";

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

pub fn kdf() -> KdfParams {
    KdfParams::insecure_for_tests()
}

pub async fn init(store: Arc<dyn Backend>) -> Repository {
    let opts = InitOptions::default().kdf(kdf());
    Repository::init(store, PW, opts).await.unwrap()
}

/// Backs up `dir` after writing `content` into it; returns the snapshot id.
pub async fn backup_with(repo: &Repository, dir: &Path, content: &[u8]) -> SnapshotId {
    std::fs::write(dir.join("f"), content).unwrap();
    let r = backup(
        repo,
        &[dir.to_owned()],
        &BackupOptions::default().host("h"),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    assert!(matches!(&r.journal, Some(Ok(_))), "{:?}", r.journal);
    r.snapshot_id.unwrap()
}

/// The entries by `seq`, as (id, kind).
pub async fn entries(repo: &Repository) -> Vec<(String, Entry)> {
    let j = load_journal(repo).await.unwrap();
    assert!(j.unreadable.is_empty(), "{:?}", j.unreadable);
    let mut all: Vec<(String, Entry)> = j.entries.into_iter().collect();
    all.sort_by_key(|(id, e)| (e.seq, id.clone()));
    all
}

pub fn kinds(all: &[(String, Entry)]) -> Vec<&'static str> {
    all.iter().map(|(_, e)| e.op.kind()).collect()
}

pub async fn clean(repo: &Repository) -> JournalReport {
    let r = verify(repo, &[]).await.unwrap();
    assert!(r.is_clean(), "{:#?}", r.issues);
    r
}

/// A repository with init, two backups (ids returned) and nothing else.
pub async fn three_entries(
    store: Arc<MemoryBackend>,
    dir: &Path,
) -> (Repository, SnapshotId, SnapshotId) {
    let repo = init(store).await;
    let s1 = backup_with(&repo, dir, b"one").await;
    let s2 = backup_with(&repo, dir, b"two").await;
    (repo, s1, s2)
}
