//! How `Retrying` interprets what it sees after transient failures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use cairn_backends::testing::{Counting, Flaky};
use cairn_backends::{
    Backend, Error, MemoryBackend, ObjectMeta, PutMode, Result, RetryPolicy, Retrying,
};
use futures::executor::block_on;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

/// Fails the first `n` puts and lists transiently; puts fail after applying
/// if `after_apply`.
#[derive(Debug)]
struct FailFirst {
    inner: MemoryBackend,
    puts_to_fail: AtomicU32,
    lists_to_fail: AtomicU32,
    after_apply: bool,
}

impl FailFirst {
    fn new(n: u32, after_apply: bool) -> Self {
        Self {
            inner: MemoryBackend::new(),
            puts_to_fail: AtomicU32::new(n),
            lists_to_fail: AtomicU32::new(n),
            after_apply,
        }
    }
}

fn take(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

fn transient(key: &str) -> Error {
    Error::Backend {
        key: key.to_owned(),
        message: "test: transient".into(),
        transient: true,
    }
}

#[async_trait]
impl Backend for FailFirst {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        if !take(&self.puts_to_fail) {
            return self.inner.put(key, data, mode).await;
        }
        if self.after_apply {
            self.inner.put(key, data, mode).await?;
        }
        Err(transient(key))
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.inner.get_range(key, range).await
    }
    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.inner.stat(key).await
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        match take(&self.lists_to_fail) {
            true => stream::once(async move { Err(transient(prefix)) }).boxed(),
            false => self.inner.list(prefix),
        }
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
}

fn policy(attempts: u32) -> RetryPolicy {
    RetryPolicy::new()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_micros(50))
        .with_max_backoff(Duration::from_micros(200))
}

const OURS: Bytes = Bytes::from_static(b"ours");

#[test]
fn create_only_whose_ack_was_lost_succeeds() {
    block_on(async {
        let store = Retrying::new(FailFirst::new(1, true), policy(3));
        store.put("k", OURS, PutMode::CreateOnly).await.unwrap();
        assert_eq!(store.get("k").await.unwrap(), OURS);
    });
}

#[test]
fn create_only_finding_other_bytes_after_a_failure_is_already_exists() {
    block_on(async {
        let store = Retrying::new(FailFirst::new(1, false), policy(3));
        store
            .inner()
            .inner
            .put("k", Bytes::from_static(b"theirs"), PutMode::CreateOnly)
            .await
            .unwrap();
        let e = store.put("k", OURS, PutMode::CreateOnly).await.unwrap_err();
        assert!(e.is_already_exists(), "{e}");
        assert_eq!(store.get("k").await.unwrap(), Bytes::from_static(b"theirs"));
    });
}

#[test]
fn create_only_without_a_failure_reports_already_exists_even_for_equal_bytes() {
    block_on(async {
        let store = Retrying::new(FailFirst::new(0, false), policy(3));
        store.put("k", OURS, PutMode::CreateOnly).await.unwrap();
        let e = store.put("k", OURS, PutMode::CreateOnly).await.unwrap_err();
        assert!(e.is_already_exists(), "{e}");
    });
}

#[test]
fn gives_up_after_max_attempts_with_the_last_error() {
    block_on(async {
        let store = Retrying::new(Flaky::new(MemoryBackend::new(), 1.0, 1), policy(4));
        let e = store.get("k").await.unwrap_err();
        assert!(e.is_transient(), "{e}");
        assert_eq!(store.inner().injected(), 4);
        let store = Retrying::new(FailFirst::new(5, false), policy(5));
        assert!(store
            .put("k", OURS, PutMode::Overwrite)
            .await
            .unwrap_err()
            .is_transient());
        store.put("k", OURS, PutMode::Overwrite).await.unwrap();
    });
}

#[test]
fn permanent_errors_are_not_retried() {
    block_on(async {
        let store = Retrying::new(Counting::new(MemoryBackend::new()), policy(5));
        assert!(store.get("missing").await.unwrap_err().is_not_found());
        assert!(store.delete("missing").await.unwrap_err().is_not_found());
        assert!(store.get("a//b").await.is_err());
        let counts = store.inner().snapshot();
        assert_eq!((counts.gets, counts.deletes), (2, 1));
    });
}

