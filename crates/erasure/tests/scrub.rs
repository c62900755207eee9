#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Scrub and repair: missing, corrupt and stale shards; a replaced child;
//! resuming and cancelling.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::Bytes;
use cairn_backends::testing::{pattern, FailAfter};
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_erasure::{content_hash_verifier, Child, Codec, ErasureBackend, ScrubOptions, Verdict};
use common::{children, config, mem_4_2, mem_children, stores};
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
    // Stale shards are only overwritten towards a verified version: this
    // verifier knows what `fill` writes.
    let e = e.with_verifier(Arc::new(|key: &str, data: &[u8]| {
        let i: u64 = key[4..].parse().unwrap();
        if data == &pattern(i, 1000 + i as usize * 37)[..] {
            Verdict::Valid
        } else {
            Verdict::Invalid
        }
    }));
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

#[test]
fn content_hash_verifier_judges_hex_names_and_leaves_others_unknown() {
    let v = content_hash_verifier();
    let data = b"some pack bytes";
    let hex = blake3::hash(data).to_hex();
    assert_eq!(v.verify(&format!("data/ab/{hex}"), data), Verdict::Valid);
    assert_eq!(v.verify(&format!("index/{hex}"), data), Verdict::Valid);
    assert_eq!(
        v.verify(&format!("snapshots/{hex}"), b"forged"),
        Verdict::Invalid
    );
    assert_eq!(v.verify("config", data), Verdict::Unknown);
    assert_eq!(
        v.verify(&format!("x/{}", hex.to_uppercase()), data),
        Verdict::Unknown
    );
}

/// A 2+2 layout holding the content-addressed object `honest` on children
/// 0 and 1, while the two "malicious" children 2 and 3 hold a
/// self-consistent forged version under the same key. Returns the stores,
/// the key and the honest shards' bytes.
fn forged_2_2() -> (Vec<MemoryBackend>, String, Vec<Bytes>) {
    let s = stores(4);
    let e = ErasureBackend::new(mem_children(&s), config(2, 2)).unwrap();
    let honest = pattern(7, 5000);
    let key = format!("data/{}", blake3::hash(&honest).to_hex());
    block_on(e.put(&key, honest, PutMode::CreateOnly)).unwrap();
    let forged = Codec::new(2, 2).unwrap().encode(&pattern(8, 5000)).unwrap();
    for i in [2, 3] {
        block_on(s[i].put(&key, forged[i].clone(), PutMode::Overwrite)).unwrap();
    }
    let shards = s.iter().map(|m| block_on(m.get(&key)).unwrap()).collect();
    (s, key, shards)
}

#[test]
fn forged_shards_on_m_children_never_make_scrub_destroy_honest_ones() {
    let (s, key, before) = forged_2_2();
    let verified = || {
        ErasureBackend::new(mem_children(&s), config(2, 2))
            .unwrap()
            .with_verifier(content_hash_verifier())
    };
    let unverified = || ErasureBackend::new(mem_children(&s), config(2, 2)).unwrap();

    // Outnumbered: one honest shard is lost, so only the forged version
    // decodes. Neither with nor without a verifier may scrub rewrite
    // towards it.
    block_on(s[1].delete(&key)).unwrap();
    for e in [verified(), unverified()] {
        let r = block_on(e.scrub(ScrubOptions::new().repair(true))).unwrap();
        assert_eq!(r.shards_repaired, 0, "{r}");
        assert_eq!(r.conflicts.len(), 1, "{r}");
        assert_eq!(r.conflicts[0].key, key);
        assert_eq!(
            block_on(s[0].get(&key)).unwrap(),
            before[0],
            "honest shard kept"
        );
        assert!(block_on(s[1].get(&key)).unwrap_err().is_not_found());
    }

    // A tie (two shards each): without a verifier it is reported, the same
    // way every time, and nothing is touched.
    block_on(s[1].put(&key, before[1].clone(), PutMode::CreateOnly)).unwrap();
    for _ in 0..3 {
        let r = block_on(unverified().scrub(ScrubOptions::new().repair(true))).unwrap();
        assert_eq!((r.shards_repaired, r.conflicts.len()), (0, 1), "{r}");
        assert!(
            r.conflicts[0].reason.contains("several decodable versions"),
            "{r}"
        );
        for (i, b) in before.iter().enumerate() {
            assert_eq!(&block_on(s[i].get(&key)).unwrap(), b);
        }
    }
    // With the verifier the honest version wins and the forged shards go.
    let e = verified();
    let r = block_on(e.scrub(ScrubOptions::new().repair(true))).unwrap();
    assert_eq!((r.shards_stale, r.shards_repaired), (2, 2), "{r}");
    assert!(r.conflicts.is_empty(), "{r}");
    assert_eq!(block_on(e.get(&key)).unwrap(), pattern(7, 5000));
    for store in &s[..2] {
        block_on(store.delete(&key)).unwrap();
    }
    assert_eq!(block_on(e.get(&key)).unwrap(), pattern(7, 5000));
}
