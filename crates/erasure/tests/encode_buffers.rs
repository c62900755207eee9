#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Large puts with reused shard buffers (`ErasureConfig::encode_buffers`):
//! children that keep the bytes they are given must not stall later puts,
//! and concurrent puts beyond the bound wait and then complete.

mod common;

use cairn_backends::testing::pattern;
use cairn_backends::{Backend, PutMode};
use cairn_erasure::ErasureBackend;
use common::{config, mem_children, stores};
use futures::executor::block_on;

/// Large enough to take the pooled path (256 KiB and more).
const LEN: usize = 1 << 20;

#[test]
fn children_keeping_their_shards_do_not_stall_later_puts() {
    // The in-memory children keep every shard's bytes, so no pooled buffer
    // ever comes back; with a waiting pool the second put hung forever.
    for n in [0, 1, 2] {
        let s = stores(6);
        let e = ErasureBackend::new(mem_children(&s), config(4, 2).encode_buffers(n)).unwrap();
        for i in 0..4u64 {
            let data = pattern(i, LEN);
            block_on(e.put(&format!("obj{i}"), data, PutMode::CreateOnly)).unwrap();
        }
        for i in 0..4u64 {
            let got = block_on(e.get(&format!("obj{i}"))).unwrap();
            assert_eq!(got, pattern(i, LEN), "encode_buffers {n}, object {i}");
        }
    }
}

#[test]
fn concurrent_puts_beyond_the_bound_all_complete_intact() {
    let s = stores(6);
    let e = ErasureBackend::new(mem_children(&s), config(4, 2).encode_buffers(1)).unwrap();
    let puts = (0..5u64).map(|i| {
        let e = &e;
        async move {
            e.put(&format!("obj{i}"), pattern(i, LEN), PutMode::CreateOnly)
                .await
        }
    });
    for r in block_on(futures::future::join_all(puts)) {
        r.unwrap();
    }
    for i in 0..5u64 {
        assert_eq!(
            block_on(e.get(&format!("obj{i}"))).unwrap(),
            pattern(i, LEN)
        );
    }
}
