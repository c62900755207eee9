//! The journal through the local metadata cache: a writer (every backup
//! records an entry after the heads it read) takes the entries it needs
//! from the cache, authenticated again, instead of fetching the whole
//! journal in every new process; verification still reads storage.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use cairn::cas::journal::load_journal;
use cairn::cas::{
    backup, BackupOptions, CacheOptions, InitOptions, NoProgress, OpenOptions, Repository,
};
use cairn_backends::{Backend, MemoryBackend, ObjectMeta, PutMode, Result};
use cairn_crypto::KdfParams;
use futures::executor::block_on;
use futures::stream::BoxStream;

/// A memory store that counts reads of `journal/` objects.
#[derive(Debug, Default)]
struct JournalReads {
    mem: MemoryBackend,
    reads: AtomicU64,
}

impl JournalReads {
    fn count(&self, key: &str) {
        if key.starts_with("journal/") {
            self.reads.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl Backend for JournalReads {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        self.mem.put(key, data, mode).await
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        self.count(key);
        self.mem.get(key).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.count(key);
        self.mem.get_range(key, range).await
    }
    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.mem.stat(key).await
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        self.mem.list(prefix)
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.mem.delete(key).await
    }
}

async fn open(store: &Arc<JournalReads>, cache: Option<&Path>) -> Repository {
    let opts = match cache {
        Some(dir) => OpenOptions::default().cache(CacheOptions::default().dir(dir)),
        None => OpenOptions::default(),
    };
    Repository::open_with(store.clone(), b"pw", opts)
        .await
        .unwrap()
}

async fn back_up(repo: &Repository, src: &Path, round: usize) {
    std::fs::write(src.join("f"), format!("round {round}")).unwrap();
    backup(
        repo,
        &[src.to_owned()],
        &BackupOptions::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
}

#[test]
fn a_new_process_backs_up_without_fetching_the_journal_again() {
    block_on(async {
        let store = Arc::new(JournalReads::default());
        let init = InitOptions::default().kdf(KdfParams::insecure_for_tests());
        let repo = Repository::init(store.clone(), b"pw", init).await.unwrap();
        let src = tempfile::tempdir().unwrap();
        for round in 0..5 {
            back_up(&repo, src.path(), round).await;
        }
        drop(repo);
        let cache = tempfile::tempdir().unwrap();

        // Without a cache, each new handle reads every entry before its
        // backup records one.
        let before = store.reads();
        back_up(&open(&store, None).await, src.path(), 5).await;
        let uncached = store.reads() - before;
        assert!(uncached >= 6, "{uncached} journal reads");

        // A first cached handle fills the cache; the next ones read none.
        back_up(&open(&store, Some(cache.path())).await, src.path(), 6).await;
        let before = store.reads();
        back_up(&open(&store, Some(cache.path())).await, src.path(), 7).await;
        assert_eq!(store.reads() - before, 0, "journal reads with a warm cache");

        // A tampered cached entry is refused and fetched again, and the
        // journal still verifies from storage.
        let dir = cache.path().to_owned();
        let entry = walk(&dir)
            .into_iter()
            .find(|p| p.parent().is_some_and(|d| d.ends_with("journal")))
            .expect("a cached journal entry");
        let mut bytes = std::fs::read(&entry).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&entry, bytes).unwrap();
        let before = store.reads();
        let repo = open(&store, Some(cache.path())).await;
        back_up(&repo, src.path(), 8).await;
        assert_eq!(
            store.reads() - before,
            1,
            "the tampered entry, fetched again"
        );
        let j = load_journal(&repo).await.unwrap();
        assert!(j.unreadable.is_empty(), "{:?}", j.unreadable);
        assert_eq!(j.entries.len(), 1 + 9, "init and nine backups");
    })
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
