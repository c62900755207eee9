//! Golden fixture of the snapshot hold record (`CRHD`, version 1;
//! format: `src/repo/signed.rs`), signed with the authority seeded
//! `[0x33; 32]` (ed25519 signatures are deterministic). The bytes in
//! `tests/fixtures/hold-v1.hex` must keep decoding to the same hold; bless
//! a new fixture with `CAIRN_BLESS_FIXTURES=1` only for a new version.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use cairn_cas_core::repo::{decode_hold, encode_hold, Hold};
use cairn_cas_core::Error;
use cairn_crypto::AdminKey;

const REPO: &str = "00112233445566778899aabbccddeeff";

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hold-v1.hex")
}

fn golden_hold() -> Hold {
    let json = serde_json::json!({
        "snapshot": "ab".repeat(32),
        "until": "2027-06-30T00:00:00Z",
        "reason": "legal hold: case 7",
        "time": "2026-12-07T16:00:00Z",
        "key": "cd".repeat(32),
        "host": "golden",
    });
    serde_json::from_value(json).unwrap()
}

#[test]
fn version_1_hold_is_pinned_and_verified() {
    let admin = AdminKey::from_seed(&[0x33; 32]);
    let bytes = encode_hold(&admin, REPO, &golden_hold()).unwrap();
    if std::env::var_os("CAIRN_BLESS_FIXTURES").is_some() {
        std::fs::write(fixture(), format!("{}\n", hex::encode(&bytes))).unwrap();
        return;
    }
    let stored = hex::decode(std::fs::read_to_string(fixture()).unwrap().trim()).unwrap();
    assert_eq!(bytes, stored, "encoding changed: version 1 is frozen");
    assert_eq!(&stored[..5], b"CRHD\x01");
    let pk = admin.public();
    assert_eq!(decode_hold(&pk, REPO, "h", &stored).unwrap(), golden_hold());

    // Another authority, another repository, a flipped byte, another
    // version, every truncation: refused with a typed error.
    let other = AdminKey::from_seed(&[0x34; 32]).public();
    let refused = |r: Result<Hold, Error>| matches!(r, Err(Error::NotAuthorised { .. }));
    assert!(refused(decode_hold(&other, REPO, "h", &stored)));
    assert!(refused(decode_hold(&pk, &"f".repeat(32), "h", &stored)));
    let mut flipped = stored.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert!(refused(decode_hold(&pk, REPO, "h", &flipped)));
    let mut v2 = stored.clone();
    v2[4] = 2;
    assert!(matches!(
        decode_hold(&pk, REPO, "h", &v2),
        Err(Error::UnsupportedVersion { found: 2, .. })
    ));
    for len in 0..stored.len() {
        assert!(decode_hold(&pk, REPO, "h", &stored[..len]).is_err());
    }
    // A tombstone's bytes are no hold.
    let mut as_tombstone = stored.clone();
    as_tombstone[..4].copy_from_slice(b"CRNT");
    assert!(decode_hold(&pk, REPO, "h", &as_tombstone).is_err());
}
