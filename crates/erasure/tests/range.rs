#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Range reads: only the covering blocks are fetched when shards are
//! healthy, any `m` lost or corrupt shards are rebuilt stripe by stripe,
//! and no byte that fails its checksum is ever returned.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use cairn_backends::testing::Counting;
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_erasure::{Codec, ErasureBackend, ShardFormat};
use common::{children, config, mem_children, stores};
use futures::executor::block_on;
use proptest::prelude::*;

const KEY: &str = "data/00/pack";

fn seeded(len: usize, seed: u64) -> Vec<u8> {
    let mut x: u64 = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// What happens to one shard.
#[derive(Debug, Clone, Copy)]
enum Damage {
    Missing,
    /// One byte flipped at this position (taken modulo the shard length).
    Flip(usize),
}

async fn damage(store: &MemoryBackend, how: Damage) {
    match how {
        Damage::Missing => store.delete(KEY).await.unwrap(),
        Damage::Flip(at) => {
            let mut v = store.get(KEY).await.unwrap().to_vec();
            let at = at % v.len();
            v[at] ^= 0x5a;
            store
                .put(KEY, Bytes::from(v), PutMode::Overwrite)
                .await
                .unwrap();
        }
    }
}

fn layout(k: usize, m: usize) -> (ErasureBackend, Vec<MemoryBackend>) {
    let s = stores(k + m);
    let e = ErasureBackend::new(mem_children(&s), config(k, m)).unwrap();
    (e, s)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any `<= m` shards missing or corrupt (anywhere: header, table,
    /// payload), any range: the bytes equal the slice of the original.
    #[test]
    fn ranges_survive_any_m_damaged_shards(
        (k, m) in prop_oneof![Just((2usize, 1usize)), Just((4, 2)), Just((3, 3))],
        len in 0usize..400_000,
        seed in any::<u64>(),
        damaged in proptest::collection::vec((0usize..6, any::<bool>(), any::<usize>()), 0..=3),
        start in any::<proptest::sample::Index>(),
        span in 0usize..300_000,
    ) {
        let data = Bytes::from(seeded(len, seed));
        let (e, s) = layout(k, m);
        block_on(async {
            e.put(KEY, data.clone(), PutMode::CreateOnly).await.unwrap();
            let mut hit = std::collections::BTreeSet::new();
            for &(i, missing, at) in &damaged {
                let i = i % (k + m);
                if hit.len() == m && !hit.contains(&i) || !hit.insert(i) {
                    continue;
                }
                let how = if missing { Damage::Missing } else { Damage::Flip(at) };
                damage(&s[i], how).await;
            }
            let a = start.index(len + 1);
            let b = (a + span).min(len + 10);
            let got = e.get_range(KEY, a as u64..b as u64).await.unwrap();
            prop_assert_eq!(&got[..], &data[a..b.min(len)]);
            Ok(())
        })?;
    }

    /// More damage than the code tolerates: a range read is either exact
    /// or an error — a flipped byte is never handed out.
    #[test]
    fn heavy_damage_never_returns_wrong_bytes(
        len in 1usize..300_000,
        seed in any::<u64>(),
        flips in proptest::collection::vec((0usize..6, any::<usize>()), 1..8),
        start in any::<proptest::sample::Index>(),
        span in 1usize..200_000,
    ) {
        let data = Bytes::from(seeded(len, seed));
        let (e, s) = layout(4, 2);
        block_on(async {
            e.put(KEY, data.clone(), PutMode::CreateOnly).await.unwrap();
            for &(i, at) in &flips {
                damage(&s[i], Damage::Flip(at)).await;
            }
            let a = start.index(len);
            let b = (a + span).min(len);
            if let Ok(got) = e.get_range(KEY, a as u64..b as u64).await {
                prop_assert_eq!(&got[..], &data[a..b]);
            }
            Ok(())
        })?;
    }
}

/// Ranges at the edges: inside one block, across a block boundary, across a
/// shard boundary, the whole object, the last byte, empty at the end.
fn edge_ranges(len: usize, p: usize) -> Vec<(usize, usize)> {
    let b = 64 * 1024;
    vec![
        (0, 1),
        (10, 100),
        (b - 5, b + 5),
        (p - 3, p + 3),
        (p - 1, 2 * p + 1),
        (0, len),
        (len - 1, len),
        (len, len),
        (3 * b + 7, 5 * b),
        (2 * p + b, 3 * p + 2 * b + 1),
    ]
}

/// Every pattern of at most two shards of 4+2 missing or corrupt, over the
/// edge ranges: exact bytes each time.
#[test]
fn every_shard_loss_pattern_of_4_2_reads_every_edge_range() {
    let len = 1_000_003;
    let data = Bytes::from(seeded(len, 7));
    let p = len.div_ceil(4);
    let mut patterns: Vec<Vec<(usize, Damage)>> = vec![vec![]];
    let hows = [Damage::Missing, Damage::Flip(usize::MAX / 3)];
    for i in 0..6 {
        for &hi in &hows {
            patterns.push(vec![(i, hi)]);
            for j in i + 1..6 {
                for &hj in &hows {
                    patterns.push(vec![(i, hi), (j, hj)]);
                }
            }
        }
    }
    assert_eq!(patterns.len(), 1 + 12 + 60);
    block_on(async {
        for pattern in patterns {
            let (e, s) = layout(4, 2);
            e.put(KEY, data.clone(), PutMode::CreateOnly).await.unwrap();
            for &(i, how) in &pattern {
                damage(&s[i], how).await;
            }
            for (a, b) in edge_ranges(len, p) {
                let got = e.get_range(KEY, a as u64..b as u64).await.unwrap();
                assert_eq!(&got[..], &data[a..b], "{pattern:?} {a}..{b}");
            }
        }
    });
}

/// A flipped payload byte inside the requested range, on more shards than
/// the code can correct: an error, not the flipped byte.
#[test]
fn a_corrupted_byte_in_the_range_is_never_returned() {
    let data = Bytes::from(seeded(500_000, 3));
    let codec = Codec::new(4, 2).unwrap();
    let shards = codec.encode(&data).unwrap();
    let off = shards[0].len() - 125_000; // where payloads start
    block_on(async {
        // One data shard corrupt at object byte 1000: repaired, exact.
        let (e, s) = layout(4, 2);
        e.put(KEY, data.clone(), PutMode::CreateOnly).await.unwrap();
        damage(&s[0], Damage::Flip(off + 1000)).await;
        let got = e.get_range(KEY, 900..1100).await.unwrap();
        assert_eq!(&got[..], &data[900..1100]);
        // The same column corrupt on three shards (more than m = 2): the
        // stripe cannot be rebuilt and the whole read fails too.
        for i in [1, 4] {
            damage(&s[i], Damage::Flip(off + 1000)).await;
        }
        let err = e.get_range(KEY, 900..1100).await.unwrap_err();
        assert!(err.to_string().contains(KEY), "{err}");
        // Outside the damaged block, healthy reads still work.
        let far = 200_000..200_100;
        let got = e.get_range(KEY, far.clone()).await.unwrap();
        assert_eq!(&got[..], &data[200_000..200_100]);
    });
}

/// Objects written in shard format 1 (by older Cairn) are read whole and
/// sliced, also with shards lost.
#[test]
fn version_1_shards_stay_readable() {
    let data = Bytes::from(seeded(300_000, 11));
    let codec = Codec::new(4, 2).unwrap();
    let v1 = codec.encode_format(&data, ShardFormat::V1).unwrap();
    assert_eq!(v1[0][4], 1);
    let (e, s) = layout(4, 2);
    block_on(async {
        for (store, shard) in s.iter().zip(&v1) {
            store
                .put(KEY, shard.clone(), PutMode::CreateOnly)
                .await
                .unwrap();
        }
        assert_eq!(e.get(KEY).await.unwrap(), data);
        assert_eq!(e.stat(KEY).await.unwrap().size, 300_000);
        let got = e.get_range(KEY, 70_000..150_000).await.unwrap();
        assert_eq!(&got[..], &data[70_000..150_000]);
        s[0].delete(KEY).await.unwrap();
        damage(&s[2], Damage::Flip(5000)).await;
        let got = e.get_range(KEY, 1..299_999).await.unwrap();
        assert_eq!(&got[..], &data[1..299_999]);
    });
}

/// A v1 object repaired by a newer scrub holds shards of both versions:
/// reads still work (the payloads are the same bytes).
#[test]
fn mixed_version_shards_of_one_object_read_back() {
    let data = Bytes::from(seeded(200_000, 5));
    let codec = Codec::new(4, 2).unwrap();
    let v1 = codec.encode_format(&data, ShardFormat::V1).unwrap();
    let v2 = codec.encode(&data).unwrap();
    let (e, s) = layout(4, 2);
    block_on(async {
        for (i, store) in s.iter().enumerate() {
            let shard = if i % 2 == 0 { &v1[i] } else { &v2[i] };
            store
                .put(KEY, shard.clone(), PutMode::CreateOnly)
                .await
                .unwrap();
        }
        assert_eq!(e.get(KEY).await.unwrap(), data);
        for (a, b) in [(0, 10), (60_000, 140_000), (199_990, 200_000)] {
            let got = e.get_range(KEY, a..b).await.unwrap();
            assert_eq!(&got[..], &data[a as usize..b as usize], "{a}..{b}");
        }
    });
}

fn counted(k: usize, m: usize) -> (ErasureBackend, Vec<Arc<Counting<MemoryBackend>>>) {
    let c: Vec<Arc<Counting<MemoryBackend>>> = (0..k + m)
        .map(|_| Arc::new(Counting::new(MemoryBackend::new())))
        .collect();
    let kids = children(
        c.iter()
            .map(|c| Arc::clone(c) as Arc<dyn Backend>)
            .collect(),
    );
    (ErasureBackend::new(kids, config(k, m)).unwrap(), c)
}

fn fetched(c: &[Arc<Counting<MemoryBackend>>]) -> u64 {
    c.iter().map(|c| c.snapshot().bytes_got).sum()
}

/// A healthy range read of 100 KiB from a 16 MiB object fetches about
/// 100 KiB (covering blocks, one header with its table), not 16 MiB; a
/// degraded one (a data shard gone) fetches the stripe from k shards.
#[test]
fn a_healthy_range_read_fetches_about_the_requested_bytes() {
    let len = 16 << 20;
    let data = Bytes::from(seeded(len, 9));
    let (e, c) = counted(4, 2);
    block_on(async {
        e.put(KEY, data.clone(), PutMode::CreateOnly).await.unwrap();
        for x in &c {
            x.reset();
        }
        let (a, b) = (5_000_000usize, 5_000_000 + 100 * 1024);
        let got = e.get_range(KEY, a as u64..b as u64).await.unwrap();
        assert_eq!(&got[..], &data[a..b]);
        let healthy = fetched(&c);
        // 100 KiB spans at most 3 blocks of 64 KiB; the header read is at
        // most 32 KiB + 84 bytes.
        assert!(healthy <= 3 * 65_536 + 32 * 1024 + 84, "{healthy}");
        assert!(healthy >= (b - a) as u64);
        let requests: u64 = c.iter().map(|c| c.snapshot().ops()).sum();
        assert_eq!(requests, 2, "one header read, one block read");
        // The old whole-object path fetched at least the k data shards.
        assert!(healthy * 20 < len as u64);
        // The next range of the same pack reuses the block table.
        for x in &c {
            x.reset();
        }
        let got = e.get_range(KEY, 9_000_000..9_000_100).await.unwrap();
        assert_eq!(&got[..], &data[9_000_000..9_000_100]);
        let requests: u64 = c.iter().map(|c| c.snapshot().ops()).sum();
        assert_eq!((requests, fetched(&c)), (1, 65_536));

        // Lose the data shard that holds the range (shard 1: bytes 4 MiB..8 MiB).
        c[1].delete(KEY).await.unwrap();
        for x in &c {
            x.reset();
        }
        let got = e.get_range(KEY, a as u64..b as u64).await.unwrap();
        assert_eq!(&got[..], &data[a..b]);
        let degraded = fetched(&c);
        assert!(degraded <= 4 * 3 * 65_536, "{degraded}");
        // The lost shard is noted for repair.
        let hints = e.needs_repair();
        assert_eq!(hints.len(), 1);
        assert_eq!((hints[0].key.as_str(), hints[0].child), (KEY, 1));
    });
}

/// Shard format 2 costs little: the table is a fraction of a percent.
#[test]
fn the_block_table_is_small() {
    let data = Bytes::from(seeded(16 << 20, 1));
    let shards = Codec::new(4, 2).unwrap().encode(&data).unwrap();
    let payload = (16 << 20) / 4;
    // 6 shards x 64 blocks x 32 bytes of table.
    assert_eq!(shards[0].len(), 84 + 6 * 64 * 32 + payload);
}

/// An object overwritten after its block table was cached still reads
/// back exactly: the stale table fails verification and is dropped.
#[test]
fn a_stale_cached_table_costs_speed_not_correctness() {
    let old = Bytes::from(seeded(300_000, 1));
    let new = Bytes::from(seeded(300_000, 2));
    let (e1, s) = layout(4, 2);
    // A second process over the same stores.
    let e2 = ErasureBackend::new(mem_children(&s), config(4, 2)).unwrap();
    block_on(async {
        e1.put(KEY, old.clone(), PutMode::CreateOnly).await.unwrap();
        let got = e1.get_range(KEY, 1000..2000).await.unwrap();
        assert_eq!(&got[..], &old[1000..2000]);
        e2.put(KEY, new.clone(), PutMode::Overwrite).await.unwrap();
        for _ in 0..2 {
            let got = e1.get_range(KEY, 1000..2000).await.unwrap();
            assert_eq!(&got[..], &new[1000..2000]);
        }
        // Its own stale table is not held against the children.
        assert!(e1.needs_repair().is_empty());
        let h = e1.health_report();
        assert!(h.children.iter().all(|c| c.failures == 0), "{h:?}");
    });
}

/// A data child that fails every call (not "not found": an outage) is
/// routed around: its blocks are rebuilt from the others.
#[test]
fn a_failing_data_child_is_routed_around() {
    use cairn_backends::testing::FailAfter;
    let data = Bytes::from(seeded(600_000, 4));
    let s = stores(6);
    let down = Arc::new(FailAfter::new(s[0].clone(), u64::MAX));
    let mut kids: Vec<Arc<dyn Backend>> = vec![Arc::clone(&down) as Arc<dyn Backend>];
    kids.extend(
        s[1..]
            .iter()
            .map(|s| Arc::new(s.clone()) as Arc<dyn Backend>),
    );
    let e = ErasureBackend::new(children(kids), config(4, 2)).unwrap();
    block_on(async {
        e.put(KEY, data.clone(), PutMode::CreateOnly).await.unwrap();
        down.reset(0);
        for (a, b) in [(0, 10), (100_000, 160_000), (140_000, 300_000)] {
            let got = e.get_range(KEY, a..b).await.unwrap();
            assert_eq!(&got[..], &data[a as usize..b as usize], "{a}..{b}");
        }
    });
}
