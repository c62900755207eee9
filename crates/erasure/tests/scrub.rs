#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Scrub and repair: missing, corrupt and stale shards; a replaced child;
//! resuming and cancelling.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::Bytes;
use cairn_backends::testing::{pattern, FailAfter};
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_erasure::{Child, Codec, ErasureBackend, ScrubOptions};
use common::{children, config, mem_4_2};
use futures::executor::block_on;

fn fill(e: &ErasureBackend, n: u64) -> Vec<(String, Bytes)> {
    (0..n)
        .map(|i| {
            let key = format!("obj/{i:03}");
            let data = pattern(i, 1000 + i as usize * 37);
            block_on(e.put(&key, data.clone(), PutMode::CreateOnly)).unwrap();
            (key, data)
        })
        .collect()
}

#[test]
fn scrub_finds_and_repairs_missing_corrupt_and_stale_shards() {
    let (e, s) = mem_4_2();
    let objects = fill(&e, 10);
    // Missing: a shard deleted behind the erasure backend's back.
    block_on(s[0].delete("obj/000")).unwrap();
    // Corrupt: one byte of a payload flipped.
    let mut v = block_on(s[3].get("obj/001")).unwrap().to_vec();
    let last = v.len() - 1;
    v[last] ^= 1;
    block_on(s[3].put("obj/001", Bytes::from(v), PutMode::Overwrite)).unwrap();
    // Stale: a valid shard of an older version of the object.
    let old = Codec::new(4, 2)
        .unwrap()
        .encode(&pattern(99, 1074))
        .unwrap();
    block_on(s[5].put("obj/002", old[5].clone(), PutMode::Overwrite)).unwrap();
    // Unrecoverable: three of six shards gone.
    for store in &s[..3] {
        block_on(store.delete("obj/009")).unwrap();
    }

    let report = block_on(e.scrub(ScrubOptions::new())).unwrap();
    assert_eq!(report.objects_scanned, 10, "{report}");
    assert_eq!(report.objects_healthy, 6, "{report}");
    assert_eq!(
        (
            report.shards_missing,
            report.shards_corrupt,
            report.shards_stale
        ),
        (1, 1, 1),
        "{report}"
    );
    assert_eq!(report.unrecoverable, vec!["obj/009".to_owned()], "{report}");
    assert_eq!(report.shards_repaired, 0);
    assert!(report.complete && report.errors.is_empty(), "{report}");
    assert_eq!(report.last_key.as_deref(), Some("obj/009"));

    let report = block_on(e.scrub(ScrubOptions::new().repair(true).concurrency(2))).unwrap();
    assert_eq!(report.shards_repaired, 3, "{report}");
    let report = block_on(e.scrub(ScrubOptions::new())).unwrap();
    assert_eq!(report.objects_healthy, 9, "{report}");
    assert_eq!(
        report.shards_missing + report.shards_corrupt + report.shards_stale,
        0
    );
    assert_eq!(report.unrecoverable, vec!["obj/009".to_owned()]);
    // The repaired objects read back exactly from the repaired shards alone.
    for (key, data) in &objects[..3] {
        for store in &s[..2] {
            assert!(block_on(store.get(key)).is_ok());
        }
        assert_eq!(&block_on(e.get(key)).unwrap(), data);
    }
    // What was repaired is no longer hinted.
    assert!(
        e.needs_repair().iter().all(|h| h.key == "obj/009"),
        "{:?}",
        e.needs_repair()
    );
}

#[test]
fn scrub_resumes_from_a_cursor_and_stops_when_cancelled() {
    let (e, _s) = mem_4_2();
    fill(&e, 7);
    let first = block_on(e.scrub(ScrubOptions::new().limit(3))).unwrap();
    assert_eq!(first.objects_scanned, 3);
    assert!(!first.complete);
    assert_eq!(first.last_key.as_deref(), Some("obj/002"));
    let rest = block_on(e.scrub(ScrubOptions::new().start_after("obj/002"))).unwrap();
    assert_eq!(rest.objects_scanned, 4);
    assert!(rest.complete);
    assert_eq!(rest.last_key.as_deref(), Some("obj/006"));
    let prefixed = block_on(e.scrub(ScrubOptions::new().prefix("obj/00"))).unwrap();
    assert_eq!(prefixed.objects_scanned, 7);
    let cancel = Arc::new(AtomicBool::new(true));
    let none = block_on(e.scrub(ScrubOptions::new().cancel(cancel))).unwrap();
    assert_eq!(
        (none.objects_scanned, none.complete, none.last_key),
        (0, false, None)
    );
}

#[test]
fn replaced_dead_child_is_rebuilt_and_then_two_others_may_fail() {
    let s: Vec<MemoryBackend> = (0..6).map(|_| MemoryBackend::new()).collect();
    let e = ErasureBackend::new(common::mem_children(&s), config(4, 2)).unwrap();
    let objects = fill(&e, 12);
    // Child 2's disk dies; an empty one takes its place.
    let fresh = MemoryBackend::new();
    e.replace_child(2, Child::new("c2-new", Arc::new(fresh.clone())))
        .unwrap();
    assert_eq!(e.health_report().children[2].name, "c2-new");
    let report = block_on(e.scrub(ScrubOptions::new().repair(true))).unwrap();
    assert_eq!(
        (report.shards_missing, report.shards_repaired),
        (12, 12),
        "{report}"
    );
    assert_eq!(fresh.len(), 12);
    // Now lose two other children entirely: everything still reads exactly,
    // which needs the rebuilt shards.
    for i in [0, 5] {
        let dead = Arc::new(FailAfter::new(MemoryBackend::new(), 0)) as Arc<dyn Backend>;
        e.replace_child(i, Child::new(format!("dead{i}"), dead))
            .unwrap();
    }
    for (key, data) in &objects {
        assert_eq!(&block_on(e.get(key)).unwrap(), data, "{key}");
    }
    let report = block_on(e.scrub(ScrubOptions::new())).unwrap();
    assert_eq!(report.shards_unreachable, 24, "{report}");
    assert!(report.unrecoverable.is_empty());
}

#[tokio::test]
async fn scrub_repairs_under_tokio_over_local_dirs() {
    let dirs: Vec<tempfile::TempDir> = (0..6).map(|_| tempfile::tempdir().unwrap()).collect();
    let local = |d: &tempfile::TempDir| {
        Arc::new(cairn_backends::LocalBackend::new(d.path()).unwrap()) as Arc<dyn Backend>
    };
    let e = ErasureBackend::new(children(dirs.iter().map(local).collect()), config(4, 2)).unwrap();
    let data = pattern(5, 600_000);
    e.put("a/b/c", data.clone(), PutMode::CreateOnly)
        .await
        .unwrap();
    std::fs::remove_dir_all(dirs[4].path()).unwrap();
    std::fs::create_dir(dirs[4].path()).unwrap();
    let report = e.scrub(ScrubOptions::new().repair(true)).await.unwrap();
    assert_eq!(report.shards_repaired, 1, "{report}");
    std::fs::remove_dir_all(dirs[0].path()).unwrap();
    std::fs::remove_dir_all(dirs[1].path()).unwrap();
    assert_eq!(e.get("a/b/c").await.unwrap(), data);
    let _ = mem_4_2;
}
