#![allow(clippy::unwrap_used, clippy::expect_used)]
//! ErasureBackend behaviour: degraded reads, quorum, placement, health.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cairn_backends::testing::{pattern, Corrupting, Counting, FailAfter, Flaky, Latency};
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_erasure::{BreakerState, Child, ErasureBackend, Error, Labels};
use common::{children, config, mem_4_2, mem_children, stores};
use futures::executor::block_on;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any m or fewer children losing or damaging their shard: exact data;
    /// more: a typed error, no panic.
    #[test]
    fn damage_to_children(
        len in 0usize..20_000,
        hits in proptest::collection::btree_map(0usize..6, any::<bool>(), 0..=6),
    ) {
        let (e, s) = mem_4_2();
        let data = pattern(len as u64, len);
        block_on(e.put("obj", data.clone(), PutMode::CreateOnly)).unwrap();
        for (&i, &delete) in &hits {
            if delete {
                block_on(s[i].delete("obj")).unwrap();
            } else {
                let mut v = block_on(s[i].get("obj")).unwrap().to_vec();
                let at = len % v.len();
                v[at] ^= 0xff;
                block_on(s[i].put("obj", Bytes::from(v), PutMode::Overwrite)).unwrap();
            }
        }
        let got = block_on(e.get_object("obj"));
        if hits.len() <= 2 {
            prop_assert_eq!(got.unwrap(), data);
        } else {
            let typed = matches!(got, Err(Error::NotEnoughShards { need: 4, .. }))
                || (hits.values().all(|d| *d) && hits.len() == 6);
            prop_assert!(typed, "{:?}", got.map(|b| b.len()));
        }
    }
}

#[test]
fn missing_object_and_too_few_shards_are_typed() {
    let (e, s) = mem_4_2();
    let data = pattern(1, 5000);
    block_on(e.put("a/b", data.clone(), PutMode::CreateOnly)).unwrap();
    for store in &s[..3] {
        block_on(store.delete("a/b")).unwrap();
    }
    match block_on(e.get_object("a/b")) {
        Err(Error::NotEnoughShards { key, have, need }) => {
            assert_eq!((key.as_str(), have, need), ("a/b", 3, 4));
        }
        other => panic!("{other:?}"),
    }
    // Through the Backend trait: a non-transient-looking but named error.
    let err = block_on(e.get("a/b")).unwrap_err();
    assert_eq!(err.key(), "a/b");
    assert!(block_on(e.get("nope")).unwrap_err().is_not_found());
    // Stat agrees.
    assert!(matches!(
        block_on(e.stat_object("a/b")),
        Err(Error::NotEnoughShards { .. })
    ));
}

#[test]
fn corrupt_child_is_read_around_and_hinted() {
    let s = stores(6);
    let mut backends: Vec<Arc<dyn Backend>> = s
        .iter()
        .map(|m| Arc::new(m.clone()) as Arc<dyn Backend>)
        .collect();
    backends[1] = Arc::new(Corrupting::new(s[1].clone(), 7));
    // Slow children 4 and 5 so reads go to 0..=3 first, meeting the corrupt one.
    for i in [4, 5] {
        backends[i] = Arc::new(Latency::new(s[i].clone(), Duration::from_millis(30)));
    }
    let e = ErasureBackend::new(children(backends), config(4, 2)).unwrap();
    let data = pattern(2, 100_000);
    block_on(e.put("x", data.clone(), PutMode::CreateOnly)).unwrap();
    for _ in 0..3 {
        assert_eq!(block_on(e.get("x")).unwrap(), data);
    }
    let hints = e.needs_repair();
    assert!(
        hints.iter().any(|h| h.key == "x" && h.child == 1),
        "{hints:?}"
    );
    assert!(e.health_report().children[1].failures >= 1);
}

#[test]
fn write_quorum_failure_rolls_back_and_is_typed() {
    let s = stores(6);
    let backends: Vec<Arc<dyn Backend>> = s
        .iter()
        .enumerate()
        .map(|(i, m)| match i {
            1 | 2 | 4 => Arc::new(FailAfter::new(m.clone(), 0)) as Arc<dyn Backend>,
            _ => Arc::new(m.clone()) as Arc<dyn Backend>,
        })
        .collect();
    let e = ErasureBackend::new(children(backends), config(4, 2)).unwrap();
    match block_on(e.put_object("k", pattern(3, 999), PutMode::CreateOnly)) {
        Err(Error::QuorumNotReached {
            key, acked, needed, ..
        }) => {
            assert_eq!((key.as_str(), acked, needed), ("k", 3, 5));
        }
        other => panic!("{other:?}"),
    }
    // Nothing left behind that a retry would mistake for the object.
    assert!(s.iter().all(MemoryBackend::is_empty));
    assert!(block_on(e.get("k")).unwrap_err().is_not_found());
}

