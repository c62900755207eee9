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
