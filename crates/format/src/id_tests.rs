use super::*;

fn id(c: char) -> SnapshotId {
    c.to_string().repeat(64).parse().unwrap()
}

#[test]
fn snapshot_ids_parse_print_and_serialize_as_hex() {
    let hex = "0123456789abcdef".repeat(4);
    let parsed: SnapshotId = hex.to_uppercase().parse().unwrap();
    assert_eq!(parsed.to_string(), hex);
    assert_eq!(parsed, hex.as_str());
    assert_eq!(parsed.short(), "01234567");
    assert_eq!(
        serde_json::to_string(&parsed).unwrap(),
        format!("\"{hex}\"")
    );
    let back: SnapshotId = serde_json::from_str(&format!("\"{hex}\"")).unwrap();
    assert_eq!(back, parsed);
    assert_eq!(
        SnapshotId::of(b"record"),
        blake3::hash(b"record").to_hex().as_str()
    );
}

#[test]
fn garbage_ids_are_refused_with_a_typed_error() {
    for bad in [
        "",
        "xyz",
        &"a".repeat(63),
        &"a".repeat(65),
        &format!("{}g", "a".repeat(63)),
    ] {
        let e = bad.parse::<SnapshotId>().unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidId {
                    what: "snapshot id",
                    ..
                }
            ),
            "{bad:?}: {e}"
        );
        assert!(bad.parse::<TreeId>().is_err(), "{bad:?}");
    }
    assert!(serde_json::from_str::<SnapshotId>("\"nope\"").is_err());
    assert!(serde_json::from_str::<TreeId>("\"nope\"").is_err());
    for bad in ["", "3fz", &"a".repeat(65), "../x"] {
        let e = bad.parse::<IdPrefix>().unwrap_err();
        assert!(matches!(e, Error::InvalidId { .. }), "{bad:?}: {e}");
    }
    // A long hostile argument is not echoed whole.
    let e = "z".repeat(10_000).parse::<IdPrefix>().unwrap_err();
    assert!(e.to_string().len() < 300, "{e}");
}

#[test]
fn tree_ids_round_trip_through_chunk_ids() {
    let hex = "ab".repeat(32);
    let t: TreeId = hex.parse().unwrap();
    assert_eq!(t.to_string(), hex);
    assert_eq!(t.chunk_id().to_hex(), hex);
    assert_eq!(TreeId::from(t.chunk_id()), t);
    assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{hex}\""));
}

#[test]
fn prefixes_resolve_to_the_one_id_they_name() {
    let a: SnapshotId = format!("aa11{}", "0".repeat(60)).parse().unwrap();
    let b: SnapshotId = format!("aa22{}", "0".repeat(60)).parse().unwrap();
    let c = id('c');
    let all = [a, b, c, a];
    let p = |s: &str| s.parse::<IdPrefix>().unwrap();
    assert_eq!(p("AA1").resolve(&all).unwrap(), a);
    assert_eq!(p("c").resolve(&all).unwrap(), c);
    assert_eq!(IdPrefix::from(b).resolve(&all).unwrap(), b);
    assert!(matches!(
        p("aa").resolve(&all),
        Err(Error::AmbiguousSnapshot { count: 2, .. })
    ));
    assert!(matches!(
        p("d").resolve(&all),
        Err(Error::SnapshotNotFound { .. })
    ));
}