#[test]
fn retried_put_of_same_bytes_completes_a_partial_object() {
    let (e, s) = mem_4_2();
    let data = pattern(4, 3000);
    block_on(e.put("p", data.clone(), PutMode::CreateOnly)).unwrap();
    block_on(s[2].delete("p")).unwrap();
    block_on(s[5].delete("p")).unwrap();
    let again = block_on(e.put("p", data.clone(), PutMode::CreateOnly)).unwrap_err();
    assert!(again.is_already_exists());
    assert!(block_on(s[2].get("p")).is_ok() && block_on(s[5].get("p")).is_ok());
    // Different bytes: refused, nothing changed.
    let other = block_on(e.put("p", pattern(5, 3000), PutMode::CreateOnly)).unwrap_err();
    assert!(other.is_already_exists());
    assert_eq!(block_on(e.get("p")).unwrap(), data);
}

#[test]
fn placement_and_config_are_validated() {
    let s = stores(6);
    let labelled = |regions: [&str; 6]| -> Vec<Child> {
        mem_children(&s)
            .into_iter()
            .zip(regions)
            .map(|(c, r)| c.with_labels(Labels::new().region(r).zone(format!("{r}-1")).tier("ssd")))
            .collect()
    };
    let ok = ErasureBackend::new(
        labelled(["a", "a", "b", "b", "c", "c"]),
        config(4, 2).max_shards_per_region(2),
    );
    assert!(ok.is_ok());
    let e = ok.unwrap();
    match ErasureBackend::new(
        labelled(["a", "a", "a", "b", "b", "c"]),
        config(4, 2).max_shards_per_region(2),
    ) {
        Err(Error::PlacementImpossible {
            region,
            shards,
            max,
        }) => {
            assert_eq!((region.as_str(), shards, max), ("a", 3, 2));
        }
        other => panic!("{other:?}"),
    }
    let unlabelled = ErasureBackend::new(mem_children(&s), config(4, 2).max_shards_per_region(2));
    assert!(matches!(unlabelled, Err(Error::InvalidConfig { .. })));
    let five = ErasureBackend::new(mem_children(&s[..5]), config(4, 2));
    assert!(matches!(five, Err(Error::InvalidConfig { .. })));
    for q in [3, 7] {
        let r = ErasureBackend::new(mem_children(&s), config(4, 2).write_quorum(q));
        assert!(matches!(r, Err(Error::InvalidConfig { .. })), "quorum {q}");
    }
    let r = ErasureBackend::new(mem_children(&s[..1]), config(0, 1));
    assert!(matches!(r, Err(Error::InvalidParameters { .. })));
    // Replacing a child may not break placement either.
    let into_a =
        Child::new("new", Arc::new(MemoryBackend::new())).with_labels(Labels::new().region("a"));
    assert!(matches!(
        e.replace_child(4, into_a),
        Err(Error::PlacementImpossible { .. })
    ));
    assert!(matches!(
        e.replace_child(9, Child::new("x", Arc::new(MemoryBackend::new()))),
        Err(Error::InvalidConfig { .. })
    ));
    let report = e.health_report().to_string();
    assert!(
        report.contains("a/a-1/ssd") && report.contains("closed"),
        "{report}"
    );
}

#[test]
fn slow_child_is_avoided_once_its_latency_is_known() {
    let s = stores(6);
    let counters: Vec<Arc<Counting<Arc<dyn Backend>>>> = s
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let inner: Arc<dyn Backend> = match i {
                2 => Arc::new(Latency::new(m.clone(), Duration::from_millis(40))),
                _ => Arc::new(m.clone()),
            };
            Arc::new(Counting::new(inner))
        })
        .collect();
    let e = ErasureBackend::new(
        children(
            counters
                .iter()
                .map(|c| c.clone() as Arc<dyn Backend>)
                .collect(),
        ),
        config(4, 2),
    )
    .unwrap();
    // Writes touch every child and teach the latencies.
    for i in 0..4 {
        block_on(e.put(&format!("o{i}"), pattern(i, 2000), PutMode::CreateOnly)).unwrap();
    }
    counters.iter().for_each(|c| c.reset());
    for round in 0..3 {
        for i in 0..4 {
            assert_eq!(
                block_on(e.get(&format!("o{i}"))).unwrap(),
                pattern(i, 2000),
                "{round}"
            );
        }
    }
    let gets: Vec<u64> = counters.iter().map(|c| c.snapshot().gets).collect();
    assert_eq!(gets[2], 0, "the slow child was read: {gets:?}");
    assert_eq!(gets.iter().sum::<u64>(), 12 * 4, "{gets:?}");
}

