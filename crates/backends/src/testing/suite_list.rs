//! The conformance suite: listings, many keys, races and unicode keys.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::future::join_all;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::check::{clean, err, expect_object, fail, is_not_found, listing, ok};
use super::{pattern, Capabilities};
use crate::{Backend, PutMode};

/// Fails unless listing `prefix` gives exactly `expected` (key → size).
async fn expect_listing(
    check: &str,
    backend: &dyn Backend,
    prefix: &str,
    expected: &BTreeMap<String, u64>,
) {
    let got = listing(check, backend, prefix).await;
    if &got != expected {
        fail(
            check,
            format_args!("listing {prefix:?} gave {got:?}, expected {expected:?}"),
        );
    }
}

/// Listing by prefix, including prefixes that end inside a key segment.
pub async fn check_list_prefixes(backend: &dyn Backend, caps: &Capabilities) {
    const C: &str = "list_prefixes";
    let p = format!("{}list/", caps.prefix);
    clean(C, backend, &p, caps.concurrency).await;
    let names = ["a", "ab/x", "abc/x", "abd", "b/y/z", "bc"];
    let mut all = BTreeMap::new();
    for (i, name) in names.iter().enumerate() {
        let key = format!("{p}{name}");
        let data = pattern(i as u64, i + 1);
        ok(
            C,
            format_args!("put {key}"),
            backend.put(&key, data, PutMode::CreateOnly),
        )
        .await;
        all.insert(key, i as u64 + 1);
    }
    let only = |wanted: &[&str]| -> BTreeMap<String, u64> {
        all.iter()
            .filter(|(k, _)| wanted.iter().any(|w| **k == format!("{p}{w}")))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    expect_listing(C, backend, &p, &all).await;
    let cases: [(&str, &[&str]); 10] = [
        ("a", &["a", "ab/x", "abc/x", "abd"]),
        ("ab", &["ab/x", "abc/x", "abd"]),
        ("ab/", &["ab/x"]),
        ("abc", &["abc/x"]),
        ("ab/x", &["ab/x"]),
        ("b/y", &["b/y/z"]),
        ("b/y/", &["b/y/z"]),
        ("bc", &["bc"]),
        ("zz", &[]),
        ("nope/", &[]),
    ];
    for (suffix, wanted) in cases {
        expect_listing(C, backend, &format!("{p}{suffix}"), &only(wanted)).await;
    }
    // A prefix ending inside one of the suite's own segments ("…/li").
    let partial = &p[..p.len() - 3];
    let wider = listing(C, backend, partial).await;
    if !all.iter().all(|(k, v)| wider.get(k) == Some(v)) {
        fail(
            C,
            format_args!("listing {partial:?} misses some of {all:?}"),
        );
    }
    // Deleting the only key of a "directory" leaves nothing listed there.
    ok(C, "delete", backend.delete(&format!("{p}ab/x"))).await;
    expect_listing(C, backend, &format!("{p}ab"), &only(&["abc/x", "abd"])).await;
    clean(C, backend, &p, caps.concurrency).await;
    expect_listing(C, backend, &p, &BTreeMap::new()).await;
}

/// Writes [`Capabilities::list_count`] keys, `concurrency` at a time, and
/// checks a listing gives each exactly once with its size.
pub async fn check_list_many(backend: &dyn Backend, caps: &Capabilities) {
    const C: &str = "list_many";
    let p = format!("{}many/", caps.prefix);
    clean(C, backend, &p, caps.concurrency).await;
    // Some keys at the top, most spread over directories.
    let key = |i: usize| match i % 5 {
        0 => format!("{p}{i:07}"),
        _ => format!("{p}{:02x}/{i:07}", i % 37),
    };
    let size = |i: usize| i % 17;
    stream::iter(0..caps.list_count)
        .map(|i| {
            let key = key(i);
            async move {
                let data = pattern(i as u64, size(i));
                backend
                    .put(&key, data, PutMode::CreateOnly)
                    .await
                    .map_err(|e| (key, e))
            }
        })
        .buffer_unordered(caps.concurrency)
        .try_collect::<()>()
        .await
        .unwrap_or_else(|(key, e)| fail(C, format_args!("put {key}: {e}")));
    let expected: BTreeMap<String, u64> = (0..caps.list_count)
        .map(|i| (key(i), size(i) as u64))
        .collect();
    let got = listing(C, backend, &p).await;
    if got != expected {
        let missing = expected.keys().filter(|k| !got.contains_key(*k)).take(5);
        let extra = got.keys().filter(|k| !expected.contains_key(*k)).take(5);
        let wrong_size = got
            .iter()
            .filter(|(k, v)| expected.get(*k).is_some_and(|e| e != *v))
            .take(5);
        fail(
            C,
            format_args!(
                "listing {} keys gave {}; missing e.g. {:?}; extra e.g. {:?}; wrong size e.g. {:?}",
                expected.len(),
                got.len(),
                missing.collect::<Vec<_>>(),
                extra.collect::<Vec<_>>(),
                wrong_size.collect::<Vec<_>>(),
            ),
        );
    }
    clean(C, backend, &p, caps.concurrency).await;
    expect_listing(C, backend, &p, &BTreeMap::new()).await;
}

/// Several concurrent create-only puts of one key: exactly one succeeds, the
/// others are `AlreadyExists`, and the winner's bytes are stored. Skipped
/// unless [`Capabilities::atomic_create_only`].
pub async fn check_concurrent_create_only(backend: &dyn Backend, caps: &Capabilities) {
    const C: &str = "concurrent_create_only";
    if !caps.atomic_create_only {
        return;
    }
    let p = format!("{}race/", caps.prefix);
    clean(C, backend, &p, caps.concurrency).await;
    for round in 0..4u64 {
        let key = format!("{p}{round}/object");
        let data = |i: usize| pattern(round * 1000 + i as u64, 64 + i);
        let outcomes = join_all((0..caps.racers).map(|i| {
            let key = &key;
            async move { (i, backend.put(key, data(i), PutMode::CreateOnly).await) }
        }))
        .await;
        let mut winners = Vec::new();
        for (i, outcome) in outcomes {
            match outcome {
                Ok(()) => winners.push(i),
                Err(e) if e.is_already_exists() && e.key() == key => {}
                Err(e) => fail(C, format_args!("racing put {i} of {key}: {e}")),
            }
        }
        let [winner] = *winners.as_slice() else {
            fail(
                C,
                format_args!(
                    "{} racing create-only puts of {key} succeeded: {winners:?}",
                    winners.len()
                ),
            );
        };
        expect_object(C, backend, &key, &data(winner)).await;
        ok(C, "delete", backend.delete(&key)).await;
    }
}

/// Keys with non-ASCII characters and spaces round-trip and list.
pub async fn check_unicode_keys(backend: &dyn Backend, caps: &Capabilities) {
    const C: &str = "unicode_keys";
    let p = format!("{}unicode/", caps.prefix);
    clean(C, backend, &p, caps.concurrency).await;
    let names = [
        "é/ü",
        "日本語/ファイル",
        "emoji-🦀",
        "space name/x y",
        "Ωmega-ÄÖ",
    ];
    let mut all = BTreeMap::new();
    for name in names {
        let key = format!("{p}{name}");
        let data = Bytes::from(key.clone().into_bytes());
        ok(
            C,
            format_args!("put {key}"),
            backend.put(&key, data.clone(), PutMode::CreateOnly),
        )
        .await;
        expect_object(C, backend, &key, &data).await;
        all.insert(key.clone(), data.len() as u64);
    }
    expect_listing(C, backend, &p, &all).await;
    let nihon = format!("{p}日本");
    let one: BTreeMap<_, _> = all
        .iter()
        .filter(|(k, _)| k.starts_with(&nihon))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    expect_listing(C, backend, &nihon, &one).await;
    for key in all.keys() {
        ok(C, format_args!("delete {key}"), backend.delete(key)).await;
        err(
            C,
            "get after delete",
            key,
            "NotFound",
            is_not_found,
            backend.get(key),
        )
        .await;
    }
}
