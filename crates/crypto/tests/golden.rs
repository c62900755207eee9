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

const KEYFILE_V2_ADMIN: &[u8] = include_bytes!("fixtures/keyfile-v2-admin.bin");
const KEYFILE_V2_BACKUP: &[u8] = include_bytes!("fixtures/keyfile-v2-backup.bin");

#[test]
fn key_file_v2_fixtures_open_with_their_roles() {
    use cairn_crypto::{AdminKey, AnyKeyFile, Role};
    let authority = AdminKey::from_seed(&[0x33; 32]).public();
    for (bytes, role) in [
        (KEYFILE_V2_ADMIN, Role::Admin),
        (KEYFILE_V2_BACKUP, Role::Backup),
    ] {
        assert_eq!(&bytes[..10], b"CAIRNKEY\x02\x01");
        assert_eq!(bytes[54], if role == Role::Admin { 1 } else { 2 });
        assert_eq!(&bytes[64..75], b"golden@host");
        let AnyKeyFile::V2(file) = AnyKeyFile::from_bytes(bytes).unwrap() else {
            panic!("not parsed as version 2");
        };
        assert_eq!(
            (file.role(), file.created(), file.label()),
            (role, 1_790_000_000, "golden@host")
        );
        assert!(file.is_endorsed_by(&authority));
        assert_eq!(file.to_bytes(), bytes);
        let opened = file.open(b"correct horse battery staple").unwrap();
        assert_eq!(
            opened.master.expose_bytes(),
            fixture_master().expose_bytes()
        );
        assert_eq!(opened.authority, Some(authority));
        assert_eq!(
            opened.admin.map(|a| a.public()),
            (role == Role::Admin).then_some(authority)
        );
        assert!(matches!(file.open(b"wrong"), Err(Error::WrongPassword)));
        // Changing the claimed role (or any header byte) breaks both the
        // endorsement and the sealed part.
        let mut forged = bytes.to_vec();
        forged[54] = 3 - forged[54];
        forged.truncate(bytes.len());
        if let Ok(AnyKeyFile::V2(f)) = AnyKeyFile::from_bytes(&forged) {
            assert!(!f.is_endorsed_by(&authority));
        }
        let mut tampered = bytes.to_vec();
        tampered[70] ^= 1;
        let f = AnyKeyFile::from_bytes(&tampered).unwrap();
        assert!(matches!(
            f.open(b"correct horse battery staple"),
            Err(Error::WrongPassword)
        ));
        // Every truncation is a typed error.
        for len in 0..bytes.len() {
            assert!(AnyKeyFile::from_bytes(&bytes[..len]).is_err(), "{len}");
        }
    }
    // Version 1 files parse through the same entry point and open as admin.
    let v1 = AnyKeyFile::from_bytes(KEYFILE_V1).unwrap();
    assert_eq!((v1.version(), v1.role()), (1, Role::Admin));
    let opened = v1.open(b"correct horse battery staple").unwrap();
    assert!(opened.admin.is_none() && opened.authority.is_none());
}

const TENANT_KEY_V1: &[u8] = include_bytes!("fixtures/tenant-key-v1.bin");
const TENANT_KEY_V1_EPOCH3: &[u8] = include_bytes!("fixtures/tenant-key-v1-epoch3.bin");

/// The re-wrapped object of key epoch 3 (root `[0x77; 32]`): the same
/// secret and name, opened only with the wrapping key derived from that
/// epoch's root (`KeySet::derive(root).tenant_wrapping_key()`), not epoch
/// 0's.
#[test]
fn tenant_key_fixture_of_epoch_3_opens_under_that_epochs_wrapping_key_only() {
    use cairn_crypto::TenantKeyObject;
    let keys = KeySet::derive(&fixture_master());
    assert_eq!(&TENANT_KEY_V1_EPOCH3[..9], b"CRTK\x01\x03\x00\x00\x00");
    let obj = TenantKeyObject::from_bytes(TENANT_KEY_V1_EPOCH3).unwrap();
    assert_eq!(obj.epoch(), 3);
    assert_eq!(obj.tenant_id(), keys.tenant_id("golden tenant"));
    assert_eq!(obj.namespace(), [0x44; 16]);
    let wrap = KeySet::derive(&MasterKey::from_bytes([0x77; 32])).tenant_wrapping_key();
    let (secret, name) = obj.open(&wrap).unwrap();
    assert_eq!(name, "golden tenant");
    // The same tenant secret as the epoch-0 fixture: a re-wrap changes the
    // wrapping, not the tenant's keys.
    let (secret0, _) = TenantKeyObject::from_bytes(TENANT_KEY_V1)
        .unwrap()
        .open(&keys.tenant_wrapping_key())
        .unwrap();
    let sealed = secret0.keys().data_key().seal(b"x", b"").unwrap();
    assert_eq!(secret.keys().data_key().open(&sealed, b"").unwrap(), b"x");
    assert!(matches!(
        obj.open(&keys.tenant_wrapping_key()),
        Err(Error::DecryptionFailed)
    ));
    let mut flipped = TENANT_KEY_V1_EPOCH3.to_vec();
    flipped[5] = 4;
    let moved = TenantKeyObject::from_bytes(&flipped).unwrap();
    assert!(moved.open(&wrap).is_err(), "the epoch field is bound");
}

