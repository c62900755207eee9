#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Codec round trips with shards lost or damaged, and hostile shard bytes.

use bytes::Bytes;
use cairn_erasure::{Codec, Error, Shard, ShardHeader, HEADER_LEN};
use proptest::prelude::*;

/// Applies `damage` to the shard slots: 0 = keep, 1 = drop, 2 = flip a byte,
/// 3 = truncate, 4 = swap in another shard's bytes.
fn damage(shards: &[Bytes], what: &[(usize, u8, usize)]) -> Vec<Option<Bytes>> {
    let mut slots: Vec<Option<Bytes>> = shards.iter().cloned().map(Some).collect();
    for &(i, kind, at) in what {
        let i = i % slots.len();
        slots[i] = match kind {
            1 => None,
            2 => {
                let mut v = shards[i].to_vec();
                let at = at % v.len();
                v[at] ^= 0x5a;
                Some(Bytes::from(v))
            }
            3 => Some(shards[i].slice(..at % shards[i].len())),
            _ => Some(shards[(i + 1) % shards.len()].clone()),
        };
    }
    slots
}

fn params() -> impl Strategy<Value = (usize, usize)> {
    (1usize..=10, 1usize..=5)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// With at most m shards missing or damaged, the object comes back exactly.
    #[test]
    fn up_to_m_bad_shards_decode_exactly(
        (k, m) in params(),
        data in proptest::collection::vec(any::<u8>(), 0..5000),
        picks in proptest::collection::vec((0usize..64, 1u8..=4, any::<usize>()), 0..16),
    ) {
        let codec = Codec::new(k, m).unwrap();
        let data = Bytes::from(data);
        let shards = codec.encode(&data).unwrap();
        prop_assert_eq!(shards.len(), k + m);
        // Damage distinct shards, at most m of them.
        let mut seen = std::collections::BTreeSet::new();
        let picks: Vec<_> = picks
            .into_iter()
            .filter(|p| seen.insert(p.0 % (k + m)))
            .take(m)
            .collect();
        let slots = damage(&shards, &picks);
        prop_assert_eq!(codec.decode(&slots).unwrap(), data);
    }

    /// With more than m shards missing or damaged: a typed error, never a
    /// panic and never wrong data.
    #[test]
    fn more_than_m_bad_shards_is_a_typed_error(
        (k, m) in params(),
        data in proptest::collection::vec(any::<u8>(), 1..3000),
        picks in proptest::collection::vec((0usize..64, 1u8..=4, any::<usize>()), 16..40),
    ) {
        let codec = Codec::new(k, m).unwrap();
        let data = Bytes::from(data);
        let shards = codec.encode(&data).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        let picks: Vec<_> = picks
            .into_iter()
            .filter(|p| seen.insert(p.0 % (k + m)))
            .take(m + 1)
            .collect();
        prop_assume!(picks.len() == m + 1);
        let slots = damage(&shards, &picks);
        match codec.decode(&slots) {
            Err(Error::NotEnoughShards { have, need, .. }) => {
                prop_assert!(have < need);
                prop_assert_eq!(need, k);
            }
            // A truncation at the full length leaves the shard intact, and
            // swapping in a shard of identical bytes changes nothing: then
            // fewer than m + 1 shards are really bad and the data must be exact.
            Ok(out) => prop_assert_eq!(out, data),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    /// Arbitrary bytes never panic the parsers and are almost never a shard.
    #[test]
    fn random_bytes_are_rejected_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let b = Bytes::from(bytes);
        let _ = ShardHeader::parse(&b);
        let refused = matches!(Shard::parse(b.clone()), Err(Error::BadShard { .. }));
        prop_assert!(refused);
        let codec = Codec::new(2, 1).unwrap();
        let r = codec.decode(&[Some(b.clone()), Some(b.clone()), Some(b)]);
        let refused = matches!(r, Err(Error::NotEnoughShards { have: 0, need: 2, .. }));
        prop_assert!(refused, "{:?}", r);
    }

    /// A valid header with any single field mutated never panics, and a
    /// mutated stored shard is never accepted.
    #[test]
    fn mutated_headers_are_rejected(
        at in 0usize..HEADER_LEN,
        value in any::<u8>(),
        data in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let codec = Codec::new(3, 2).unwrap();
        let shards = codec.encode(&Bytes::from(data)).unwrap();
        let mut v = shards[1].to_vec();
        prop_assume!(v[at] != value);
        v[at] = value;
        let _ = ShardHeader::parse(&v);
        let refused = matches!(Shard::parse(Bytes::from(v)), Err(Error::BadShard { .. }));
        prop_assert!(refused);
    }
}

#[test]
fn hostile_lengths_do_not_allocate_or_panic() {
    let codec = Codec::new(2, 1).unwrap();
    let shards = codec.encode(&Bytes::from_static(b"hello world")).unwrap();
    let mut v = shards[0].to_vec();
    // Claim an absurd object length: the length check refuses it.
    v[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
    let err = Shard::parse(Bytes::from(v)).unwrap_err();
    assert!(
        matches!(err, Error::BadShard { index: Some(0), .. }),
        "{err}"
    );
    // A header alone parses; as a whole shard it is too short.
    assert!(ShardHeader::parse(&shards[0][..HEADER_LEN]).is_ok());
    assert!(Shard::parse(shards[0].slice(..HEADER_LEN)).is_err());
    // Every truncation is refused.
    for cut in 0..shards[0].len() {
        assert!(Shard::parse(shards[0].slice(..cut)).is_err(), "cut {cut}");
    }
}

#[test]
fn wrong_slot_and_wrong_code_are_skipped() {
    let codec = Codec::new(2, 2).unwrap();
    let data = Bytes::from_static(b"some object bytes");
    let s = codec.encode(&data).unwrap();
    // Shards in the wrong slots are not used, even though they verify.
    let swapped = [Some(s[1].clone()), Some(s[0].clone()), None, None];
    assert!(matches!(
        codec.decode(&swapped),
        Err(Error::NotEnoughShards { have: 0, .. })
    ));
    // Shards of another code are not used.
    let other = Codec::new(3, 1).unwrap().encode(&data).unwrap();
    let mixed: Vec<_> = other.into_iter().map(Some).collect();
    assert!(matches!(
        codec.decode(&mixed),
        Err(Error::NotEnoughShards { .. })
    ));
    // Wrong number of slots is a parameter error.
    assert!(matches!(
        codec.decode(&[None]),
        Err(Error::InvalidParameters { .. })
    ));
}

#[test]
fn stale_shards_of_an_older_version_are_recognised() {
    let codec = Codec::new(2, 2).unwrap();
    let old_data = Bytes::from_static(b"version one!");
    let old = codec.encode(&old_data).unwrap();
    let new_data = Bytes::from_static(b"version two!");
    let new = codec.encode(&new_data).unwrap();
    // Same length, so only the object checksum tells them apart.
    let mixed = [
        Some(old[0].clone()),
        Some(new[1].clone()),
        Some(new[2].clone()),
        Some(old[3].clone()),
    ];
    // Two shards of each version: either decodes, never a blend of both.
    let out = codec.decode(&mixed).unwrap();
    assert!(out == old_data || out == new_data, "{out:?}");
    // One old shard beside two new ones: the new version, exactly.
    let mixed = [
        Some(old[0].clone()),
        Some(new[1].clone()),
        Some(new[2].clone()),
        None,
    ];
    assert_eq!(codec.decode(&mixed).unwrap(), new_data);
    // One of each (k = 2): not enough of either.
    let mixed = [Some(old[0].clone()), Some(new[1].clone()), None, None];
    assert!(matches!(
        codec.decode(&mixed),
        Err(Error::NotEnoughShards {
            have: 1,
            need: 2,
            ..
        })
    ));
}
