//! Key files: passwords, hostile and truncated input, several files per master key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_crypto::{Error, KdfParams, KeyFile, KeySet, MasterKey};
use proptest::prelude::*;

const KEYFILE_V1: &[u8] = include_bytes!("fixtures/keyfile-v1.bin");

fn fast() -> KdfParams {
    KdfParams::insecure_for_tests()
}

fn with_params(m: u32, t: u32, p: u32) -> Vec<u8> {
    let mut bytes = KEYFILE_V1.to_vec();
    bytes[10..14].copy_from_slice(&m.to_le_bytes());
    bytes[14..18].copy_from_slice(&t.to_le_bytes());
    bytes[18..22].copy_from_slice(&p.to_le_bytes());
    bytes
}

#[test]
fn wrong_password_is_a_typed_error() {
    let master = MasterKey::generate().unwrap();
    let file = KeyFile::create(&master, b"right", fast()).unwrap();
    for wrong in [&b"wrong"[..], b"", b"right ", b"Right"] {
        assert!(
            matches!(file.open(wrong), Err(Error::WrongPassword)),
            "{wrong:?}"
        );
    }
    assert_eq!(
        file.open(b"right").unwrap().expose_bytes(),
        master.expose_bytes()
    );
}

#[test]
fn every_truncation_is_a_typed_error() {
    for len in 0..KEYFILE_V1.len() {
        match KeyFile::from_bytes(&KEYFILE_V1[..len]) {
            Err(Error::MalformedKeyFile { .. }) => {}
            other => panic!("truncated to {len}: {other:?}"),
        }
    }
    let mut longer = KEYFILE_V1.to_vec();
    longer.push(0);
    assert!(matches!(
        KeyFile::from_bytes(&longer),
        Err(Error::MalformedKeyFile { .. })
    ));
}

#[test]
fn bad_magic_version_and_kdf_id_are_typed_errors() {
    let mut bad = KEYFILE_V1.to_vec();
    bad[0] = b'X';
    assert!(matches!(
        KeyFile::from_bytes(&bad),
        Err(Error::MalformedKeyFile { .. })
    ));
    let mut bad = KEYFILE_V1.to_vec();
    bad[8] = 2;
    assert!(matches!(
        KeyFile::from_bytes(&bad),
        Err(Error::UnsupportedVersion { found: 2 })
    ));
    let mut bad = KEYFILE_V1.to_vec();
    bad[9] = 2;
    assert!(matches!(
        KeyFile::from_bytes(&bad),
        Err(Error::MalformedKeyFile { .. })
    ));
    let mut bad = KEYFILE_V1.to_vec();
    bad[54] = 9; // the sealed master key's own version byte
    assert!(matches!(
        KeyFile::from_bytes(&bad),
        Err(Error::UnsupportedVersion { found: 9 })
    ));
}

#[test]
fn hostile_params_are_rejected_before_deriving() {
    // Each of these would, if accepted, allocate terabytes, loop for hours, or be
    // invalid Argon2. from_bytes rejects them without touching Argon2.
    for (m, t, p) in [
        (u32::MAX, 1, 1),
        (KdfParams::MAX_M_COST_KIB + 1, 1, 1),
        (64, 0, 1),
        (64, u32::MAX, 1),
        (64, KdfParams::MAX_T_COST + 1, 1),
        (64, 1, 0),
        (u32::MAX, 1, u32::MAX),
        (64, 1, KdfParams::MAX_P_COST + 1),
        (15, 1, 2),
        (0, 1, 1),
    ] {
        let err = KeyFile::from_bytes(&with_params(m, t, p)).unwrap_err();
        assert!(
            matches!(err, Error::InvalidKdfParams { m_cost_kib, t_cost, p_cost, .. }
                if (m_cost_kib, t_cost, p_cost) == (m, t, p)),
            "({m}, {t}, {p}): {err:?}"
        );
        assert!(KdfParams::new(m, t, p).is_err());
    }
}

#[test]
fn kdf_param_bounds_are_inclusive() {
    for (m, t, p) in [
        (8, 1, 1),
        (KdfParams::MAX_M_COST_KIB, 1, 1),
        (8, KdfParams::MAX_T_COST, 1),
        (8 * 64, 1, KdfParams::MAX_P_COST),
        (16, 1, 2),
    ] {
        let params = KdfParams::new(m, t, p).unwrap();
        assert_eq!((params.m_cost_kib, params.t_cost, params.p_cost), (m, t, p));
    }
    let d = KdfParams::default();
    assert_eq!((d.m_cost_kib, d.t_cost, d.p_cost), (64 * 1024, 3, 1));
    assert_eq!(KdfParams::new(d.m_cost_kib, d.t_cost, d.p_cost).unwrap(), d);
}

