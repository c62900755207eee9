//! The key hierarchy: derivation, tenants, chunk ids, redacted Debug output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_crypto::{ChunkId, ChunkIdKey, Error, KdfParams, KeyFile, KeySet, MasterKey, SealingKey};

#[test]
fn derivation_is_deterministic_and_master_specific() {
    let a1 = KeySet::derive(&MasterKey::from_bytes([1; 32]));
    let a2 = KeySet::derive(&MasterKey::from_bytes([1; 32]));
    let b = KeySet::derive(&MasterKey::from_bytes([2; 32]));
    assert_eq!(a1.chunk_id_key().id(b"x"), a2.chunk_id_key().id(b"x"));
    assert_ne!(a1.chunk_id_key().id(b"x"), b.chunk_id_key().id(b"x"));
    let sealed = a1.metadata_key().seal(b"m", b"").unwrap();
    assert_eq!(a2.metadata_key().open(&sealed, b"").unwrap(), b"m");
    assert!(b.metadata_key().open(&sealed, b"").is_err());
    // The chunk-id key is not the raw master key: ids differ from keyed_hash(master).
    let raw = ChunkIdKey::from_bytes([1; 32]);
    assert_ne!(raw.id(b"x"), a1.chunk_id_key().id(b"x"));
}

#[test]
fn generated_master_keys_differ() {
    let a = MasterKey::generate().unwrap();
    let b = MasterKey::generate().unwrap();
    assert_ne!(a.expose_bytes(), b.expose_bytes());
}

#[test]
fn tenants_get_independent_keys() {
    let root = KeySet::derive(&MasterKey::from_bytes([3; 32]));
    let sets = [
        root.clone(),
        root.tenant("acme"),
        root.tenant("globex"),
        root.tenant(""),
        root.tenant("acme").tenant("eu"),
        root.tenant("acme/eu"),
    ];
    let ids: Vec<ChunkId> = sets.iter().map(|s| s.chunk_id_key().id(b"same")).collect();
    for i in 0..ids.len() {
        for j in i + 1..ids.len() {
            assert_ne!(ids[i], ids[j], "sets {i} and {j} share a chunk-id key");
        }
    }
    assert_eq!(root.tenant("acme").chunk_id_key().id(b"same"), ids[1]);
    let sealed = sets[1].data_key().seal(b"t", b"").unwrap();
    assert_eq!(
        root.tenant("acme").data_key().open(&sealed, b"").unwrap(),
        b"t"
    );
    for other in sets.iter().enumerate().filter(|(i, _)| *i != 1) {
        assert!(
            other.1.data_key().open(&sealed, b"").is_err(),
            "set {}",
            other.0
        );
    }
}

#[test]
fn chunk_id_hex_round_trips() {
    let id = KeySet::derive(&MasterKey::from_bytes([4; 32]))
        .chunk_id_key()
        .id(b"chunk");
    let hex = id.to_hex();
    assert_eq!(hex.len(), 64);
    assert_eq!(hex, hex.to_lowercase());
    assert_eq!(id.to_string(), hex);
    assert_eq!(format!("{id:?}"), format!("ChunkId({hex})"));
    assert_eq!(ChunkId::from_hex(&hex).unwrap(), id);
    assert_eq!(hex.parse::<ChunkId>().unwrap(), id);
    assert_eq!(ChunkId::from_hex(&hex.to_uppercase()).unwrap(), id);
    assert_eq!(ChunkId::from_bytes(*id.as_bytes()), id);
    assert_eq!(ChunkId::LEN, 32);
    for bad in [
        "",
        &hex[..63],
        &format!("{hex}0"),
        &format!("{}g", &hex[..63]),
        "é",
    ] {
        assert!(
            matches!(ChunkId::from_hex(bad), Err(Error::InvalidHex { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn debug_output_never_shows_key_bytes() {
    let master = MasterKey::from_bytes([0xab; 32]);
    let keys = KeySet::derive(&master);
    assert_eq!(format!("{master:?}"), "MasterKey(..)");
    assert_eq!(format!("{keys:?}"), "KeySet { .. }");
    assert_eq!(format!("{:#?}", keys.tenant("t")), "KeySet { .. }");
    assert_eq!(format!("{:?}", keys.data_key()), "SealingKey(..)");
    assert_eq!(format!("{:?}", keys.metadata_key()), "SealingKey(..)");
    assert_eq!(format!("{:?}", keys.chunk_id_key()), "ChunkIdKey(..)");
    assert_eq!(
        format!("{:?}", SealingKey::from_bytes([0xab; 32])),
        "SealingKey(..)"
    );
    assert_eq!(
        format!("{:?}", ChunkIdKey::from_bytes([0xab; 32])),
        "ChunkIdKey(..)"
    );
    let file = KeyFile::create(&master, b"pw", KdfParams::insecure_for_tests()).unwrap();
    let shown = format!("{file:?}");
    assert!(!shown.contains("171") && !shown.contains("ab"), "{shown}");
    assert!(shown.starts_with("KeyFile {"), "{shown}");
}