#[test]
fn listing_restarts_after_a_failure_before_the_first_entry() {
    block_on(async {
        let store = Retrying::new(FailFirst::new(2, false), policy(3));
        for key in ["a", "b", "c"] {
            store
                .inner()
                .inner
                .put(key, OURS, PutMode::CreateOnly)
                .await
                .unwrap();
        }
        let mut keys: Vec<String> = store
            .list("")
            .map_ok(|m| m.key)
            .try_collect()
            .await
            .unwrap();
        keys.sort();
        assert_eq!(keys, ["a", "b", "c"]);
        // Out of attempts: the error comes through.
        let store = Retrying::new(FailFirst::new(2, false), policy(2));
        let listed: Result<Vec<_>> = store.list("").try_collect().await;
        assert!(listed.unwrap_err().is_transient());
    });
}

/// An error after entries were yielded is passed on, not retried (a restart
/// would repeat the entries).
#[test]
fn listing_errors_after_entries_are_passed_on() {
    #[derive(Debug)]
    struct FailsMidway(MemoryBackend);
    #[async_trait]
    impl Backend for FailsMidway {
        async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
            self.0.put(key, data, mode).await
        }
        async fn get(&self, key: &str) -> Result<Bytes> {
            self.0.get(key).await
        }
        async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
            self.0.get_range(key, range).await
        }
        async fn stat(&self, key: &str) -> Result<ObjectMeta> {
            self.0.stat(key).await
        }
        fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
            self.0
                .list(prefix)
                .chain(stream::once(async move { Err(transient(prefix)) }))
                .boxed()
        }
        async fn delete(&self, key: &str) -> Result<()> {
            self.0.delete(key).await
        }
    }
    block_on(async {
        let store = Retrying::new(FailsMidway(MemoryBackend::new()), policy(5));
        store.put("a", OURS, PutMode::CreateOnly).await.unwrap();
        let entries: Vec<Result<ObjectMeta>> = store.list("").collect().await;
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].as_ref().unwrap().key, "a");
        assert!(entries[1].as_ref().unwrap_err().is_transient());
    });
}

/// Fails the first put transiently (not applied), answers the next
/// `phantoms` with a false `AlreadyExists` (nothing stored: a stale existence
/// check, another writer's object deleted since), and stores after that.
#[derive(Debug, Default)]
struct PhantomExists {
    inner: MemoryBackend,
    puts: AtomicU32,
    phantoms: u32,
}

#[async_trait]
impl Backend for PhantomExists {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> Result<()> {
        match self.puts.fetch_add(1, Ordering::SeqCst) {
            0 => Err(transient(key)),
            n if n <= self.phantoms => Err(Error::AlreadyExists { key: key.into() }),
            _ => self.inner.put(key, data, mode).await,
        }
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.inner.get_range(key, range).await
    }
    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.inner.stat(key).await
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
}

/// Issue 9: a read-back that finds nothing after a doubtful `AlreadyExists`
/// is "not stored", never "stored" — the put is tried again.
#[test]
fn create_only_whose_read_back_finds_nothing_is_put_again() {
    block_on(async {
        let phantom = PhantomExists {
            phantoms: 1,
            ..PhantomExists::default()
        };
        let store = Retrying::new(phantom, policy(4));
        store.put("k", OURS, PutMode::CreateOnly).await.unwrap();
        assert_eq!(store.get("k").await.unwrap(), OURS);
        assert_eq!(store.inner().puts.load(Ordering::SeqCst), 3);
    });
}

/// With no attempts left to put again, the answer is a transient error —
/// never `AlreadyExists`, which callers take as "stored".
#[test]
fn create_only_read_back_finding_nothing_without_budget_is_not_already_exists() {
    block_on(async {
        let phantom = PhantomExists {
            phantoms: 10,
            ..PhantomExists::default()
        };
        let store = Retrying::new(phantom, policy(2));
        let e = store.put("k", OURS, PutMode::CreateOnly).await.unwrap_err();
        assert!(!e.is_already_exists() && e.is_transient(), "{e}");
        assert!(store.get("k").await.unwrap_err().is_not_found());
    });
}
