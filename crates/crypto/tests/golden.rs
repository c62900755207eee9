//! Golden fixtures: bytes written by version 1 of the formats must keep opening.
//! (`src/golden_tests.rs` pins that the same inputs still produce these exact bytes.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_crypto::primitives::{aes256gcm_decrypt, hkdf_sha256_expand};
use cairn_crypto::{Error, KdfParams, KeyFile, KeySet, MasterKey, SealingKey};

const KEYFILE_V1: &[u8] = include_bytes!("fixtures/keyfile-v1.bin");
const SEALED_V1: &[u8] = include_bytes!("fixtures/sealed-v1.bin");

fn fixture_master() -> MasterKey {
    MasterKey::from_bytes(std::array::from_fn(|i| i as u8))
}

#[test]
fn key_file_fixture_opens_with_known_password() {
    let file = KeyFile::from_bytes(KEYFILE_V1).unwrap();
    assert_eq!(file.params(), KdfParams::insecure_for_tests());
    let master = file.open(b"correct horse battery staple").unwrap();
    assert_eq!(master.expose_bytes(), fixture_master().expose_bytes());
    assert_eq!(file.to_bytes(), KEYFILE_V1);
    assert_eq!(KEYFILE_V1.len(), KeyFile::LEN);
    assert_eq!(&KEYFILE_V1[..10], b"CAIRNKEY\x01\x01");
    assert!(matches!(
        file.open(b"correct horse battery stapl"),
        Err(Error::WrongPassword)
    ));
}

#[test]
fn sealed_fixture_opens_under_the_data_key() {
    let keys = KeySet::derive(&fixture_master());
    let plain = keys.data_key().open(SEALED_V1, b"golden-aad").unwrap();
    assert_eq!(plain, b"Cairn golden sealed message, version 1");
    assert_eq!(SEALED_V1.len(), plain.len() + SealingKey::OVERHEAD);
    assert_eq!(SEALED_V1[0], 1);
    // Other purposes' keys, and other tenants, cannot open it.
    for other in [keys.metadata_key(), keys.tenant("t").data_key()] {
        assert!(matches!(
            other.open(SEALED_V1, b"golden-aad"),
            Err(Error::DecryptionFailed)
        ));
    }
}

/// Rebuilds the documented scheme from the primitives that the published vectors
/// test: message key = HKDF-Expand(data key, "cairn/v1/seal" || 0x01 || salt), zero
/// nonce, AAD = 0x01 || aad. The data key itself = HKDF(master, "cairn/v1/data").
#[test]
fn sealed_fixture_follows_the_documented_scheme() {
    let mut data_key = [0u8; 32];
    let master: [u8; 32] = std::array::from_fn(|i| i as u8);
    cairn_crypto::primitives::hkdf_sha256(b"", &master, b"cairn/v1/data", &mut data_key).unwrap();
    let salt = &SEALED_V1[1..33];
    let mut message_key = [0u8; 32];
    hkdf_sha256_expand(&data_key, &[b"cairn/v1/seal", &[1], salt], &mut message_key).unwrap();
    let (body, tag) = SEALED_V1[33..].split_at(SEALED_V1.len() - 33 - 16);
    let mut buf = body.to_vec();
    aes256gcm_decrypt(
        &message_key,
        &[0; 12],
        b"\x01golden-aad",
        &mut buf,
        tag.try_into().unwrap(),
    )
    .unwrap();
    assert_eq!(buf, b"Cairn golden sealed message, version 1");
}