#[test]
fn dead_child_opens_its_breaker_and_is_probed_back() {
    let s = stores(6);
    let dead = Arc::new(FailAfter::new(s[1].clone(), 0));
    let mut backends: Vec<Arc<dyn Backend>> = s
        .iter()
        .map(|m| Arc::new(m.clone()) as Arc<dyn Backend>)
        .collect();
    backends[1] = dead.clone();
    let e = ErasureBackend::new(children(backends), config(4, 2)).unwrap();
    for i in 0..4 {
        block_on(e.put(&format!("o{i}"), pattern(i, 500), PutMode::CreateOnly)).unwrap();
    }
    let r = e.health_report();
    assert_eq!(r.children[1].state, BreakerState::Open, "{r}");
    assert!(r.children[1].times_opened >= 1);
    assert!(r
        .children
        .iter()
        .enumerate()
        .all(|(i, c)| i == 1 || c.state == BreakerState::Closed));
    // The missed shards are known to need repair.
    let hinted: Vec<_> = e
        .needs_repair()
        .into_iter()
        .filter(|h| h.child == 1)
        .collect();
    assert_eq!(hinted.len(), 4, "{hinted:?}");
    // The child comes back: the next call is a probe (cool-down 0) and closes it.
    dead.heal();
    block_on(e.put("after", pattern(9, 500), PutMode::CreateOnly)).unwrap();
    let r = e.health_report();
    assert_eq!(r.children[1].state, BreakerState::Closed, "{r}");
    // Repair what it missed, from the hints alone.
    let report = block_on(e.repair_hinted(true)).unwrap();
    assert_eq!(report.shards_repaired, 4, "{report}");
    assert!(e.needs_repair().is_empty());
    for i in 0..4 {
        assert!(block_on(s[1].get(&format!("o{i}"))).is_ok());
    }
}

#[test]
fn flapping_child_opens_its_circuit_and_data_stays_exact() {
    let s = stores(6);
    let flaky = Arc::new(Flaky::new(s[0].clone(), 0.7, 42));
    let mut backends: Vec<Arc<dyn Backend>> = s
        .iter()
        .map(|m| Arc::new(m.clone()) as Arc<dyn Backend>)
        .collect();
    backends[0] = flaky.clone();
    let e = ErasureBackend::new(children(backends), config(4, 2)).unwrap();
    for i in 0..20 {
        block_on(e.put(&format!("f{i}"), pattern(i, 700), PutMode::CreateOnly)).unwrap();
    }
    for i in 0..20 {
        assert_eq!(block_on(e.get(&format!("f{i}"))).unwrap(), pattern(i, 700));
    }
    let r = e.health_report();
    assert!(flaky.injected() > 0);
    assert!(r.children[0].times_opened >= 1, "{r}");
    // Probed back at least once: it succeeded after having been opened.
    assert!(r.children[0].successes >= 1, "{r}");
}

#[tokio::test]
async fn works_under_tokio_with_large_objects() {
    let (e, s) = mem_4_2();
    let data = pattern(11, 3 << 20);
    e.put("big", data.clone(), PutMode::CreateOnly)
        .await
        .unwrap();
    s[0].delete("big").await.unwrap();
    s[3].delete("big").await.unwrap();
    assert_eq!(e.get("big").await.unwrap(), data);
    assert_eq!(
        e.get_range("big", 10..20).await.unwrap(),
        data.slice(10..20)
    );
    assert_eq!(e.stat("big").await.unwrap().size, data.len() as u64);
}

