//! `cairn audit verify` names a snapshot deleted without a forget, and a
//! forgotten one brought back (issue 20 item 9), and exits non-zero.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

mod common;

use common::{success_stdout, temp_root, PASSWORD};

fn run(repo: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = common::cairn(repo, PASSWORD, args);
    cmd.env_remove("CAIRN_FROM_PASSWORD_FILE")
        .env_remove("CAIRN_FROM_REPOSITORY");
    cmd.output().unwrap()
}

fn ok(repo: &Path, args: &[&str]) -> String {
    success_stdout(args, run(repo, args))
}

fn snapshot_files(repo: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// A repository with two backups; the first snapshot's record file.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (tmp, root) = temp_root();
    let (repo, src) = (root.join("repo"), root.join("src"));
    std::fs::create_dir(&src).unwrap();
    ok(&repo, &["init"]);
    std::fs::write(src.join("file"), "one").unwrap();
    ok(&repo, &["backup", src.to_str().unwrap()]);
    let first = snapshot_files(&repo).pop().unwrap();
    std::fs::write(src.join("file"), "two").unwrap();
    ok(&repo, &["backup", src.to_str().unwrap()]);
    let out = ok(&repo, &["audit", "verify"]);
    assert!(out.contains("no errors were found"), "{out}");
    (tmp, repo, first)
}

fn verify_fails(repo: &Path) -> String {
    let out = run(repo, &["audit", "verify"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    stderr
}

#[test]
fn a_snapshot_deleted_without_a_forget_fails_audit_verify() {
    let (_tmp, repo, first) = setup();
    std::fs::remove_file(&first).unwrap();
    let stderr = verify_fails(&repo);
    let id = first.file_name().unwrap().to_str().unwrap();
    assert!(
        stderr.contains(&format!("snapshot {id} was deleted without a forget")),
        "{stderr}"
    );
}

#[test]
fn a_forgotten_snapshot_brought_back_fails_audit_verify() {
    let (_tmp, repo, first) = setup();
    let record = std::fs::read(&first).unwrap();
    ok(&repo, &["forget", "--keep-last", "1", "--prune"]);
    assert!(!first.exists(), "the forgotten record was pruned");
    let out = ok(&repo, &["audit", "verify"]);
    assert!(out.contains("no errors were found"), "{out}");
    let id = first.file_name().unwrap().to_str().unwrap();
    std::fs::write(&first, record).unwrap();
    let _ = std::fs::remove_file(repo.join("tombstones").join(id));
    let stderr = verify_fails(&repo);
    assert!(
        stderr.contains(&format!("snapshot {id} was forgotten")) && stderr.contains("live again"),
        "{stderr}"
    );
}
