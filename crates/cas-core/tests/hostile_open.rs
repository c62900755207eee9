//! Hostile objects at open: key files planted in `keys/` (malformed, too
//! costly, of another repository), objects too large to read, and stream
//! names a tree could not hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use cairn::cas::{
    backup_stream, BackupOptions, Error, InitOptions, NoProgress, OpenOptions, OpenWarning,
    Repository,
};
use cairn_backends::{Backend, MemoryBackend, ObjectMeta, PutMode};
use cairn_crypto::KdfParams;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

const PW: &[u8] = b"pw";

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

async fn init(store: Arc<dyn Backend>) -> Repository {
    let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
    Repository::init(store, PW, opts).await.unwrap()
}

/// A key file from another repository (same password) planted in `keys/`
/// sorts first: its master key does not authenticate the config.
#[test]
fn a_key_file_of_another_repository_is_skipped_and_the_next_one_tried() {
    block_on(async {
        let store = Arc::new(MemoryBackend::new());
        init(store.clone()).await;
        let ours = index_or_keys(&*store, "keys/").await.remove(0);
        // Key files are named by their hash (any other name is refused
        // before the password is tried): make another repository until
        // its key file sorts first, so it is tried first.
        let (other, theirs) = loop {
            let other = Arc::new(MemoryBackend::new());
            init(other.clone()).await;
            let theirs = index_or_keys(&*other, "keys/").await.remove(0);
            if theirs < ours {
                break (other, theirs);
            }
        };
        let planted = theirs.clone();
        store
            .put(
                &planted,
                other.get(&theirs).await.unwrap(),
                PutMode::CreateOnly,
            )
            .await
            .unwrap();
        let repo = Repository::open(store, PW).await.unwrap();
        let w = repo.open_warnings();
        assert!(
            matches!(&w[..], [OpenWarning::KeyFile { object, reason }]
                if *object == planted && reason.contains("config")),
            "{w:?}"
        );
    })
}

async fn index_or_keys(store: &dyn Backend, prefix: &str) -> Vec<String> {
    store
        .list(prefix)
        .map_ok(|m| m.key)
        .try_collect()
        .await
        .unwrap()
}

#[test]
fn key_files_above_the_kdf_ceiling_are_not_run() {
    block_on(async {
        let store = Arc::new(MemoryBackend::new());
        init(store.clone()).await;
        // The real key file costs 8 KiB × 1 pass; a ceiling below it skips it.
        let opts = OpenOptions::default().max_kdf_memory_kib(4);
        let err = Repository::open_with(store.clone(), PW, opts)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::NoUsableKeyFile { skipped } if skipped[0].contains("ceiling")),
            "{err:?}"
        );
        let opts = OpenOptions::default().kdf_ceiling(KdfParams::insecure_for_tests());
        Repository::open_with(store.clone(), PW, opts)
            .await
            .unwrap();
        // A 0-byte leftover next to it is skipped, not fatal.
        store
            .put("keys/00", Bytes::new(), PutMode::CreateOnly)
            .await
            .unwrap();
        let repo = Repository::open(store, PW).await.unwrap();
        assert_eq!(repo.open_warnings()[0].object(), "keys/00");
    })
}

/// A backend whose `name` object claims to be `size` bytes of zeros: a
/// whole read would allocate all of it; a ranged read gets what it asks.
#[derive(Debug)]
struct Huge {
    inner: MemoryBackend,
    name: &'static str,
    size: u64,
}

#[async_trait]
impl Backend for Huge {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> cairn_backends::Result<()> {
        self.inner.put(key, data, mode).await
    }
    async fn get(&self, key: &str) -> cairn_backends::Result<Bytes> {
        assert_ne!(key, self.name, "whole read of a {} byte object", self.size);
        self.inner.get(key).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> cairn_backends::Result<Bytes> {
        if key == self.name {
            let end = range.end.min(self.size);
            return Ok(Bytes::from(vec![0u8; (end - range.start) as usize]));
        }
        self.inner.get_range(key, range).await
    }
    async fn stat(&self, key: &str) -> cairn_backends::Result<ObjectMeta> {
        if key == self.name {
            return Ok(ObjectMeta::new(key, self.size));
        }
        self.inner.stat(key).await
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, cairn_backends::Result<ObjectMeta>> {
        let extra = (self.name.starts_with(prefix) && !prefix.is_empty())
            .then(|| Ok(ObjectMeta::new(self.name, self.size)));
        Box::pin(futures::stream::iter(extra).chain(self.inner.list(prefix)))
    }
    async fn delete(&self, key: &str) -> cairn_backends::Result<()> {
        self.inner.delete(key).await
    }
}

#[test]
fn a_10_gib_config_or_index_object_is_refused_before_reading_it() {
    block_on(async {
        let inner = MemoryBackend::new();
        init(Arc::new(inner.clone())).await;
        let config = inner.get("config").await.unwrap();
        inner.delete("config").await.unwrap();
        let huge = Arc::new(Huge {
            inner: inner.clone(),
            name: "config",
            size: 10 << 30,
        });
        let err = Repository::open(huge, PW).await.unwrap_err();
        assert!(
            matches!(&err, Error::TooLarge { object, .. } if object == "config"),
            "{err:?}"
        );

        inner
            .put("config", config, PutMode::CreateOnly)
            .await
            .unwrap();
        let name = "index/ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
        let huge = Arc::new(Huge {
            inner,
            name,
            size: 10 << 30,
        });
        let repo = Repository::open(huge, PW).await.unwrap();
        assert_eq!(repo.damaged_index_objects(), vec![name.to_owned()]);
    })
}

#[test]
fn stream_names_a_tree_cannot_hold_are_refused() {
    block_on(async {
        let repo = init(Arc::new(MemoryBackend::new())).await;
        let long = "x".repeat(70_000);
        for name in ["a\0b", long.as_str()] {
            let err = backup_stream(
                &repo,
                &b"data"[..],
                name,
                &BackupOptions::default(),
                Arc::new(NoProgress),
            )
            .await
            .unwrap_err();
            assert!(matches!(err, Error::InvalidOption { .. }), "{err:?}");
        }
        assert!(repo.snapshot_ids().await.unwrap().is_empty());
    })
}
