//! Helpers of the conformance checks: failing with a clear message, and
//! listing, cleaning and comparing objects.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::{Backend, Error, Result};

/// Fails the check `check` with a message.
pub(super) fn fail(check: &str, what: impl Display) -> ! {
    panic!("conformance check `{check}` failed: {what}")
}

/// The value of `fut`, failing the check on an error.
pub(super) async fn ok<T>(
    check: &str,
    what: impl Display,
    fut: impl Future<Output = Result<T>>,
) -> T {
    match fut.await {
        Ok(v) => v,
        Err(e) => fail(check, format_args!("{what}: unexpected error: {e}")),
    }
}

/// Checks that `fut` fails with the error `expected` describes (`is` tells
/// it), naming `key`.
pub(super) async fn err<T>(
    check: &str,
    what: impl Display,
    key: &str,
    expected: &str,
    is: fn(&Error) -> bool,
    fut: impl Future<Output = Result<T>>,
) {
    match fut.await {
        Ok(_) => fail(check, format_args!("{what}: expected {expected}, got Ok")),
        Err(e) if !is(&e) => fail(check, format_args!("{what}: expected {expected}, got: {e}")),
        Err(e) if e.key() != key => fail(
            check,
            format_args!("{what}: error names key {:?}, not {key:?}", e.key()),
        ),
        Err(_) => {}
    }
}

pub(super) fn is_not_found(e: &Error) -> bool {
    e.is_not_found()
}

pub(super) fn is_already_exists(e: &Error) -> bool {
    e.is_already_exists()
}

pub(super) fn is_invalid_key(e: &Error) -> bool {
    matches!(e, Error::InvalidKey { .. })
}

pub(super) fn is_invalid_range(e: &Error) -> bool {
    matches!(e, Error::InvalidRange { .. })
}

/// Every key under `prefix` with its size, failing on errors and duplicates.
pub(super) async fn listing(
    check: &str,
    backend: &dyn Backend,
    prefix: &str,
) -> BTreeMap<String, u64> {
    let mut found = BTreeMap::new();
    let mut entries = backend.list(prefix);
    while let Some(entry) = entries.next().await {
        let meta = match entry {
            Ok(meta) => meta,
            Err(e) => fail(check, format_args!("listing {prefix:?}: {e}")),
        };
        if !meta.key.starts_with(prefix) {
            fail(
                check,
                format_args!("listing {prefix:?} gave {:?}", meta.key),
            );
        }
        if found.insert(meta.key.clone(), meta.size).is_some() {
            fail(
                check,
                format_args!("listing {prefix:?} gave {:?} twice", meta.key),
            );
        }
    }
    found
}

/// Deletes everything under `prefix`, `concurrency` at a time.
pub(super) async fn clean(check: &str, backend: &dyn Backend, prefix: &str, concurrency: usize) {
    let keys: Vec<String> = listing(check, backend, prefix).await.into_keys().collect();
    stream::iter(keys)
        .map(|key| async move {
            match backend.delete(&key).await {
                Err(e) if !e.is_not_found() => Err(e),
                _ => Ok(()),
            }
        })
        .buffer_unordered(concurrency)
        .try_collect::<()>()
        .await
        .unwrap_or_else(|e| fail(check, format_args!("cleaning {prefix:?}: {e}")));
}

/// Checks `get` and `stat` of `key` give `data`.
pub(super) async fn expect_object(check: &str, backend: &dyn Backend, key: &str, data: &[u8]) {
    let got = ok(check, format_args!("get {key}"), backend.get(key)).await;
    if got != data {
        fail(
            check,
            format_args!(
                "get {key}: got {} bytes, not the {} stored",
                got.len(),
                data.len()
            ),
        );
    }
    let meta = ok(check, format_args!("stat {key}"), backend.stat(key)).await;
    if meta.key != key || meta.size != data.len() as u64 {
        fail(
            check,
            format_args!("stat {key}: got {meta:?}, size should be {}", data.len()),
        );
    }
}
