//! The zstd decompression context each thread keeps (`blob.rs`): blobs
//! opened one after another on one thread come back intact, and a blob
//! whose body is not valid zstd is a typed error that does not spoil the
//! next blob (the failed context is dropped, not reused).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_crypto::{KeySet, MasterKey};
use cairn_format::blob::{open_blob, seal_blob};
use cairn_format::{BlobKind, Compression, Error};

fn keys() -> KeySet {
    KeySet::derive(&MasterKey::from_bytes([7; 32]))
}

/// Compressible bytes, different per `seed`.
fn text(seed: u64, len: usize) -> Vec<u8> {
    format!("line {seed} of some compressible text\n")
        .into_bytes()
        .into_iter()
        .cycle()
        .take(len)
        .collect()
}

fn round_trip(keys: &KeySet, plain: &[u8]) -> Vec<u8> {
    let id = keys.chunk_id_key().id(plain);
    let sealed = seal_blob(keys, BlobKind::Data, id, plain, Compression::Zstd(3)).unwrap();
    assert_eq!(
        sealed.compression,
        Compression::Zstd(3),
        "stored compressed"
    );
    open_blob(
        keys,
        "data/test",
        BlobKind::Data,
        &id,
        sealed.compression,
        sealed.raw_length,
        &sealed.bytes,
    )
    .unwrap()
}

#[test]
fn many_blobs_on_one_thread_and_a_bad_one_between_them() {
    let keys = keys();
    for seed in 0..50 {
        let plain = text(seed, 100 + 997 * seed as usize);
        assert_eq!(round_trip(&keys, &plain), plain);
    }
    // A sealed body that authenticates but is not zstd: the record claims
    // zstd for a blob stored raw.
    let raw = b"not a zstd frame at all, though sealed properly".to_vec();
    let id = keys.chunk_id_key().id(&raw);
    let sealed = seal_blob(&keys, BlobKind::Data, id, &raw, Compression::None).unwrap();
    let err = open_blob(
        &keys,
        "data/bad",
        BlobKind::Data,
        &id,
        Compression::Zstd(3),
        raw.len() as u32,
        &sealed.bytes,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("data/bad"), "{err}");
    let plain = text(99, 40_000);
    assert_eq!(round_trip(&keys, &plain), plain);
}
