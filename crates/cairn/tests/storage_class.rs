#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A 4+2 layout file over S3 buckets whose parity children are cold:
//! opened through `Location`, it writes the parity shards with the
//! storage class their layout entry names (the tier, or `storage_class`),
//! and the data shards with the bucket's default. Runs against the
//! SeaweedFS test server (`scripts/s3-server`), which keeps the
//! `x-amz-storage-class` of each put and reports it on `HEAD`.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cairn::backends::testing::{s3_storage_class, s3_test_server};
use cairn::backends::PutMode;
use cairn::Location;

#[test]
fn a_layout_puts_the_cold_childrens_class_on_parity_shards_only() {
    let Some(server) = s3_test_server() else {
        return;
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let run = format!("test-{}-{nanos}/classes", std::process::id());
    // Six children over the four test buckets (prefixes keep them apart).
    let buckets = ["cairn-test", "cairn-test-1", "cairn-test-2", "cairn-test-3"];
    let child = |i: usize| (buckets[i % 4], format!("{run}/c{i}"));
    let mut toml = String::from("[erasure]\ndata = 4\nparity = 2\n");
    for i in 0..6 {
        let (bucket, prefix) = child(i);
        toml += &format!(
            "[[backends]]\nlocation = \"s3:{}/{bucket}/{prefix}\"\n",
            server.endpoint
        );
        toml += match i {
            0 | 1 => "tier = \"hot\"\n",
            2 | 3 => "",
            4 => "tier = \"GLACIER\"\n",
            _ => "tier = \"cold\"\nstorage_class = \"STANDARD_IA\"\n",
        };
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layout.toml");
    std::fs::write(&path, toml).unwrap();
    let opened = Location::parse(path.to_str().unwrap())
        .unwrap()
        .create()
        .unwrap();
    let data: Bytes = (0..300_000u32)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    cairn::block_on(async {
        opened
            .backend
            .put("data/ab/obj", data.clone(), PutMode::CreateOnly)
            .await
            .unwrap();
        assert_eq!(opened.backend.get("data/ab/obj").await.unwrap(), data);
    });
    for i in 0..6 {
        let (bucket, prefix) = child(i);
        let class = s3_storage_class(&server, bucket, &format!("{prefix}/data/ab/obj")).unwrap();
        match i {
            4 => assert_eq!(class.as_deref(), Some("GLACIER"), "child {i}"),
            5 => assert_eq!(class.as_deref(), Some("STANDARD_IA"), "child {i}"),
            _ => assert!(
                matches!(class.as_deref(), None | Some("STANDARD")),
                "data child {i} has class {class:?}"
            ),
        }
    }
}

#[test]
fn a_storage_class_on_a_directory_child_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let toml = "[erasure]\ndata = 1\nparity = 1\n\
                [[backends]]\nlocation = \"a\"\nstorage_class = \"GLACIER\"\n\
                [[backends]]\nlocation = \"b\"\ntier = \"GLACIER\"\n";
    let path = dir.path().join("layout.toml");
    std::fs::write(&path, toml).unwrap();
    let err = Location::parse(path.to_str().unwrap())
        .unwrap()
        .create()
        .map(drop)
        .unwrap_err();
    assert!(
        matches!(&err, cairn::Error::InvalidLocation { location, .. } if location == "a"),
        "{err}"
    );
    assert!(err.to_string().contains("storage_class"), "{err}");
}
