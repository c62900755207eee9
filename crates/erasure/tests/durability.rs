#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What the erasure layer acknowledges and lists is true: an unreadable
//! "already exists" is a failed child, not a stored object; a listing that
//! cannot prove it is complete fails; hostile timeouts are refused.

mod common;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use cairn_backends::testing::{pattern, FailAfter};
use cairn_backends::{Backend, Error as BError, MemoryBackend, ObjectMeta, PutMode, Result};
use cairn_erasure::{ErasureBackend, Error, HealthConfig, RetryConfig};
use common::{children, config, mem_children, stores};
use futures::executor::block_on;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};

/// What a [`SaysExists`] child answers when asked for the shard it claims.
#[derive(Debug, Clone, Copy)]
enum ReadBack {
    /// `NotFound` (an S3 write not yet visible).
    NotFound,
    /// A timeout.
    Timeout,
    /// Bytes that are not a shard.
    Garbage,
}

/// A child that answers every create-only put with `AlreadyExists` but
/// cannot show what it claims to hold.
#[derive(Debug)]
struct SaysExists(ReadBack);

impl SaysExists {
    fn answer(&self, key: &str) -> Result<Bytes> {
        match self.0 {
            ReadBack::NotFound => Err(BError::NotFound { key: key.into() }),
            ReadBack::Timeout => Err(BError::Timeout {
                key: key.into(),
                millis: 1,
            }),
            ReadBack::Garbage => Ok(Bytes::from_static(&[7u8; 200])),
        }
    }
}

#[async_trait]
impl Backend for SaysExists {
    async fn put(&self, key: &str, _data: Bytes, _mode: PutMode) -> Result<()> {
        Err(BError::AlreadyExists { key: key.into() })
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        self.answer(key)
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        let b = self.answer(key)?;
        let end = (range.end as usize).min(b.len());
        Ok(b.slice(range.start as usize..end))
    }
    async fn stat(&self, key: &str) -> Result<ObjectMeta> {
        Err(BError::NotFound { key: key.into() })
    }
    fn list<'a>(&'a self, _prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        futures::stream::empty().boxed()
    }
    async fn delete(&self, key: &str) -> Result<()> {
        Err(BError::NotFound { key: key.into() })
    }
}

/// A 4+2 layout whose children in `liars` are [`SaysExists`], the rest memory.
fn with_liars(liars: &[usize], read_back: ReadBack) -> (ErasureBackend, Vec<MemoryBackend>) {
    let s = stores(6);
    let backends = s
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if liars.contains(&i) {
                Arc::new(SaysExists(read_back)) as Arc<dyn Backend>
            } else {
                Arc::new(m.clone()) as Arc<dyn Backend>
            }
        })
        .collect();
    let e = ErasureBackend::new(children(backends), config(4, 2)).unwrap();
    (e, s)
}

#[test]
fn an_existing_shard_that_cannot_be_read_back_is_a_failed_child_not_a_conflict() {
    for read_back in [ReadBack::NotFound, ReadBack::Timeout, ReadBack::Garbage] {
        // The leader (child 0) claims the key but cannot show it.
        let (e, s) = with_liars(&[0], read_back);
        let data = pattern(1, 10_000);
        block_on(e.put_object("data/ab/x", data.clone(), PutMode::CreateOnly))
            .unwrap_or_else(|err| panic!("{read_back:?}: {err}"));
        assert!(s[1..].iter().all(|m| !m.is_empty()), "{read_back:?}");
        assert_eq!(block_on(e.get("data/ab/x")).unwrap(), data);
        assert!(e.needs_repair().iter().any(|h| h.child == 0));
    }
}

#[test]
fn already_exists_is_never_reported_without_a_stored_object_to_show() {
    for read_back in [ReadBack::NotFound, ReadBack::Timeout, ReadBack::Garbage] {
        // Three children claim the key; three are empty and take their
        // shards: too few for the quorum, and no object anywhere.
        let (e, s) = with_liars(&[0, 2, 4], read_back);
        let err = block_on(e.put_object("k", pattern(2, 5000), PutMode::CreateOnly)).unwrap_err();
        assert!(
            matches!(err, Error::QuorumNotReached { acked: 3, .. }),
            "{read_back:?}: {err}"
        );
        let err = cairn_backends::Error::from(err);
        assert!(!err.is_already_exists(), "{read_back:?}: {err}");
        assert!(s.iter().all(MemoryBackend::is_empty), "rolled back");
    }
}

