//! The conformance suite: single-object checks.

use bytes::Bytes;

use super::check::{
    clean, err, expect_object, fail, is_already_exists, is_invalid_key, is_invalid_range,
    is_not_found, listing, ok,
};
use super::{pattern, Capabilities};
use crate::{Backend, PutMode, MAX_KEY_LEN};

/// Runs every check, then checks nothing is left under the prefix.
///
/// Panics with a message naming the check and the key on the first failure.
pub async fn run_conformance(backend: &dyn Backend, caps: &Capabilities) {
    check_put_get(backend, caps).await;
    check_ranges(backend, caps).await;
    check_not_found(backend, caps).await;
    check_invalid_keys(backend, caps).await;
    check_large_object(backend, caps).await;
    super::check_unicode_keys(backend, caps).await;
    super::check_list_prefixes(backend, caps).await;
    super::check_list_many(backend, caps).await;
    super::check_concurrent_create_only(backend, caps).await;
    let left = listing("run_conformance", backend, &caps.prefix).await;
    if !left.is_empty() {
        fail(
            "run_conformance",
            format_args!("objects left behind: {:?}", left.keys()),
        );
    }
}

/// Put, get, stat and delete; create-only against overwrite; empty objects.
pub async fn check_put_get(backend: &dyn Backend, caps: &Capabilities) {
    const C: &str = "put_get";
    let p = format!("{}put-get/", caps.prefix);
    clean(C, backend, &p, caps.concurrency).await;
    let b = backend;

    let key = format!("{p}object");
    ok(
        C,
        "create-only put",
        b.put(&key, Bytes::from_static(b"one"), PutMode::CreateOnly),
    )
    .await;
    expect_object(C, b, &key, b"one").await;
    let again = b.put(&key, Bytes::from_static(b"two"), PutMode::CreateOnly);
    err(
        C,
        "create-only put of an existing key",
        &key,
        "AlreadyExists",
        is_already_exists,
        again,
    )
    .await;
    expect_object(C, b, &key, b"one").await;
    ok(
        C,
        "overwrite",
        b.put(&key, Bytes::from_static(b"three!"), PutMode::Overwrite),
    )
    .await;
    expect_object(C, b, &key, b"three!").await;
    ok(C, "delete", b.delete(&key)).await;
    err(
        C,
        "get after delete",
        &key,
        "NotFound",
        is_not_found,
        b.get(&key),
    )
    .await;
    err(
        C,
        "stat after delete",
        &key,
        "NotFound",
        is_not_found,
        b.stat(&key),
    )
    .await;
    ok(
        C,
        "create-only put after delete",
        b.put(&key, Bytes::from_static(b"four"), PutMode::CreateOnly),
    )
    .await;
    expect_object(C, b, &key, b"four").await;
    ok(C, "delete", b.delete(&key)).await;

    let fresh = format!("{p}fresh");
    ok(
        C,
        "overwrite of a missing key",
        b.put(&fresh, Bytes::from_static(b"new"), PutMode::Overwrite),
    )
    .await;
    expect_object(C, b, &fresh, b"new").await;
    ok(C, "delete", b.delete(&fresh)).await;

    let empty = format!("{p}empty");
    ok(
        C,
        "put of an empty object",
        b.put(&empty, Bytes::new(), PutMode::CreateOnly),
    )
    .await;
    expect_object(C, b, &empty, b"").await;
    let listed = listing(C, b, &empty).await;
    if listed.get(&empty) != Some(&0) {
        fail(C, format_args!("listing {empty:?} gave {listed:?}"));
    }
    err(
        C,
        "create-only put over an empty object",
        &empty,
        "AlreadyExists",
        is_already_exists,
        b.put(&empty, Bytes::from_static(b"x"), PutMode::CreateOnly),
    )
    .await;
    ok(C, "delete of an empty object", b.delete(&empty)).await;

    let deep = format!("{p}a/b/c/d");
    ok(
        C,
        "put of a nested key",
        b.put(&deep, Bytes::from_static(b"deep"), PutMode::CreateOnly),
    )
    .await;
    expect_object(C, b, &deep, b"deep").await;
    ok(C, "delete", b.delete(&deep)).await;
}