#[test]
fn tenant_key_fixture_opens_under_the_wrapping_key_only() {
    use cairn_crypto::TenantKeyObject;
    let keys = KeySet::derive(&fixture_master());
    assert_eq!(&TENANT_KEY_V1[..9], b"CRTK\x01\x00\x00\x00\x00");
    let obj = TenantKeyObject::from_bytes(TENANT_KEY_V1).unwrap();
    assert_eq!(obj.epoch(), 0);
    assert_eq!(obj.tenant_id(), keys.tenant_id("golden tenant"));
    assert_eq!(obj.namespace(), [0x44; 16]);
    let (secret, name) = obj.open(&keys.tenant_wrapping_key()).unwrap();
    assert_eq!(name, "golden tenant");
    // The tenant's keys come from its random secret, not from the master key.
    let sealed = secret.keys().data_key().seal(b"x", b"").unwrap();
    assert!(keys
        .tenant("golden tenant")
        .data_key()
        .open(&sealed, b"")
        .is_err());
    assert!(matches!(
        obj.open(keys.metadata_key()),
        Err(Error::DecryptionFailed)
    ));
    assert_eq!(obj.to_bytes(), TENANT_KEY_V1);
}

const TENANT_KEY_V2: &[u8] = include_bytes!("fixtures/tenant-key-v2-gen2.bin");

/// Version 2 (a tenant rekeyed twice, wrapped under epoch 3): the
/// documented layout, the authority's signature over it, three
/// generations of which the first is the v1 fixture's secret, the newest
/// sealing as epoch 2 with its own chunk-id key.
#[test]
fn tenant_key_fixture_v2_carries_every_generation_signed() {
    use cairn_crypto::{AdminKey, TenantKeyObject};
    let keys = KeySet::derive(&fixture_master());
    assert_eq!(&TENANT_KEY_V2[..9], b"CRTK\x02\x03\x00\x00\x00");
    assert_eq!(&TENANT_KEY_V2[41..45], &2u32.to_le_bytes());
    let obj = TenantKeyObject::from_bytes(TENANT_KEY_V2).unwrap();
    assert_eq!((obj.version(), obj.epoch(), obj.generation()), (2, 3, 2));
    assert_eq!(obj.tenant_id(), keys.tenant_id("golden tenant"));
    assert_eq!(obj.namespace(), [0x44; 16]);
    obj.verify_signature(&AdminKey::from_seed(&[0x33; 32]).public())
        .unwrap();
    assert!(obj
        .verify_signature(&AdminKey::from_seed(&[0x34; 32]).public())
        .is_err());
    let wrap = KeySet::derive(&MasterKey::from_bytes([0x77; 32])).tenant_wrapping_key();
    let (tenant, name) = obj.open(&wrap).unwrap();
    assert_eq!((name.as_str(), tenant.generation()), ("golden tenant", 2));
    assert_eq!(obj.to_bytes(), TENANT_KEY_V2);
    // Generation 0 is the v1 fixture's tenant: what it sealed still opens.
    let (v1, _) = TenantKeyObject::from_bytes(TENANT_KEY_V1)
        .unwrap()
        .open(&keys.tenant_wrapping_key())
        .unwrap();
    let old = v1.keys().data_key().seal(b"old", b"").unwrap();
    let set = tenant.keys();
    assert_eq!(set.data_key().open(&old, b"").unwrap(), b"old");
    let new = set.data_key().seal(b"new", b"").unwrap();
    assert_eq!(SealingKey::sealed_epoch(&new).unwrap(), 2);
    assert!(v1.keys().data_key().open(&new, b"").is_err());
    assert_ne!(
        set.chunk_id_key().id(b"x"),
        v1.keys().chunk_id_key().id(b"x")
    );
    // Every header field is bound (flipping one fails the seal).
    for i in 5..45 {
        let mut b = TENANT_KEY_V2.to_vec();
        b[i] ^= 1;
        if let Ok(o) = TenantKeyObject::from_bytes(&b) {
            assert!(o.open(&wrap).is_err(), "byte {i}");
        }
    }
}

const KEYFILE_V3_ADMIN: &[u8] = include_bytes!("fixtures/keyfile-v3-admin.bin");
const KEYFILE_V3_BACKUP: &[u8] = include_bytes!("fixtures/keyfile-v3-backup.bin");
const SEALED_V2: &[u8] = include_bytes!("fixtures/sealed-v2-epoch7.bin");
const GRANT_V1: &[u8] = include_bytes!("fixtures/grant-v1.bin");

