//! The conformance suite against the in-crate backends, under tokio and
//! under `futures::executor::block_on`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use cairn_backends::testing::{run_conformance, Capabilities};
use cairn_backends::{Backend, LocalBackend, MemoryBackend, PutMode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_under_tokio() {
    run_conformance(&MemoryBackend::new(), &Capabilities::default()).await;
}

#[test]
fn memory_under_block_on() {
    let caps = Capabilities::default().with_list_count(2_000);
    futures::executor::block_on(run_conformance(&MemoryBackend::new(), &caps));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_under_tokio() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBackend::new(dir.path().join("store")).unwrap();
    run_conformance(&store, &Capabilities::default().with_concurrency(64)).await;
}

#[test]
fn local_under_block_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBackend::new(dir.path()).unwrap();
    let caps = Capabilities::default()
        .with_list_count(1_000)
        .with_prefix("nested/suite");
    futures::executor::block_on(run_conformance(&store, &caps));
}

/// The suite touches nothing outside its prefix, and runs through `Arc<dyn
/// Backend>`.
#[test]
fn suite_stays_inside_its_prefix() {
    let memory = MemoryBackend::new();
    let shared: std::sync::Arc<dyn Backend> = std::sync::Arc::new(memory.clone());
    futures::executor::block_on(async {
        for key in ["conformance", "conformancex/a", "other/conformance/a"] {
            memory
                .put(key, Bytes::from_static(b"keep"), PutMode::CreateOnly)
                .await
                .unwrap();
        }
        let caps = Capabilities::default().with_list_count(100);
        run_conformance(&shared, &caps).await;
        for key in ["conformance", "conformancex/a", "other/conformance/a"] {
            assert_eq!(memory.get(key).await.unwrap(), Bytes::from_static(b"keep"));
        }
        assert_eq!(memory.len(), 3);
    });
}

/// A backend that breaks a promise makes the suite panic, naming the check.
#[test]
fn suite_catches_a_broken_backend() {
    #[derive(Debug)]
    struct NoCreateOnly(MemoryBackend);
    #[async_trait::async_trait]
    impl Backend for NoCreateOnly {
        async fn put(&self, key: &str, data: Bytes, _: PutMode) -> cairn_backends::Result<()> {
            self.0.put(key, data, PutMode::Overwrite).await
        }
        async fn get(&self, key: &str) -> cairn_backends::Result<Bytes> {
            self.0.get(key).await
        }
        async fn get_range(
            &self,
            key: &str,
            range: std::ops::Range<u64>,
        ) -> cairn_backends::Result<Bytes> {
            self.0.get_range(key, range).await
        }
        async fn stat(&self, key: &str) -> cairn_backends::Result<cairn_backends::ObjectMeta> {
            self.0.stat(key).await
        }
        fn list<'a>(
            &'a self,
            prefix: &'a str,
        ) -> futures::stream::BoxStream<'a, cairn_backends::Result<cairn_backends::ObjectMeta>>
        {
            self.0.list(prefix)
        }
        async fn delete(&self, key: &str) -> cairn_backends::Result<()> {
            self.0.delete(key).await
        }
    }
    let broken = NoCreateOnly(MemoryBackend::new());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        futures::executor::block_on(cairn_backends::testing::check_put_get(
            &broken,
            &Capabilities::default(),
        ))
    }));
    let message = *outcome.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("`put_get`"), "{message}");
    assert!(message.contains("AlreadyExists"), "{message}");
}
