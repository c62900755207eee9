//! The typed domain model through the real binary: snapshot ids parse,
//! print and resolve by prefix (garbage is refused before the repository is
//! opened), and `check --json` prints the library's typed report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Output;

mod common;

use common::{files_below, json_array, temp_root, texts, PASSWORD};

fn run(repo: &Path, args: &[&str]) -> Output {
    common::cairn(repo, PASSWORD, args).output().unwrap()
}

fn ok(repo: &Path, args: &[&str]) -> String {
    let out = run(repo, args);
    common::assert_success(args, &out);
    texts(&out).0
}

#[test]
fn ids_print_resolve_by_prefix_and_garbage_is_refused() {
    let (_tmp, root) = temp_root();
    let (repo, src) = (root.join("repo"), root.join("src"));
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("a.txt"), b"alpha").unwrap();
    ok(&repo, &["init"]);
    ok(&repo, &["backup", src.to_str().unwrap()]);
    let snaps = json_array(&ok(&repo, &["--json", "snapshots"]));
    let id = snaps[0]["id"].as_str().unwrap().to_owned();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(snaps[0]["short_id"], &id[..8]);
    assert_eq!(snaps[0]["tree"].as_str().map(str::len), Some(64));
    // A prefix (any case) names the snapshot.
    let listed = ok(&repo, &["ls", &id[..6].to_uppercase()]);
    assert!(listed.contains("a.txt"), "{listed}");

    for bad in ["not-an-id", "12345g", ""] {
        let out = run(&repo, &["ls", bad]);
        let (_, err) = texts(&out);
        assert!(!out.status.success(), "ls {bad:?} succeeded");
        assert!(
            err.contains("expected `latest` or a snapshot id"),
            "ls {bad:?}: {err}"
        );
    }
}

#[test]
fn check_json_is_the_typed_report() {
    let (_tmp, root) = temp_root();
    let (repo, src) = (root.join("repo"), root.join("src"));
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("a.txt"), b"alpha").unwrap();
    ok(&repo, &["init"]);
    ok(&repo, &["backup", src.to_str().unwrap()]);
    let clean: serde_json::Value = serde_json::from_str(&ok(&repo, &["--json", "check"])).unwrap();
    // The field names the CLI printed before the report was typed.
    for field in [
        "message_type",
        "ok",
        "snapshots",
        "trees",
        "blobs",
        "packs",
        "packs_read",
        "unreferenced_packs",
        "errors",
        "warnings",
        "ignored_tombstones",
    ] {
        assert!(clean.get(field).is_some(), "{field} missing: {clean}");
    }
    assert_eq!(clean["ok"], true);
    assert_eq!(clean["errors"], serde_json::json!([]));

    // Lose a pack: the error is a tagged object naming it.
    let pack = files_below(&repo.join("data")).into_iter().next().unwrap();
    std::fs::remove_file(&pack).unwrap();
    let name = pack
        .strip_prefix(&repo)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let out = run(&repo, &["--json", "check"]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_str(&texts(&out).0).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["message_type"], "summary");
    let errors = report["errors"].as_array().unwrap();
    assert!(
        errors.contains(&serde_json::json!({"kind": "missing_pack", "pack": name})),
        "{report}"
    );
}
