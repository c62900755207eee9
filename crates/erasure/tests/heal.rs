#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Lost redundancy is recorded in the repository and healed: a put that
//! misses a child leaves a heal record any process can act on.

mod common;

use std::sync::Arc;

use cairn_backends::testing::{pattern, FailAfter};
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_erasure::{ErasureBackend, ScrubOptions};
use common::{children, config, stores};
use futures::executor::block_on;
use futures::TryStreamExt;

/// Six memory stores, each behind a switch (`reset(0)` = down, `heal()` = up).
fn switchable() -> (Vec<MemoryBackend>, Vec<Arc<FailAfter<MemoryBackend>>>) {
    let s = stores(6);
    let f = s
        .iter()
        .map(|m| Arc::new(FailAfter::new(m.clone(), u64::MAX)))
        .collect();
    (s, f)
}

/// A fresh backend over the switches: a new process, nothing in memory.
fn open(f: &[Arc<FailAfter<MemoryBackend>>]) -> ErasureBackend {
    let backends = f
        .iter()
        .map(|b| Arc::clone(b) as Arc<dyn Backend>)
        .collect();
    ErasureBackend::new(children(backends), config(4, 2)).unwrap()
}

#[test]
fn a_put_missing_a_child_is_recorded_durably_and_healed_by_another_process() {
    let (s, f) = switchable();
    f[5].reset(0);
    let writer = open(&f);
    let objects: Vec<_> = (0..3u64)
        .map(|i| (format!("data/{i}"), pattern(i, 3000 + i as usize)))
        .collect();
    for (k, d) in &objects {
        block_on(writer.put(k, d.clone(), PutMode::CreateOnly)).unwrap();
    }
    let d = block_on(writer.degraded());
    assert_eq!(d.objects, 3, "{d}");
    assert_eq!(d.unreachable_children.len(), 1, "{d}");
    assert!(d.unreachable_children[0].contains("c5"), "{d}");
    drop(writer);

    // Another process: the records are in the repository, not in memory,
    // and do not show up as objects.
    let other = open(&f);
    assert_eq!(block_on(other.degraded()).objects, 3);
    let keys: Vec<String> = block_on(other.list("").map_ok(|m| m.key).try_collect()).unwrap();
    assert_eq!(keys, vec!["data/0", "data/1", "data/2"]);
    assert!(block_on(other.get(".erasure/heal/x")).is_err());

    // Still down: heal waits without touching anything.
    let r = block_on(other.heal());
    assert_eq!(
        (r.records, r.waiting.len(), r.shards_repaired),
        (3, 3, 0),
        "{r}"
    );
    assert!(s[5].is_empty());

    // Back, empty: heal rebuilds its shards and retires the records.
    f[5].heal();
    let r = block_on(other.heal());
    assert_eq!(r.healed, vec!["data/0", "data/1", "data/2"], "{r}");
    assert_eq!(r.shards_repaired, 3, "{r}");
    assert!(r.errors.is_empty() && r.conflicts.is_empty(), "{r}");
    assert_eq!(block_on(other.degraded()).objects, 0);
    assert_eq!(s[5].len(), 3, "shards only, no record left");

    // Two other children lost: the healed shards carry the reads.
    f[0].reset(0);
    f[1].reset(0);
    for (k, d) in &objects {
        assert_eq!(&block_on(other.get(k)).unwrap(), d, "{k}");
    }
}

#[test]
fn a_repairing_scrub_heals_and_records_of_deleted_objects_are_retired() {
    let (s, f) = switchable();
    f[2].reset(0);
    let e = open(&f);
    block_on(e.put("a", pattern(1, 500), PutMode::CreateOnly)).unwrap();
    block_on(e.put("b", pattern(2, 500), PutMode::CreateOnly)).unwrap();
    f[2].heal();
    block_on(e.delete("b")).unwrap();
    assert_eq!(block_on(e.degraded()).objects, 2);

    let r = block_on(e.scrub(ScrubOptions::new().repair(true))).unwrap();
    assert_eq!(r.shards_repaired, 1, "{r}");
    let h = r.heal.as_ref().expect("a repairing scrub heals");
    assert_eq!((h.healed.clone(), h.gone), (vec!["a".to_owned()], 1), "{r}");
    assert_eq!(block_on(e.degraded()).objects, 0);
    assert!(
        s.iter().all(|m| m.len() == 1),
        "one shard of `a` each, nothing else"
    );

    // A partial scrub (by prefix) does not run heal.
    let r = block_on(e.scrub(ScrubOptions::new().repair(true).prefix("a"))).unwrap();
    assert!(r.heal.is_none());
}

#[test]
fn reserved_keys_are_refused_as_objects() {
    let (_s, f) = switchable();
    let e = open(&f);
    let err = block_on(e.put(".erasure/heal/x", pattern(1, 10), PutMode::CreateOnly)).unwrap_err();
    assert!(
        matches!(err, cairn_backends::Error::InvalidKey { .. }),
        "{err}"
    );
}
