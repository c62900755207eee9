//! Deterministic construction of the golden fixtures in `tests/fixtures/`.
//!
//! These pin the exact bytes produced (layout, labels, KDF, encryption direction);
//! `tests/golden.rs` checks that the committed bytes still open. To regenerate after
//! an intentional format change (which needs a new version byte!), run with
//! `CAIRN_BLESS_FIXTURES=1`.

use crate::{AdminKey, KdfParams, KeyFile, KeyFileV2, KeyMeta, KeySet, MasterKey, Role};

pub(crate) const FIXTURE_MASTER: [u8; 32] = {
    let mut b = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        b[i] = i as u8;
        i += 1;
    }
    b
};
const SEALED_PLAINTEXT: &[u8] = b"Cairn golden sealed message, version 1";
const SEALED_AAD: &[u8] = b"golden-aad";
const SEAL_SALT: [u8; 32] = [0x5a; 32];
const KEYFILE_PASSWORD: &[u8] = b"correct horse battery staple";
const KDF_SALT: [u8; 32] = [0x11; 32];
const WRAP_SALT: [u8; 32] = [0x22; 32];

fn check_or_bless(name: &str, actual: &[u8]) {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("CAIRN_BLESS_FIXTURES").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read(&path).unwrap();
    assert_eq!(hex::encode(actual), hex::encode(expected), "{name} changed");
}

#[test]
fn sealed_message_bytes_are_pinned() {
    let keys = KeySet::derive(&MasterKey::from_bytes(FIXTURE_MASTER));
    let mut out = Vec::new();
    keys.data_key()
        .seal_into_with_salt(&SEAL_SALT, SEALED_PLAINTEXT, SEALED_AAD, &mut out)
        .unwrap();
    check_or_bless("sealed-v1.bin", &out);
}

#[test]
fn key_file_bytes_are_pinned() {
    let file = KeyFile::create_with_salts(
        &MasterKey::from_bytes(FIXTURE_MASTER),
        KEYFILE_PASSWORD,
        KdfParams::insecure_for_tests(),
        KDF_SALT,
        &WRAP_SALT,
    )
    .unwrap();
    check_or_bless("keyfile-v1.bin", &file.to_bytes());
}

#[test]
fn key_file_v2_bytes_are_pinned() {
    let authority = AdminKey::from_seed(&[0x33; 32]);
    for (role, name) in [
        (Role::Admin, "keyfile-v2-admin.bin"),
        (Role::Backup, "keyfile-v2-backup.bin"),
    ] {
        let meta = KeyMeta {
            role,
            created: 1_790_000_000,
            label: "golden@host".into(),
        };
        let file = KeyFileV2::create_with_salts(
            &MasterKey::from_bytes(FIXTURE_MASTER),
            &authority,
            &meta,
            KEYFILE_PASSWORD,
            KdfParams::insecure_for_tests(),
            KDF_SALT,
            &WRAP_SALT,
            None,
        )
        .unwrap();
        check_or_bless(name, &file.to_bytes());
    }
}

#[test]
fn tenant_key_object_bytes_are_pinned() {
    let keys = KeySet::derive(&MasterKey::from_bytes(FIXTURE_MASTER));
    let obj = crate::TenantKeyObject::seal_with_salt(
        &keys.tenant_wrapping_key(),
        0,
        keys.tenant_id("golden tenant"),
        [0x44; 16],
        &crate::TenantSecret::from_bytes([0x55; 32]),
        "golden tenant",
        &[0x66; 32],
    )
    .unwrap();
    check_or_bless("tenant-key-v1.bin", &obj.to_bytes());
}

/// A tenant key object wrapped under key epoch 3 (what a rotation's
/// re-wrap writes): the wrapping key derives from that epoch's root.
#[test]
fn tenant_key_object_of_epoch_3_bytes_are_pinned() {
    let keys = KeySet::derive(&MasterKey::from_bytes(FIXTURE_MASTER));
    let root = MasterKey::from_bytes([0x77; 32]);
    let obj = crate::TenantKeyObject::seal_with_salt(
        &KeySet::derive(&root).tenant_wrapping_key(),
        3,
        keys.tenant_id("golden tenant"),
        [0x44; 16],
        &crate::TenantSecret::from_bytes([0x55; 32]),
        "golden tenant",
        &[0x66; 32],
    )
    .unwrap();
    check_or_bless("tenant-key-v1-epoch3.bin", &obj.to_bytes());
}

/// A rekeyed tenant (version 2): generations 0 (the v1 fixture's secret),
/// 1 and 2, wrapped under epoch 3, signed by the authority seeded
/// `[0x33; 32]` (ed25519 signatures are deterministic).
#[test]
fn tenant_key_object_v2_bytes_are_pinned() {
    let keys = KeySet::derive(&MasterKey::from_bytes(FIXTURE_MASTER));
    let mut tenant = crate::TenantKeys::new(crate::TenantSecret::from_bytes([0x55; 32]));
    tenant
        .push(crate::TenantSecret::from_bytes([0x56; 32]))
        .unwrap();
    tenant
        .push(crate::TenantSecret::from_bytes([0x57; 32]))
        .unwrap();
    let parts = (
        keys.tenant_id("golden tenant"),
        [0x44; 16],
        &tenant,
        "golden tenant",
    );
    let obj = crate::TenantKeyObject::seal_generations_with_salt(
        &KeySet::derive(&MasterKey::from_bytes([0x77; 32])).tenant_wrapping_key(),
        3,
        parts,
        &AdminKey::from_seed(&[0x33; 32]),
        &[0x66; 32],
    )
    .unwrap();
    check_or_bless("tenant-key-v2-gen2.bin", &obj.to_bytes());
}

#[test]
fn key_file_v3_bytes_are_pinned() {
    let authority = AdminKey::from_seed(&[0x33; 32]);
    let exchange = crate::ExchangeSecret::from_bytes([0x44; 32]);
    for (role, name) in [
        (Role::Admin, "keyfile-v3-admin.bin"),
        (Role::Backup, "keyfile-v3-backup.bin"),
    ] {
        let meta = KeyMeta {
            role,
            created: 1_790_000_000,
            label: "golden@host".into(),
        };
        let file = KeyFileV2::create_with_salts(
            &MasterKey::from_bytes(FIXTURE_MASTER),
            &authority,
            &meta,
            KEYFILE_PASSWORD,
            KdfParams::insecure_for_tests(),
            KDF_SALT,
            &WRAP_SALT,
            Some(&exchange),
        )
        .unwrap();
        check_or_bless(name, &file.to_bytes());
    }
}

#[test]
fn sealed_message_v2_bytes_are_pinned() {
    let master = MasterKey::from_bytes(FIXTURE_MASTER);
    let root = MasterKey::from_bytes([0x66; 32]);
    let keys = KeySet::with_epochs(&master, 7, &[(7, &root)]).unwrap();
    let mut out = Vec::new();
    keys.data_key()
        .seal_into_with_salt(&SEAL_SALT, SEALED_PLAINTEXT, SEALED_AAD, &mut out)
        .unwrap();
    check_or_bless("sealed-v2-epoch7.bin", &out);
}

#[test]
fn grant_bytes_are_pinned() {
    let recipient = crate::ExchangeSecret::from_bytes([0x44; 32]);
    let eph = crate::ExchangeSecret::from_bytes([0x55; 32]);
    let root = MasterKey::from_bytes([0x66; 32]);
    let g = crate::exchange::seal_grant_with(&eph, &root, &recipient.public(), b"golden context")
        .unwrap();
    check_or_bless("grant-v1.bin", &g);
}
