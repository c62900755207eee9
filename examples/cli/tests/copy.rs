//! `cairn copy` between a local repository and one on S3 (SeaweedFS, started
//! by the test kit), with different passwords: every copied snapshot
//! restores identical from the target, and copying again sends nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Output;

mod common;

use common::{files_below, success_stdout};

fn cairn(repo: &str, password: &str, args: &[&str]) -> Output {
    common::cairn(repo, password, args)
        .env("CAIRN_FROM_PASSWORD", "local password")
        .env_remove("CAIRN_FROM_PASSWORD_FILE")
        .output()
        .unwrap()
}

fn ok(repo: &str, password: &str, args: &[&str]) -> String {
    success_stdout(args, cairn(repo, password, args))
}

/// Every file below `dir` with its contents, sorted by path text.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = files_below(dir)
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn copy_from_local_to_s3_restores_identical_and_copying_again_sends_nothing() {
    let Some(server) = cairn_backends::testing::s3_test_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    let local = dir.path().join("local");
    let local = local.to_str().unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let s3 = format!(
        "s3:{}/{}/copy-{}-{nanos}",
        server.endpoint,
        server.bucket,
        std::process::id()
    );
    ok(local, "local password", &["init"]);
    let mut snapshots = Vec::new();
    for v in 0..2u8 {
        std::fs::write(src.join("d/big"), vec![v; 700_000]).unwrap();
        std::fs::write(src.join("same"), b"unchanged").unwrap();
        ok(local, "local password", &["backup", src.to_str().unwrap()]);
        let t = dir.path().join(format!("want{v}"));
        ok(
            local,
            "local password",
            &["restore", "latest", "--target", t.to_str().unwrap()],
        );
        snapshots.push(t);
    }
    ok(&s3, "s3 password", &["init"]);
    let out = ok(
        &s3,
        "s3 password",
        &["--json", "copy", "--from-repo", local],
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["copied"].as_array().unwrap().len(), 2, "{out}");
    assert!(v["blobs_sent"].as_u64().unwrap() > 0, "{out}");

    // Each copy restores what its original restores, byte for byte.
    let listed = ok(&s3, "s3 password", &["--json", "snapshots"]);
    let list: serde_json::Value = serde_json::from_str(listed.trim()).unwrap();
    let ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");
    for (i, id) in ids.iter().enumerate() {
        let t = dir.path().join(format!("got{i}"));
        ok(
            &s3,
            "s3 password",
            &["restore", id, "--target", t.to_str().unwrap()],
        );
        let strip = |fs: Vec<(String, Vec<u8>)>, root: &Path| -> Vec<(String, Vec<u8>)> {
            let root = root.display().to_string();
            fs.into_iter()
                .map(|(p, b)| (p.trim_start_matches(&root).to_owned(), b))
                .collect()
        };
        assert!(
            strip(files(&t), &t) == strip(files(&snapshots[i]), &snapshots[i]),
            "copy {i} differs"
        );
    }

    let again = ok(
        &s3,
        "s3 password",
        &["--json", "copy", "--from-repo", local],
    );
    let v: serde_json::Value = serde_json::from_str(again.trim()).unwrap();
    assert!(v["copied"].as_array().unwrap().is_empty(), "{again}");
    assert_eq!(v["blobs_sent"], 0, "{again}");
    assert_eq!(v["bytes_sent"], 0, "{again}");
}
