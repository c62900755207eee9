#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Listing names without sizes: no shard header is read, and the listing is
//! complete or an error, by the same rule as `list`.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use cairn_backends::testing::{Counting, FailAfter};
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_erasure::{ErasureBackend, Error};
use common::{children, config};
use futures::executor::block_on;
use futures::TryStreamExt;

#[test]
fn list_keys_reads_no_shard_header() {
    let c: Vec<Arc<Counting<MemoryBackend>>> = (0..6)
        .map(|_| Arc::new(Counting::new(MemoryBackend::new())))
        .collect();
    let kids = children(
        c.iter()
            .map(|c| Arc::clone(c) as Arc<dyn Backend>)
            .collect(),
    );
    let e = ErasureBackend::new(kids, config(4, 2)).unwrap();
    block_on(async {
        for i in 0..50 {
            let data = Bytes::from(vec![i as u8; 1000 + i]);
            e.put(&format!("index/{i:03}"), data, PutMode::CreateOnly)
                .await
                .unwrap();
        }
        for x in &c {
            x.reset();
        }
        let keys = e.list_keys("index/").await.unwrap();
        assert_eq!(keys.len(), 50);
        assert_eq!(keys[0], "index/000");
        let reads: u64 = c
            .iter()
            .map(|x| x.snapshot().gets + x.snapshot().get_ranges)
            .sum();
        assert_eq!(reads, 0);
        // `list` through the trait must report sizes: one header per key.
        let metas: Vec<_> = e.list("index/").try_collect().await.unwrap();
        assert_eq!(metas.len(), 50);
        assert!(metas.iter().any(|m| m.key == "index/007" && m.size == 1007));
        let reads: u64 = c.iter().map(|x| x.snapshot().get_ranges).sum();
        assert_eq!(reads, 50);
    });
}

#[test]
fn list_keys_is_complete_or_an_error() {
    let stores: Vec<MemoryBackend> = (0..4).map(|_| MemoryBackend::new()).collect();
    let flaky: Vec<Arc<FailAfter<MemoryBackend>>> = stores
        .iter()
        .map(|s| Arc::new(FailAfter::new(s.clone(), u64::MAX)))
        .collect();
    let kids = children(
        flaky
            .iter()
            .map(|f| Arc::clone(f) as Arc<dyn Backend>)
            .collect(),
    );
    // 2+2: two failed listings could hide an object.
    let e = ErasureBackend::new(kids, config(2, 2)).unwrap();
    block_on(async {
        e.put("data/a", Bytes::from_static(b"aaaa"), PutMode::CreateOnly)
            .await
            .unwrap();
        // A leftover shard on one child only: not an object.
        stores[3]
            .put(
                "data/leftover",
                Bytes::from_static(b"x"),
                PutMode::CreateOnly,
            )
            .await
            .unwrap();
        assert_eq!(e.list_keys("data/").await.unwrap(), vec!["data/a"]);
        // One child unheard: the leftover might have a second shard there,
        // so it is kept (it may be readable), as `list` keeps it.
        flaky[0].reset(0);
        let keys = e.list_keys("data/").await.unwrap();
        assert_eq!(keys, vec!["data/a", "data/leftover"]);
        flaky[1].reset(0);
        let err = e.list_keys("data/").await.unwrap_err();
        assert!(matches!(err, Error::IncompleteListing { .. }), "{err}");
    });
}

/// Stray shards: keys on fewer than `k` children, found only from a
/// listing of every child, and removed child by child.
#[test]
fn partial_keys_need_every_child_and_delete_shards_removes_them_everywhere() {
    let stores: Vec<MemoryBackend> = (0..6).map(|_| MemoryBackend::new()).collect();
    let flaky: Vec<Arc<FailAfter<MemoryBackend>>> = stores
        .iter()
        .map(|s| Arc::new(FailAfter::new(s.clone(), u64::MAX)))
        .collect();
    let kids = children(
        flaky
            .iter()
            .map(|f| Arc::clone(f) as Arc<dyn Backend>)
            .collect(),
    );
    let e = ErasureBackend::new(kids, config(4, 2)).unwrap();
    block_on(async {
        e.put(
            "data/whole",
            Bytes::from(vec![1u8; 5000]),
            PutMode::CreateOnly,
        )
        .await
        .unwrap();
        e.put(
            "data/left",
            Bytes::from(vec![2u8; 5000]),
            PutMode::CreateOnly,
        )
        .await
        .unwrap();
        // Three of six shards of "data/left" go (a delete that reached only
        // them): three remain, fewer than k = 4. "data/whole" loses two and
        // is still an object.
        for i in [0, 2, 4] {
            stores[i].delete("data/left").await.unwrap();
        }
        for i in [1, 5] {
            stores[i].delete("data/whole").await.unwrap();
        }
        let partial = e.partial_keys_of("data/").await.unwrap();
        assert_eq!(partial.len(), 1);
        assert_eq!(
            (partial[0].key.as_str(), &partial[0].holders[..]),
            ("data/left", &[1, 3, 5][..])
        );
        assert_eq!(e.list_keys("data/").await.unwrap(), vec!["data/whole"]);
        // One child unheard: "data/left" might be whole, so no answer.
        flaky[3].reset(0);
        let err = e.partial_keys_of("data/").await.unwrap_err();
        assert!(matches!(err, Error::IncompleteListing { .. }), "{err}");
        // And a delete that cannot reach every child says so (the shards
        // on children 1 and 5 are gone; 3 keeps its own until it answers).
        assert!(e.delete_shards("data/left").await.is_err());
        assert!(stores[3].stat("data/left").await.is_ok());
        flaky[3].heal();
        assert_eq!(e.delete_shards("data/left").await.unwrap(), 1);
        for s in &stores {
            assert!(s.stat("data/left").await.unwrap_err().is_not_found());
        }
        assert!(e.partial_keys_of("").await.unwrap().is_empty());
        assert_eq!(e.delete_shards("data/left").await.unwrap(), 0);
        assert_eq!(e.get("data/whole").await.unwrap(), vec![1u8; 5000]);
    });
}
