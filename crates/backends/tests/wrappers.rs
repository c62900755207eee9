//! The fault-injecting wrappers, and `Retrying` over them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use cairn_backends::testing::{
    check_concurrent_create_only, pattern, run_conformance, Capabilities, Corrupting, Counting,
    FailAfter, Flaky, Latency, Lossy, PutFailure,
};
use cairn_backends::{Backend, Error, LocalBackend, MemoryBackend, PutMode, RetryPolicy, Retrying};
use futures::executor::block_on;
use futures::TryStreamExt;

fn quick_retries() -> RetryPolicy {
    RetryPolicy::new()
        .with_max_attempts(20)
        .with_initial_backoff(Duration::from_micros(100))
        .with_max_backoff(Duration::from_millis(1))
}

fn is_injected(e: &Error, transient: bool) -> bool {
    matches!(e, Error::Backend { message, transient: t, .. } if message.starts_with("injected:") && *t == transient)
}

#[test]
fn latency_passes_conformance() {
    let store = Latency::new(MemoryBackend::new(), Duration::from_micros(200))
        .with_jitter(Duration::from_micros(300), 7);
    let caps = Capabilities::default().with_list_count(300);
    block_on(run_conformance(&store, &caps));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_over_flaky_before_apply_passes_conformance() {
    let store = Retrying::new(Flaky::new(MemoryBackend::new(), 0.2, 42), quick_retries());
    let caps = Capabilities::default().with_list_count(1_000);
    run_conformance(&store, &caps).await;
    assert!(
        store.inner().injected() > 100,
        "{}",
        store.inner().injected()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_over_flaky_after_apply_passes_conformance() {
    let flaky = Flaky::new(MemoryBackend::new(), 0.2, 43).with_put_failure(PutFailure::AfterApply);
    let store = Retrying::new(flaky, quick_retries());
    let caps = Capabilities::default().with_list_count(1_000);
    run_conformance(&store, &caps).await;
    assert!(
        store.inner().injected() > 100,
        "{}",
        store.inner().injected()
    );
}

/// Lost acknowledgements of create-only puts on a real file system: still
/// exactly one winner per key, and the winner's bytes stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_after_apply_create_only_is_exactly_once_on_local() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalBackend::new(dir.path()).unwrap();
    let flaky = Flaky::new(local, 0.5, 44).with_put_failure(PutFailure::AfterApply);
    let store = Retrying::new(flaky, quick_retries());
    let caps = Capabilities::default().with_racers(16);
    for _ in 0..5 {
        check_concurrent_create_only(&store, &caps).await;
    }
    assert!(store.inner().injected() > 0);
}

#[test]
fn fail_after_fails_every_later_operation_until_healed() {
    block_on(async {
        let store = FailAfter::new(MemoryBackend::new(), 2);
        store
            .put("a", Bytes::from_static(b"1"), PutMode::CreateOnly)
            .await
            .unwrap();
        store.get("a").await.unwrap();
        for _ in 0..3 {
            let e = store
                .put("b", Bytes::from_static(b"2"), PutMode::CreateOnly)
                .await
                .unwrap_err();
            assert!(is_injected(&e, false), "{e}");
            assert_eq!(e.key(), "b");
        }
        // The failed puts stored nothing.
        assert!(store.inner().get("b").await.unwrap_err().is_not_found());
        let listed: Result<Vec<_>, _> = store.list("").try_collect().await;
        assert!(is_injected(&listed.unwrap_err(), false));
        assert!(is_injected(&store.delete("a").await.unwrap_err(), false));
        assert_eq!(store.ops(), 7);

        store.heal();
        assert_eq!(store.get("a").await.unwrap(), Bytes::from_static(b"1"));
        store.reset(1);
        assert_eq!(store.ops(), 0);
        store.stat("a").await.unwrap();
        assert!(is_injected(&store.stat("a").await.unwrap_err(), false));
        store.reset(0);
        assert!(store.get_range("a", 0..1).await.is_err());
    });
}

#[test]
fn flaky_is_seeded_and_fails_transiently() {
    block_on(async {
        let memory = MemoryBackend::new();
        memory
            .put("k", Bytes::from_static(b"v"), PutMode::CreateOnly)
            .await
            .unwrap();
        let outcomes = |seed| {
            let store = Flaky::new(memory.clone(), 0.3, seed);
            async move {
                let mut failed = Vec::new();
                for _ in 0..200 {
                    match store.get("k").await {
                        Ok(v) => assert_eq!(v, Bytes::from_static(b"v")),
                        Err(e) => {
                            assert!(is_injected(&e, true) && e.is_transient(), "{e}");
                            failed.push(true);
                            continue;
                        }
                    }
                    failed.push(false);
                }
                (failed, store.injected())
            }
        };
        let (a, injected) = outcomes(5).await;
        let (b, _) = outcomes(5).await;
        let (c, _) = outcomes(6).await;
        assert_eq!(a, b);
        assert_ne!(a, c);
        let failures = a.iter().filter(|f| **f).count();
        assert_eq!(failures as u64, injected);
        assert!((30..90).contains(&failures), "{failures} of 200 at p = 0.3");

        let never = Flaky::new(memory.clone(), 0.0, 1);
        let always = Flaky::new(memory.clone(), 1.0, 1);
        for _ in 0..50 {
            never.get("k").await.unwrap();
            assert!(always.stat("k").await.unwrap_err().is_transient());
        }
    });
}

#[test]
fn flaky_put_failure_before_or_after_applying() {
    block_on(async {
        let before = Flaky::new(MemoryBackend::new(), 1.0, 1);
        assert!(before
            .put("k", Bytes::from_static(b"v"), PutMode::CreateOnly)
            .await
            .unwrap_err()
            .is_transient());
        assert!(before.inner().is_empty());

        let after =
            Flaky::new(MemoryBackend::new(), 1.0, 1).with_put_failure(PutFailure::AfterApply);
        assert!(after
            .put("k", Bytes::from_static(b"v"), PutMode::CreateOnly)
            .await
            .unwrap_err()
            .is_transient());
        assert_eq!(
            after.inner().get("k").await.unwrap(),
            Bytes::from_static(b"v")
        );
        // A put the inner backend refuses reports the refusal.
        let e = after
            .put("k", Bytes::from_static(b"w"), PutMode::CreateOnly)
            .await
            .unwrap_err();
        assert!(e.is_already_exists(), "{e}");
    });
}

#[test]
fn corrupting_flips_one_byte_of_matching_reads() {
    block_on(async {
        let memory = MemoryBackend::new();
        let data = pattern(3, 4096);
        for key in ["data/a", "index/a"] {
            memory
                .put(key, data.clone(), PutMode::CreateOnly)
                .await
                .unwrap();
        }
        memory
            .put("data/empty", Bytes::new(), PutMode::CreateOnly)
            .await
            .unwrap();
        let store = Corrupting::new(memory.clone(), 9).with_filter(|k| k.starts_with("data/"));
        for _ in 0..20 {
            let got = store.get("data/a").await.unwrap();
            assert_eq!(got.len(), data.len());
            let differing = got.iter().zip(data.iter()).filter(|(a, b)| a != b).count();
            assert_eq!(differing, 1);
            let range = store.get_range("data/a", 100..200).await.unwrap();
            assert_ne!(range, data[100..200]);
        }
        assert_eq!(store.corrupted(), 40);
        assert_eq!(store.get("index/a").await.unwrap(), data);
        assert!(store.get("data/empty").await.unwrap().is_empty());
        assert_eq!(
            memory.get("data/a").await.unwrap(),
            data,
            "storage untouched"
        );

        let never = Corrupting::new(memory.clone(), 9).with_probability(0.0);
        assert_eq!(never.get("data/a").await.unwrap(), data);
        assert_eq!(never.corrupted(), 0);
    });
}

#[test]
fn lossy_loses_objects_and_drops_puts() {
    block_on(async {
        let store = Lossy::new(MemoryBackend::new());
        for key in ["a/1", "a/2", "a/3", "b/1"] {
            store
                .put(key, Bytes::from_static(b"x"), PutMode::CreateOnly)
                .await
                .unwrap();
        }
        store.lose("b/1").await.unwrap();
        assert!(store.get("b/1").await.unwrap_err().is_not_found());
        assert_eq!(store.lose_prefix("a/").await.unwrap(), 3);
        assert!(store.inner().is_empty());
        assert!(store.lose("a/1").await.unwrap_err().is_not_found());

        store.drop_puts(|k| k.starts_with("data/"));
        store
            .put("data/1", Bytes::from_static(b"x"), PutMode::CreateOnly)
            .await
            .unwrap();
        store
            .put("keep/1", Bytes::from_static(b"x"), PutMode::CreateOnly)
            .await
            .unwrap();
        assert!(store.get("data/1").await.unwrap_err().is_not_found());
        assert_eq!(store.get("keep/1").await.unwrap(), Bytes::from_static(b"x"));
        assert_eq!(store.dropped(), 1);
        // Invalid keys are refused even when dropped.
        assert!(store
            .put("data//x", Bytes::new(), PutMode::CreateOnly)
            .await
            .is_err());
        store.stop_dropping();
        store
            .put("data/1", Bytes::from_static(b"y"), PutMode::CreateOnly)
            .await
            .unwrap();
        assert_eq!(store.get("data/1").await.unwrap(), Bytes::from_static(b"y"));
    });
}

#[test]
fn counting_counts_operations_and_bytes() {
    block_on(async {
        let store = Counting::new(MemoryBackend::new());
        store
            .put("data/1", Bytes::from_static(b"abcd"), PutMode::CreateOnly)
            .await
            .unwrap();
        store
            .put("index/1", Bytes::from_static(b"ef"), PutMode::CreateOnly)
            .await
            .unwrap();
        assert!(store
            .put("data/1", Bytes::from_static(b"zz"), PutMode::CreateOnly)
            .await
            .is_err());
        store.get("data/1").await.unwrap();
        store.get_range("data/1", 1..3).await.unwrap();
        assert!(store.get("missing").await.is_err());
        store.stat("index/1").await.unwrap();
        let listed: Vec<_> = store.list("").try_collect().await.unwrap();
        assert_eq!(listed.len(), 2);
        store.delete("index/1").await.unwrap();

        let c = store.snapshot();
        assert_eq!(
            (c.puts, c.gets, c.get_ranges, c.stats, c.lists, c.deletes),
            (3, 2, 1, 1, 1, 1)
        );
        assert_eq!((c.errors, c.bytes_put, c.bytes_got, c.listed), (2, 6, 6, 2));
        assert_eq!(c.ops(), 9);
        assert_eq!(store.put_keys(), ["data/1", "index/1"]);
        assert_eq!(store.puts_under("data/"), 1);

        store.reset();
        assert_eq!(store.snapshot(), Default::default());
        assert_eq!(store.puts_under(""), 0);
    });
}