#[test]
fn key_file_v3_fixtures_open_with_their_exchange_key() {
    use cairn_crypto::{AdminKey, AnyKeyFile, ExchangeSecret, Role};
    let authority = AdminKey::from_seed(&[0x33; 32]).public();
    let exchange = ExchangeSecret::from_bytes([0x44; 32]);
    for (bytes, role) in [
        (KEYFILE_V3_ADMIN, Role::Admin),
        (KEYFILE_V3_BACKUP, Role::Backup),
    ] {
        assert_eq!(&bytes[..10], b"CAIRNKEY\x03\x01");
        let file = AnyKeyFile::from_bytes(bytes).unwrap();
        assert_eq!(file.version(), 3);
        let AnyKeyFile::V2(f) = &file else {
            panic!("not parsed as version 3");
        };
        assert!(f.is_endorsed_by(&authority));
        assert_eq!(f.exchange_public(), Some(exchange.public()));
        assert_eq!(&bytes[107..139], &exchange.public().0, "public key at 96+L");
        assert_eq!(file.to_bytes(), bytes);
        let opened = file.open(b"correct horse battery staple").unwrap();
        assert_eq!(
            opened.master.expose_bytes(),
            fixture_master().expose_bytes()
        );
        assert_eq!(opened.role, role);
        assert_eq!(opened.exchange.map(|x| x.public()), Some(exchange.public()));
        assert_eq!(
            opened.admin.map(|a| a.public()),
            (role == Role::Admin).then_some(authority)
        );
        // The exchange key is endorsed: swapping it breaks the endorsement.
        let mut swapped = bytes.to_vec();
        swapped[110] ^= 1;
        let AnyKeyFile::V2(s) = AnyKeyFile::from_bytes(&swapped).unwrap() else {
            panic!()
        };
        assert!(!s.is_endorsed_by(&authority));
        for len in 0..bytes.len() {
            assert!(AnyKeyFile::from_bytes(&bytes[..len]).is_err(), "{len}");
        }
    }
    // Version 2 files still open, without an exchange key.
    let v2 = AnyKeyFile::from_bytes(KEYFILE_V2_ADMIN).unwrap();
    assert_eq!(v2.version(), 2);
    assert!(v2
        .open(b"correct horse battery staple")
        .unwrap()
        .exchange
        .is_none());
}

#[test]
fn sealed_v2_fixture_names_its_epoch_and_needs_its_root() {
    let master = fixture_master();
    let root = MasterKey::from_bytes([0x66; 32]);
    assert_eq!(SEALED_V2[0], 2);
    assert_eq!(&SEALED_V2[1..5], &7u32.to_le_bytes());
    assert_eq!(SealingKey::sealed_epoch(SEALED_V2).unwrap(), 7);
    assert_eq!(SealingKey::sealed_epoch(SEALED_V1).unwrap(), 0);
    assert_eq!(SEALED_V2.len(), SEALED_V1.len());
    // Held epoch 7 (sealing under it or under another epoch): opens.
    for current in [7, 0] {
        let keys = KeySet::with_epochs(&master, current, &[(7, &root)]).unwrap();
        let plain = keys.data_key().open(SEALED_V2, b"golden-aad").unwrap();
        assert_eq!(plain, b"Cairn golden sealed message, version 1");
        // ... and the same set still opens epoch 0 (version 1) messages.
        keys.data_key().open(SEALED_V1, b"golden-aad").unwrap();
    }
    // The master key alone (a removed holder's copy) cannot: a typed error.
    let old = KeySet::derive(&master);
    assert!(matches!(
        old.data_key().open(SEALED_V2, b"golden-aad"),
        Err(Error::UnknownEpoch { epoch: 7 })
    ));
    // A wrong root for epoch 7 fails authentication; so does a changed epoch.
    let wrong = MasterKey::from_bytes([0x67; 32]);
    let keys = KeySet::with_epochs(&master, 7, &[(7, &wrong)]).unwrap();
    assert!(matches!(
        keys.data_key().open(SEALED_V2, b"golden-aad"),
        Err(Error::DecryptionFailed)
    ));
    let keys = KeySet::with_epochs(&master, 8, &[(7, &root), (8, &root)]).unwrap();
    let mut moved = SEALED_V2.to_vec();
    moved[1] = 8;
    assert!(keys.data_key().open(&moved, b"golden-aad").is_err());
}

#[test]
fn grant_fixture_opens_for_its_recipient_only() {
    use cairn_crypto::ExchangeSecret;
    let recipient = ExchangeSecret::from_bytes([0x44; 32]);
    let root = recipient.open_grant(GRANT_V1, b"golden context").unwrap();
    assert_eq!(root.expose_bytes(), &[0x66; 32]);
    assert_eq!(GRANT_V1[0], 1);
    let other = ExchangeSecret::from_bytes([0x45; 32]);
    assert!(other.open_grant(GRANT_V1, b"golden context").is_err());
}
