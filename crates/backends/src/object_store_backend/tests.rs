//! Behaviour over `object_store`'s in-memory store (no server needed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bytes::Bytes;
use futures::executor::block_on;
use futures::{StreamExt, TryStreamExt};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;

use super::*;

fn backend(options: ObjectStoreOptions) -> (Arc<InMemory>, ObjectStoreBackend) {
    let store = Arc::new(InMemory::new());
    let backend = ObjectStoreBackend::with_options(store.clone(), options).unwrap();
    (store, backend)
}

fn keys(b: &ObjectStoreBackend, prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> = block_on(b.list(prefix).map_ok(|m| m.key).try_collect()).unwrap();
    keys.sort();
    keys
}

#[test]
fn works_under_block_on_without_any_runtime() {
    let (_, b) = backend(ObjectStoreOptions::default());
    block_on(async {
        b.put("x/1", Bytes::from_static(b"one"), PutMode::CreateOnly)
            .await
            .unwrap();
        let err = b
            .put("x/1", Bytes::from_static(b"two"), PutMode::CreateOnly)
            .await
            .unwrap_err();
        assert!(err.is_already_exists(), "{err}");
        assert_eq!(b.get("x/1").await.unwrap(), "one");
        assert!(b.get("x/2").await.unwrap_err().is_not_found());
    });
}

#[test]
fn keys_live_under_the_prefix_and_round_trip_exactly() {
    let (store, b) = backend(ObjectStoreOptions::default().with_prefix("repo/one"));
    let odd = ["snap/é/日本語", "a%20b/c#d?e", "sp ace/[x]{y}"];
    for k in odd {
        block_on(b.put(k, Bytes::from(k.to_owned()), PutMode::CreateOnly)).unwrap();
    }
    assert_eq!(keys(&b, ""), {
        let mut v: Vec<String> = odd.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    });
    // Stored byte for byte under the prefix, not percent-encoded.
    let raw = Path::parse("repo/one/a%20b/c#d?e").unwrap();
    assert_eq!(
        block_on(store.head(&raw)).unwrap().size,
        "a%20b/c#d?e".len() as u64
    );
    // Another prefix sees nothing.
    let other =
        ObjectStoreBackend::with_options(store, ObjectStoreOptions::default().with_prefix("repo"))
            .unwrap();
    assert!(keys(&other, "one/").len() == 3 && keys(&other, "on").len() == 3);
    assert!(keys(&other, "two").is_empty());
}

#[test]
fn list_filters_by_string_prefix_not_by_segment() {
    let (_, b) = backend(ObjectStoreOptions::default());
    for k in ["data/ab/1", "data/ac/2", "data/b", "database", "index/1"] {
        block_on(b.put(k, Bytes::new(), PutMode::Overwrite)).unwrap();
    }
    assert_eq!(keys(&b, "data/a"), ["data/ab/1", "data/ac/2"]);
    assert_eq!(
        keys(&b, "data"),
        ["data/ab/1", "data/ac/2", "data/b", "database"]
    );
    assert_eq!(keys(&b, "data/"), ["data/ab/1", "data/ac/2", "data/b"]);
    assert_eq!(keys(&b, "zzz"), Vec::<String>::new());
    let err = block_on(b.list("../x").try_collect::<Vec<_>>()).unwrap_err();
    assert!(matches!(err, Error::InvalidKey { .. }), "{err}");
}

#[test]
fn dropping_a_listing_early_stops_it() {
    let (_, b) = backend(ObjectStoreOptions::default());
    for i in 0..(LIST_CHANNEL * 3) {
        block_on(b.put(&format!("k/{i:05}"), Bytes::new(), PutMode::Overwrite)).unwrap();
    }
    let first: Vec<_> = block_on(b.list("k/").take(5).collect());
    assert_eq!(first.len(), 5);
    assert!(first.iter().all(|r| r.is_ok()));
    assert_eq!(keys(&b, "k/").len(), LIST_CHANNEL * 3);
}

#[test]
fn ranges_follow_the_trait_rules() {
    let (_, b) = backend(ObjectStoreOptions::default());
    block_on(async {
        b.put("r", Bytes::from_static(b"0123456789"), PutMode::Overwrite)
            .await
            .unwrap();
        b.put("empty", Bytes::new(), PutMode::Overwrite)
            .await
            .unwrap();
        assert_eq!(b.get_range("r", 2..5).await.unwrap(), "234");
        assert_eq!(b.get_range("r", 8..100).await.unwrap(), "89");
        assert!(b.get_range("r", 10..20).await.unwrap().is_empty());
        assert!(b.get_range("r", 4..4).await.unwrap().is_empty());
        assert!(b.get_range("empty", 0..10).await.unwrap().is_empty());
        #[allow(clippy::reversed_empty_ranges)] // 5..3 is the point
        for bad in [11..20, 5..3, 11..11] {
            let e = b.get_range("r", bad.clone()).await.unwrap_err();
            assert!(
                matches!(e, Error::InvalidRange { size: 10, .. }),
                "{bad:?}: {e}"
            );
        }
        assert!(b
            .get_range("missing", 0..0)
            .await
            .unwrap_err()
            .is_not_found());
        assert!(b
            .get_range("missing", 0..5)
            .await
            .unwrap_err()
            .is_not_found());
    });
}