#[test]
fn hostile_waits_are_refused_with_a_typed_error_not_a_panic() {
    let s = stores(6);
    let huge = Duration::from_secs(u64::MAX);
    let mut retry = RetryConfig::default();
    retry.initial_backoff = huge;
    let mut health = HealthConfig::default();
    health.cool_down = huge;
    let configs = [
        ("op_timeout", config(4, 2).op_timeout(Some(huge))),
        ("hedge_after", config(4, 2).hedge_after(Some(Duration::MAX))),
        ("retry.initial_backoff", config(4, 2).retry(retry)),
        ("health.cool_down", config(4, 2).health(health)),
    ];
    for (name, c) in configs {
        match ErasureBackend::new(mem_children(&s), c) {
            Err(Error::InvalidConfig { reason }) => assert!(reason.contains(name), "{reason}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // The longest accepted wait still works end to end.
    let c = config(4, 2)
        .op_timeout(Some(cairn_erasure::MAX_WAIT))
        .hedge_after(Some(cairn_erasure::MAX_WAIT));
    let e = ErasureBackend::new(mem_children(&s), c).unwrap();
    block_on(e.put("a", pattern(3, 100), PutMode::CreateOnly)).unwrap();
    assert_eq!(block_on(e.get("a")).unwrap(), pattern(3, 100));
}

/// A 4+2 layout whose every child can be made to fail (`reset(0)`).
fn failable() -> (
    ErasureBackend,
    Vec<MemoryBackend>,
    Vec<Arc<FailAfter<MemoryBackend>>>,
) {
    let s = stores(6);
    let f: Vec<_> = s
        .iter()
        .map(|m| Arc::new(FailAfter::new(m.clone(), u64::MAX)))
        .collect();
    let backends = f
        .iter()
        .map(|b| Arc::clone(b) as Arc<dyn Backend>)
        .collect();
    let e = ErasureBackend::new(children(backends), config(4, 2)).unwrap();
    (e, s, f)
}

fn listed(e: &ErasureBackend, prefix: &str) -> Result<Vec<(String, u64)>> {
    let mut v: Vec<(String, u64)> = block_on(e.list(prefix).try_collect::<Vec<_>>())?
        .into_iter()
        .map(|m| (m.key, m.size))
        .collect();
    v.sort();
    Ok(v)
}

#[test]
fn a_listing_keeps_every_readable_object_or_says_it_is_incomplete() {
    let (e, s, f) = failable();
    block_on(e.put("snapshots/a", pattern(1, 700), PutMode::CreateOnly)).unwrap();
    block_on(e.put("snapshots/b", pattern(2, 900), PutMode::CreateOnly)).unwrap();
    // `b` lost two shards (still readable from children 2..6); a leftover
    // `c` has two shards only (unreadable).
    for m in &s[..2] {
        block_on(m.delete("snapshots/b")).unwrap();
    }
    let shards = cairn_erasure::Codec::new(4, 2)
        .unwrap()
        .encode(&pattern(3, 50))
        .unwrap();
    for i in [4, 5] {
        block_on(s[i].put("snapshots/c", shards[i].clone(), PutMode::CreateOnly)).unwrap();
    }
    let both = vec![
        ("snapshots/a".to_owned(), 700),
        ("snapshots/b".to_owned(), 900),
    ];
    assert_eq!(listed(&e, "snapshots/").unwrap(), both);

    // Two of b's four holders cannot list: only two children list b, yet
    // it is readable and must be listed.
    f[2].reset(0);
    f[3].reset(0);
    let got = listed(&e, "snapshots/").unwrap();
    assert!(got.starts_with(&both), "{got:?}");
    // The leftover may now be listed too (its holders plus the silent
    // children reach k), but nothing readable is missing.
    assert!(got.len() <= 3, "{got:?}");

    // Three failed: still provably complete (k = 4).
    f[0].reset(0);
    let got = listed(&e, "snapshots/").unwrap();
    assert!(got.iter().any(|(k, _)| k == "snapshots/a"), "{got:?}");
    assert!(got.iter().any(|(k, _)| k == "snapshots/b"), "{got:?}");

    // Four failed: an object could hide on them alone.
    f[1].reset(0);
    let err = listed(&e, "snapshots/").unwrap_err();
    assert!(err.is_incomplete(), "{err}");
    assert_eq!(err.key(), "snapshots/");
    assert!(err.to_string().contains("c3"), "names the children: {err}");
    // A scrub over that listing does not claim to have seen everything.
    let r = block_on(e.scrub(cairn_erasure::ScrubOptions::new())).unwrap();
    assert!(!r.complete && r.errors.len() == 4, "{r}");
}