/// `get_range`: inside, empty, clamped past the end, and invalid ranges.
pub async fn check_ranges(backend: &dyn Backend, caps: &Capabilities) {
    const C: &str = "ranges";
    let p = format!("{}ranges/", caps.prefix);
    clean(C, backend, &p, caps.concurrency).await;
    let key = format!("{p}object");
    let data = pattern(1, 100);
    ok(
        C,
        "put",
        backend.put(&key, data.clone(), PutMode::CreateOnly),
    )
    .await;
    let valid = [
        (0..100, 0..100),
        (10..20, 10..20),
        (99..100, 99..100),
        (0..0, 0..0),
        (50..50, 50..50),
        (100..100, 100..100),
        (100..200, 100..100),
        (90..200, 90..100),
        (0..u64::MAX, 0..100),
    ];
    for (asked, expected) in valid {
        let what = format!("get_range {asked:?} of 100 bytes");
        let got = ok(C, &what, backend.get_range(&key, asked.clone())).await;
        if got != data[expected.start as usize..expected.end as usize] {
            fail(
                C,
                format_args!(
                    "{what}: got {} wrong bytes, expected {expected:?}",
                    got.len()
                ),
            );
        }
    }
    // Reversed ranges are exactly what is being tested.
    #[allow(clippy::reversed_empty_ranges)]
    let invalid = [101..102, 101..101, 20..10, 200..100, u64::MAX..u64::MAX];
    for asked in invalid {
        let what = format!("get_range {asked:?} of 100 bytes");
        err(
            C,
            what,
            &key,
            "InvalidRange",
            is_invalid_range,
            backend.get_range(&key, asked),
        )
        .await;
    }
    ok(C, "delete", backend.delete(&key)).await;

    let empty = format!("{p}empty");
    ok(
        C,
        "put",
        backend.put(&empty, Bytes::new(), PutMode::CreateOnly),
    )
    .await;
    for asked in [0..0, 0..10] {
        let got = ok(
            C,
            format_args!("get_range {asked:?} of 0 bytes"),
            backend.get_range(&empty, asked.clone()),
        )
        .await;
        if !got.is_empty() {
            fail(C, "a range of an empty object is not empty");
        }
    }
    err(
        C,
        "get_range 1..2 of 0 bytes",
        &empty,
        "InvalidRange",
        is_invalid_range,
        backend.get_range(&empty, 1..2),
    )
    .await;
    ok(C, "delete", backend.delete(&empty)).await;
}

/// Every operation on a missing key is `NotFound`, even an empty range.
pub async fn check_not_found(backend: &dyn Backend, caps: &Capabilities) {
    const C: &str = "not_found";
    let p = format!("{}not-found/", caps.prefix);
    clean(C, backend, &p, caps.concurrency).await;
    for key in [format!("{p}missing"), format!("{p}no/such/dir/missing")] {
        let b = backend;
        err(C, "get", &key, "NotFound", is_not_found, b.get(&key)).await;
        err(
            C,
            "get_range 0..1",
            &key,
            "NotFound",
            is_not_found,
            b.get_range(&key, 0..1),
        )
        .await;
        err(
            C,
            "get_range 0..0",
            &key,
            "NotFound",
            is_not_found,
            b.get_range(&key, 0..0),
        )
        .await;
        err(C, "stat", &key, "NotFound", is_not_found, b.stat(&key)).await;
        err(C, "delete", &key, "NotFound", is_not_found, b.delete(&key)).await;
        if !listing(C, b, &key).await.is_empty() {
            fail(C, format_args!("listing the missing {key:?} found objects"));
        }
    }
}

/// Every operation on an invalid key is `InvalidKey`, naming the key.
pub async fn check_invalid_keys(backend: &dyn Backend, caps: &Capabilities) {
    const C: &str = "invalid_keys";
    let p = &caps.prefix;
    let long = format!("{p}{}", "x".repeat(MAX_KEY_LEN));
    let keys = [
        String::new(),
        "/absolute".to_owned(),
        format!("{p}a//b"),
        format!("{p}trailing/"),
        format!("{p}./dot"),
        format!("{p}../escape"),
        format!("{p}a/../../b"),
        "..".to_owned(),
        format!("{p}nul\0byte"),
        format!("{p}back\\slash"),
        format!("{p}.cairn-tmp-1234"),
        long,
    ];
    for key in &keys {
        let b = backend;
        let data = Bytes::from_static(b"x");
        let what = |op: &str| format!("{op} of the invalid key {key:?}");
        err(
            C,
            what("create-only put"),
            key,
            "InvalidKey",
            is_invalid_key,
            b.put(key, data.clone(), PutMode::CreateOnly),
        )
        .await;
        err(
            C,
            what("overwrite"),
            key,
            "InvalidKey",
            is_invalid_key,
            b.put(key, data, PutMode::Overwrite),
        )
        .await;
        err(
            C,
            what("get"),
            key,
            "InvalidKey",
            is_invalid_key,
            b.get(key),
        )
        .await;
        err(
            C,
            what("get_range"),
            key,
            "InvalidKey",
            is_invalid_key,
            b.get_range(key, 0..1),
        )
        .await;
        err(
            C,
            what("stat"),
            key,
            "InvalidKey",
            is_invalid_key,
            b.stat(key),
        )
        .await;
        err(
            C,
            what("delete"),
            key,
            "InvalidKey",
            is_invalid_key,
            b.delete(key),
        )
        .await;
    }
}

/// A large object ([`Capabilities::large_object_size`]) round-trips whole and
/// in ranges.
pub async fn check_large_object(backend: &dyn Backend, caps: &Capabilities) {
    const C: &str = "large_object";
    let p = format!("{}large/", caps.prefix);
    clean(C, backend, &p, caps.concurrency).await;
    let size = caps.large_object_size;
    let key = format!("{p}object");
    let data = pattern(7, size);
    ok(
        C,
        "put",
        backend.put(&key, data.clone(), PutMode::CreateOnly),
    )
    .await;
    expect_object(C, backend, &key, &data).await;
    let (start, end) = (size / 3, size / 3 + size / 2);
    let got = ok(
        C,
        "get_range",
        backend.get_range(&key, start as u64..end as u64),
    )
    .await;
    if got != data[start..end] {
        fail(
            C,
            format_args!("get_range {start}..{end} of {key}: wrong bytes"),
        );
    }
    ok(C, "delete", backend.delete(&key)).await;
}