#[test]
fn multipart_and_non_conditional_paths_store_the_same_bytes() {
    let options = ObjectStoreOptions::default()
        .with_multipart_threshold(6 << 20)
        .with_part_size(5 << 20)
        .with_conditional_put(false);
    let (_, b) = backend(options);
    let data: Bytes = (0..(13u32 << 20))
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    block_on(async {
        b.put("big", data.clone(), PutMode::CreateOnly)
            .await
            .unwrap();
        assert_eq!(b.get("big").await.unwrap(), data);
        let e = b
            .put("big", Bytes::new(), PutMode::CreateOnly)
            .await
            .unwrap_err();
        assert!(e.is_already_exists(), "{e}");
        b.put("big", data.slice(..100), PutMode::Overwrite)
            .await
            .unwrap();
        assert_eq!(b.stat("big").await.unwrap().size, 100);
        b.delete("big").await.unwrap();
        assert!(b.delete("big").await.unwrap_err().is_not_found());
    });
}

/// The class `store` holds for `path`, as `object_store` hands it back.
fn class_of(store: &InMemory, path: &str) -> Option<String> {
    let got = block_on(store.get(&Path::parse(path).unwrap())).unwrap();
    let class = got.attributes.get(&object_store::Attribute::StorageClass);
    class.map(|c| c.to_string())
}

#[test]
fn the_storage_class_goes_with_every_kind_of_put() {
    let options = ObjectStoreOptions::default()
        .with_prefix("p")
        .with_multipart_threshold(6 << 20)
        .with_part_size(5 << 20)
        .with_storage_class("GLACIER");
    let (store, b) = backend(options);
    let big: Bytes = vec![7u8; 7 << 20].into();
    block_on(async {
        // Conditional single put, overwrite, multipart overwrite.
        b.put("create", Bytes::from_static(b"c"), PutMode::CreateOnly)
            .await
            .unwrap();
        b.put("over", Bytes::from_static(b"o"), PutMode::Overwrite)
            .await
            .unwrap();
        b.put("multi", big.clone(), PutMode::Overwrite)
            .await
            .unwrap();
    });
    for key in ["p/create", "p/over", "p/multi"] {
        assert_eq!(class_of(&store, key).as_deref(), Some("GLACIER"), "{key}");
    }
    // The non-conditional create-only path (check, then upload) too.
    let options = ObjectStoreOptions::default()
        .with_conditional_put(false)
        .with_storage_class("STANDARD_IA");
    let (store, b) = backend(options);
    block_on(b.put("k", Bytes::from_static(b"v"), PutMode::CreateOnly)).unwrap();
    assert_eq!(class_of(&store, "k").as_deref(), Some("STANDARD_IA"));
    // No class configured: none sent.
    let (store, b) = backend(ObjectStoreOptions::default());
    block_on(b.put("k", Bytes::from_static(b"v"), PutMode::CreateOnly)).unwrap();
    assert_eq!(class_of(&store, "k"), None);
}

#[test]
fn storage_classes_that_could_break_a_header_are_refused() {
    for bad in [
        "",
        "glacier",
        "GLACIER\r\nX-Evil: 1",
        "STANDARD IA",
        &"A".repeat(65),
    ] {
        let options = ObjectStoreOptions::default().with_storage_class(bad);
        let err = ObjectStoreBackend::with_options(Arc::new(InMemory::new()), options).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidKey { key, .. } if key == bad),
            "{bad:?}: {err}"
        );
    }
}

#[test]
fn invalid_options_and_keys_are_refused() {
    let store = || Arc::new(InMemory::new()) as Arc<dyn ObjectStore>;
    for opts in [
        ObjectStoreOptions::default().with_prefix("a//b"),
        ObjectStoreOptions::default().with_prefix("../up"),
        ObjectStoreOptions::default().with_prefix("tab\there"),
        ObjectStoreOptions::default().with_part_size(1024),
        ObjectStoreOptions::default().with_multipart_concurrency(0),
    ] {
        let e = ObjectStoreBackend::with_options(store(), opts.clone()).unwrap_err();
        assert!(matches!(e, Error::InvalidKey { .. }), "{opts:?}: {e}");
    }
    let b = ObjectStoreBackend::new(store()).unwrap();
    for key in ["", "../x", "a\nb"] {
        let e = block_on(b.put(key, Bytes::new(), PutMode::Overwrite)).unwrap_err();
        assert!(matches!(e, Error::InvalidKey { .. }), "{key:?}: {e}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn works_inside_a_current_thread_tokio_runtime() {
    let (_, b) = backend(ObjectStoreOptions::default());
    b.put("t", Bytes::from_static(b"tokio"), PutMode::CreateOnly)
        .await
        .unwrap();
    assert_eq!(b.get("t").await.unwrap(), "tokio");
    // Dropping a backend inside a runtime must not panic (the runtime is shared).
    drop(b);
}