#[test]
fn modified_header_does_not_open() {
    // Valid but different parameters, and a different salt: the header is bound as
    // associated data (and feeds Argon2), so the right password no longer opens it.
    let mut changed_t = with_params(8, 2, 1);
    let mut changed_salt = KEYFILE_V1.to_vec();
    changed_salt[30] ^= 1;
    for bytes in [&mut changed_t, &mut changed_salt] {
        let file = KeyFile::from_bytes(bytes).unwrap();
        assert!(matches!(
            file.open(b"correct horse battery staple"),
            Err(Error::WrongPassword)
        ));
    }
}

#[test]
fn several_key_files_open_one_master_key() {
    let master = MasterKey::generate().unwrap();
    let files: Vec<KeyFile> = ["alice", "bob", "backup-robot"]
        .iter()
        .map(|pw| KeyFile::create(&master, pw.as_bytes(), fast()).unwrap())
        .collect();
    assert_ne!(files[0].to_bytes(), files[1].to_bytes());
    let sealed = KeySet::derive(&master)
        .data_key()
        .seal(b"data", b"")
        .unwrap();
    for (file, pw) in files.iter().zip(["alice", "bob", "backup-robot"]) {
        let parsed = KeyFile::from_bytes(&file.to_bytes()).unwrap();
        let opened = parsed.open(pw.as_bytes()).unwrap();
        assert_eq!(opened.expose_bytes(), master.expose_bytes());
        let keys = KeySet::derive(&opened);
        assert_eq!(keys.data_key().open(&sealed, b"").unwrap(), b"data");
    }
    assert!(matches!(files[0].open(b"bob"), Err(Error::WrongPassword)));
}

#[test]
fn password_change_keeps_data_readable() {
    let master = MasterKey::generate().unwrap();
    let sealed = KeySet::derive(&master)
        .data_key()
        .seal(b"old data", b"")
        .unwrap();
    let old_file = KeyFile::create(&master, b"old password", fast()).unwrap();

    // Change: open with the old password, create with the new one. Nothing is
    // re-encrypted; revoking the old password means deleting the old file, which
    // otherwise keeps working.
    let unlocked = old_file.open(b"old password").unwrap();
    let new_file = KeyFile::create(&unlocked, b"new password", fast()).unwrap();
    assert!(old_file.open(b"old password").is_ok());

    let reopened = KeyFile::from_bytes(&new_file.to_bytes()).unwrap();
    assert!(matches!(
        reopened.open(b"old password"),
        Err(Error::WrongPassword)
    ));
    let master2 = reopened.open(b"new password").unwrap();
    let keys = KeySet::derive(&master2);
    assert_eq!(keys.data_key().open(&sealed, b"").unwrap(), b"old data");
}

#[test]
fn default_params_create_and_open() {
    // One real-strength round trip (64 MiB Argon2id): the default must work.
    let master = MasterKey::generate().unwrap();
    let file = KeyFile::create(&master, b"pw", KdfParams::default()).unwrap();
    assert_eq!(file.params(), KdfParams::default());
    let parsed = KeyFile::from_bytes(&file.to_bytes()).unwrap();
    assert_eq!(
        parsed.open(b"pw").unwrap().expose_bytes(),
        master.expose_bytes()
    );
}

proptest! {
    #[test]
    fn random_bytes_are_rejected(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert!(KeyFile::from_bytes(&bytes).is_err());
    }

    #[test]
    fn random_bodies_behind_a_valid_magic_never_panic(
        m in 0u32..64, t in 0u32..3, p in 0u32..3,
        kdf_id in prop_oneof![Just(1u8), any::<u8>()],
        rest in proptest::collection::vec(any::<u8>(), 113),
        len in 0usize..140,
    ) {
        let mut bytes = b"CAIRNKEY\x01".to_vec();
        bytes.push(kdf_id);
        bytes.extend_from_slice(&m.to_le_bytes());
        bytes.extend_from_slice(&t.to_le_bytes());
        bytes.extend_from_slice(&p.to_le_bytes());
        bytes.extend_from_slice(&rest);
        bytes[54] = 1; // keep the sealed version valid so open() is reached
        bytes.truncate(len.max(KeyFile::LEN * usize::from(len > 130)));
        match KeyFile::from_bytes(&bytes) {
            Ok(file) => {
                prop_assert_eq!(file.to_bytes(), bytes);
                prop_assert!(matches!(file.open(b"pw"), Err(Error::WrongPassword)));
            }
            Err(Error::MalformedKeyFile { .. } | Error::InvalidKdfParams { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {e:?}"),
        }
    }
}
