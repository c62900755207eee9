//! Sealing: round trips, tamper detection, truncation, appending.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_crypto::{Error, KeySet, MasterKey, SealingKey};
use proptest::prelude::*;

fn keys() -> KeySet {
    KeySet::derive(&MasterKey::from_bytes([7; 32]))
}

#[test]
fn round_trips_at_boundary_lengths() {
    let keys = keys();
    let key = keys.data_key();
    for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 4096, 65536, 1 << 20] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();
        let sealed = key.seal(&plain, b"aad").unwrap();
        assert_eq!(sealed.len(), len + SealingKey::OVERHEAD);
        assert_eq!(sealed[0], 1, "version byte");
        if len >= 32 {
            assert_ne!(&sealed[33..33 + 32], &plain[..32], "ciphertext must differ");
        }
        assert_eq!(key.open(&sealed, b"aad").unwrap(), plain, "len {len}");
    }
    assert_eq!(SealingKey::OVERHEAD, 49);
}

#[test]
fn each_seal_uses_a_fresh_salt() {
    let keys = keys();
    let a = keys.data_key().seal(b"same plaintext", b"").unwrap();
    let b = keys.data_key().seal(b"same plaintext", b"").unwrap();
    assert_ne!(a[1..33], b[1..33], "salts repeat");
    assert_ne!(a[33..], b[33..], "ciphertexts repeat");
    assert_eq!(keys.data_key().open(&a, b"").unwrap(), b"same plaintext");
    assert_eq!(keys.data_key().open(&b, b"").unwrap(), b"same plaintext");
}

#[test]
fn seal_into_and_open_into_append() {
    let keys = keys();
    let key = keys.metadata_key();
    let mut out = b"prefix".to_vec();
    key.seal_into(b"first", b"1", &mut out).unwrap();
    let first_end = out.len();
    key.seal_into(b"second", b"2", &mut out).unwrap();
    assert_eq!(&out[..6], b"prefix");
    let mut plain = b">".to_vec();
    key.open_into(&out[6..first_end], b"1", &mut plain).unwrap();
    key.open_into(&out[first_end..], b"2", &mut plain).unwrap();
    assert_eq!(plain, b">firstsecond");
    // A failed open leaves the output untouched.
    let err = key
        .open_into(&out[first_end..], b"1", &mut plain)
        .unwrap_err();
    assert!(matches!(err, Error::DecryptionFailed));
    assert_eq!(plain, b">firstsecond");
}

#[test]
fn wrong_key_or_aad_fails_opaquely() {
    let keys = keys();
    let sealed = keys.data_key().seal(b"secret", b"chunk-1").unwrap();
    let other_master = KeySet::derive(&MasterKey::from_bytes([8; 32]));
    let tenant = keys.tenant("acme");
    for key in [
        keys.metadata_key(),
        other_master.data_key(),
        tenant.data_key(),
    ] {
        assert!(matches!(
            key.open(&sealed, b"chunk-1"),
            Err(Error::DecryptionFailed)
        ));
    }
    for aad in [&b"chunk-2"[..], b"", b"chunk-1\0", b"chunk-"] {
        assert!(matches!(
            keys.data_key().open(&sealed, aad),
            Err(Error::DecryptionFailed)
        ));
    }
    // Long associated data (heap path) binds as well as short (stack path).
    let long_aad = vec![9u8; 1000];
    let sealed = keys.data_key().seal(b"x", &long_aad).unwrap();
    let mut other = long_aad.clone();
    other[999] ^= 1;
    assert!(matches!(
        keys.data_key().open(&sealed, &other),
        Err(Error::DecryptionFailed)
    ));
    assert_eq!(keys.data_key().open(&sealed, &long_aad).unwrap(), b"x");
}

#[test]
fn flipping_any_byte_of_message_or_aad_is_detected() {
    let keys = keys();
    let key = keys.data_key();
    let plain = b"forty bytes of plaintext to be tampered.";
    let aad = b"pack-17:offset";
    let sealed = key.seal(plain, aad).unwrap();
    // Every position: version, salt, ciphertext and tag.
    for pos in 0..sealed.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bad = sealed.clone();
            bad[pos] ^= mask;
            match key.open(&bad, aad) {
                Err(Error::UnsupportedVersion { found }) if pos == 0 => assert_eq!(found, 1 ^ mask),
                Err(Error::DecryptionFailed) if pos > 0 => {}
                other => panic!("flip {mask:#x} at {pos}: {other:?}"),
            }
        }
    }
    for pos in 0..aad.len() {
        let mut bad = aad.to_vec();
        bad[pos] ^= 0x01;
        assert!(
            matches!(key.open(&sealed, &bad), Err(Error::DecryptionFailed)),
            "aad {pos}"
        );
    }
}

#[test]
fn truncations_and_extensions_are_typed_errors() {
    let keys = keys();
    let key = keys.data_key();
    let sealed = key.seal(b"some plaintext", b"").unwrap();
    for len in 0..sealed.len() {
        match key.open(&sealed[..len], b"") {
            Err(Error::Truncated { len: l, min: 49 }) if len < SealingKey::OVERHEAD => {
                assert_eq!(l, len)
            }
            Err(Error::DecryptionFailed) if len >= SealingKey::OVERHEAD => {}
            other => panic!("truncated to {len}: {other:?}"),
        }
    }
    let mut longer = sealed.clone();
    longer.push(0);
    assert!(matches!(
        key.open(&longer, b""),
        Err(Error::DecryptionFailed)
    ));
}

proptest! {
    #[test]
    fn seal_open_round_trip(
        plain in proptest::collection::vec(any::<u8>(), 0..3000),
        aad in proptest::collection::vec(any::<u8>(), 0..300),
        flip in any::<prop::sample::Index>(),
    ) {
        let keys = keys();
        let sealed = keys.data_key().seal(&plain, &aad).unwrap();
        prop_assert_eq!(keys.data_key().open(&sealed, &aad).unwrap(), plain);
        let mut bad = sealed;
        let pos = flip.index(bad.len());
        bad[pos] ^= 0x04;
        prop_assert!(keys.data_key().open(&bad, &aad).is_err());
    }
}