#[test]
fn calls_that_hang_time_out_and_count_as_failures() {
    let s = stores(6);
    let mut backends: Vec<Arc<dyn Backend>> = s
        .iter()
        .map(|m| Arc::new(m.clone()) as Arc<dyn Backend>)
        .collect();
    // Far slower than the timeout: every call to it times out.
    backends[3] = Arc::new(Latency::new(s[3].clone(), Duration::from_secs(600)));
    let cfg = config(4, 2).op_timeout(Some(Duration::from_millis(20)));
    let e = ErasureBackend::new(children(backends), cfg).unwrap();
    let data = pattern(8, 4000);
    block_on(e.put("t", data.clone(), PutMode::CreateOnly)).unwrap();
    assert_eq!(block_on(e.get("t")).unwrap(), data);
    let r = e.health_report();
    let c = &r.children[3];
    // Each attempt (3 with the default retry policy) timed out.
    assert_eq!((c.timeouts, c.failures, c.successes), (3, 3, 0), "{r}");
    assert!(e.needs_repair().iter().any(|h| h.child == 3));
    assert!(s[3].is_empty());
}

#[test]
fn create_only_sees_an_object_the_leader_forgot() {
    let (e, s) = mem_4_2();
    let data = pattern(12, 2500);
    block_on(e.put("taken", data.clone(), PutMode::CreateOnly)).unwrap();
    // Child 0 (where create-only puts take their leader shard) is replaced by
    // an empty store: it does not know the key, the other five do.
    let fresh = MemoryBackend::new();
    e.replace_child(0, Child::new("c0-new", Arc::new(fresh.clone())))
        .unwrap();
    let err = block_on(e.put("taken", pattern(13, 2500), PutMode::CreateOnly)).unwrap_err();
    assert!(err.is_already_exists(), "{err}");
    // Its own leader shard was rolled back; the original is intact.
    assert!(fresh.is_empty());
    assert_eq!(block_on(e.get("taken")).unwrap(), data);
    assert!(block_on(s[1].get("taken")).is_ok());
}

#[test]
fn hedged_reads_go_around_a_hung_child() {
    let s = stores(6);
    // Written through a plain backend, so the reader below knows no latencies
    // and asks children 0..=3 first.
    let writer = ErasureBackend::new(mem_children(&s), config(4, 2)).unwrap();
    let data = pattern(14, 9000);
    block_on(writer.put("h", data.clone(), PutMode::CreateOnly)).unwrap();
    let counters: Vec<Arc<Counting<Arc<dyn Backend>>>> = s
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let inner: Arc<dyn Backend> = match i {
                0 => Arc::new(Latency::new(m.clone(), Duration::from_secs(600))),
                _ => Arc::new(m.clone()),
            };
            Arc::new(Counting::new(inner))
        })
        .collect();
    let cfg = config(4, 2)
        .op_timeout(Some(Duration::from_secs(5)))
        .hedge_after(Some(Duration::from_millis(10)));
    let reader = ErasureBackend::new(
        children(
            counters
                .iter()
                .map(|c| c.clone() as Arc<dyn Backend>)
                .collect(),
        ),
        cfg,
    )
    .unwrap();
    assert_eq!(block_on(reader.get("h")).unwrap(), data);
    // The hung read was abandoned, not timed out, and child 4 stood in.
    let r = reader.health_report();
    assert_eq!(r.children[0].timeouts, 0, "{r}");
    assert_eq!(counters[4].snapshot().gets, 1);
}

#[test]
fn open_circuit_is_not_called_by_writes_during_its_cool_down() {
    let s = stores(6);
    let dead = Arc::new(Counting::new(
        Arc::new(FailAfter::new(s[2].clone(), 0)) as Arc<dyn Backend>
    ));
    let mut backends: Vec<Arc<dyn Backend>> = s
        .iter()
        .map(|m| Arc::new(m.clone()) as Arc<dyn Backend>)
        .collect();
    backends[2] = dead.clone();
    let mut cfg = config(4, 2);
    cfg.health.cool_down = Duration::from_secs(3600);
    let e = ErasureBackend::new(children(backends), cfg).unwrap();
    // Three failed puts open the circuit (threshold 3).
    for i in 0..3 {
        block_on(e.put(&format!("w{i}"), pattern(i, 300), PutMode::CreateOnly)).unwrap();
    }
    assert_eq!(e.health_report().children[2].state, BreakerState::Open);
    let calls = dead.snapshot().ops();
    for i in 3..6 {
        block_on(e.put(&format!("w{i}"), pattern(i, 300), PutMode::CreateOnly)).unwrap();
    }
    block_on(e.put("w0", pattern(0, 301), PutMode::Overwrite)).unwrap();
    assert_eq!(dead.snapshot().ops(), calls, "an open circuit was called");
    // Every skipped shard is known to need repair.
    let hinted = e.needs_repair().iter().filter(|h| h.child == 2).count();
    assert_eq!(hinted, 6);
}
