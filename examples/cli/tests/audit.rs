//! `cairn audit log|verify`: every operation leaves an entry; deleting,
//! altering or reordering entries, and rolling the repository back past a
//! pin, make `audit verify` fail naming the entry; several `cairn backup`
//! processes at once leave a journal that verifies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::{success_stdout, temp_root, PASSWORD};

fn cairn_env(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = common::cairn(repo, PASSWORD, args);
    cmd.env_remove("CAIRN_FROM_PASSWORD_FILE")
        .env_remove("CAIRN_FROM_REPOSITORY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn ok_env(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    success_stdout(args, cairn_env(repo, args, env))
}

fn ok(repo: &Path, args: &[&str]) -> String {
    ok_env(repo, args, &[])
}

/// Runs `audit verify` (with `extra` args), expecting failure; returns stderr.
fn verify_fails(repo: &Path, extra: &[&str]) -> String {
    let mut args = vec!["audit", "verify"];
    args.extend_from_slice(extra);
    let out = cairn_env(repo, &args, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "verify passed:\n{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    stderr
}

/// The journal's entries, oldest first: (id, op kind).
fn log(repo: &Path) -> Vec<(String, String)> {
    let v: serde_json::Value =
        serde_json::from_str(&ok(repo, &["--json", "audit", "log"])).unwrap();
    assert_eq!(v["unreadable"].as_array().unwrap().len(), 0, "{v}");
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["op"]["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn backup(repo: &Path, src: &Path, content: &str) {
    std::fs::write(src.join("file"), content).unwrap();
    ok(repo, &["backup", src.to_str().unwrap()]);
}

fn entry_path(repo: &Path, id: &str) -> PathBuf {
    repo.join("journal").join(id)
}

/// A repository with init and two backups.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (tmp, root) = temp_root();
    let (repo, src) = (root.join("repo"), root.join("src"));
    std::fs::create_dir(&src).unwrap();
    ok(&repo, &["init"]);
    backup(&repo, &src, "one");
    backup(&repo, &src, "two");
    (tmp, repo, src)
}

#[test]
fn a_restore_is_journaled_only_when_asked() {
    let (tmp, repo, _src) = setup();
    let target = tmp.path().join("t1");
    ok(
        &repo,
        &["restore", "latest", "--target", target.to_str().unwrap()],
    );
    assert_eq!(log(&repo).len(), 3, "a plain restore wrote an entry");
    let target = tmp.path().join("t2");
    ok(
        &repo,
        &[
            "restore",
            "latest",
            "--journal",
            "--target",
            target.to_str().unwrap(),
        ],
    );
    let entries = log(&repo);
    assert_eq!(entries.last().unwrap().1, "restore", "{entries:?}");
    let text = ok(&repo, &["audit", "log"]);
    assert!(
        text.contains("restore snapshot") && text.contains("1 files"),
        "{text}"
    );
    let out = ok(&repo, &["audit", "verify"]);
    assert!(out.contains("no errors were found"), "{out}");
}

#[test]
fn every_operation_leaves_an_entry_and_the_log_shows_it() {
    let (tmp, repo, src) = setup();
    ok_env(&repo, &["key", "add"], &[("CAIRN_NEW_PASSWORD", "second")]);
    ok_env(
        &repo,
        &["key", "passwd"],
        &[("CAIRN_NEW_PASSWORD", PASSWORD)],
    );
    ok(&repo, &["forget", "--keep-last", "1"]);
    ok(&repo, &["prune"]);
    ok(&repo, &["repair", "index"]);
    // Lose every pack: repair index and repair snapshots both change things.
    std::fs::remove_dir_all(repo.join("data")).unwrap();
    ok(&repo, &["repair", "index"]);
    ok(&repo, &["repair", "snapshots", "--forget"]);
    let other = tmp.path().join("other");
    ok(&other, &["init"]);
    backup(&other, &src, "three");
    ok_env(
        &repo,
        &["copy", "--from-repo", other.to_str().unwrap()],
        &[("CAIRN_FROM_PASSWORD", PASSWORD)],
    );
    let kinds: Vec<String> = log(&repo).into_iter().map(|(_, k)| k).collect();
    assert_eq!(
        kinds,
        [
            "init",
            "backup",
            "backup",
            "key_add",
            "key_passwd",
            "forget",
            "prune",
            // The first `repair index` found nothing to do: no entry.
            "repair_index",
            "repair_snapshots",
            "copy"
        ]
    );
    let text = ok(&repo, &["audit", "log"]);
    assert!(
        text.contains("key passwd") && text.contains("forget 1 snapshots"),
        "{text}"
    );
    let out = ok(&repo, &["audit", "verify"]);
    assert!(out.contains("no errors were found"), "{out}");
    ok(&repo, &["check"]);
}

#[test]
fn a_deleted_entry_is_named() {
    let (_tmp, repo, _) = setup();
    let entries = log(&repo);
    std::fs::remove_file(entry_path(&repo, &entries[1].0)).unwrap();
    let err = verify_fails(&repo, &[]);
    assert!(
        err.contains(&format!("journal entry {} was deleted", entries[1].0)),
        "{err}"
    );
    // `check` sees it too.
    let out = cairn_env(&repo, &["check"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&entries[1].0));
}

#[test]
fn an_altered_entry_is_named() {
    let (_tmp, repo, _) = setup();
    let entries = log(&repo);
    let path = entry_path(&repo, &entries[2].0);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    let err = verify_fails(&repo, &[]);
    assert!(
        err.contains(&format!("journal entry {} was altered", entries[2].0)),
        "{err}"
    );
}

#[test]
fn reordered_entries_are_named() {
    let (_tmp, repo, _) = setup();
    let entries = log(&repo);
    let (a, b) = (
        entry_path(&repo, &entries[1].0),
        entry_path(&repo, &entries[2].0),
    );
    let (ba, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    std::fs::write(&a, bb).unwrap();
    std::fs::write(&b, ba).unwrap();
    let err = verify_fails(&repo, &[]);
    for (id, _) in &entries[1..3] {
        assert!(
            err.contains(&format!("journal entry {id} was altered")),
            "{err}"
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn a_rollback_past_the_pin_is_named() {
    let (tmp, repo, src) = setup();
    let pin = tmp.path().join("pin");
    let old = tmp.path().join("old");
    copy_dir(&repo, &old);
    ok(&repo, &["audit", "verify", "--pin", pin.to_str().unwrap()]);
    backup(&repo, &src, "three");
    let out = ok(&repo, &["audit", "verify", "--pin", pin.to_str().unwrap()]);
    assert!(out.contains("1 pinned entries checked"), "{out}");
    let pinned = log(&repo).last().unwrap().0.clone();
    assert!(std::fs::read_to_string(&pin).unwrap().contains(&pinned));
    // The storage goes back to the older copy: consistent in itself.
    std::fs::remove_dir_all(&repo).unwrap();
    copy_dir(&old, &repo);
    ok(&repo, &["audit", "verify"]);
    let err = verify_fails(&repo, &["--pin", pin.to_str().unwrap()]);
    assert!(
        err.contains(&format!("pinned journal entry {pinned} is missing")),
        "{err}"
    );
    // A failed verification leaves the pin as it was.
    assert!(std::fs::read_to_string(&pin).unwrap().contains(&pinned));
}

#[test]
fn concurrent_backups_from_several_processes_leave_a_journal_that_verifies() {
    let (_tmp, root) = temp_root();
    let repo = root.join("repo");
    ok(&repo, &["init"]);
    const WRITERS: usize = 4;
    const ROUNDS: usize = 3;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let repo = repo.clone();
            let src = root.join(format!("src{w}"));
            std::fs::create_dir_all(&src).unwrap();
            std::thread::spawn(move || {
                for v in 0..ROUNDS {
                    backup(&repo, &src, &format!("writer {w} round {v}"));
                }
            })
        })
        .collect();
    for h in writers {
        h.join().unwrap();
    }
    let entries = log(&repo);
    let backups = entries.iter().filter(|(_, k)| k == "backup").count();
    assert_eq!(backups, WRITERS * ROUNDS);
    assert_eq!(entries.len(), 1 + WRITERS * ROUNDS);
    let report: serde_json::Value =
        serde_json::from_str(&ok(&repo, &["--json", "audit", "verify"])).unwrap();
    assert_eq!(report["issues"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(report["snapshots_checked"], WRITERS * ROUNDS);
    eprintln!(
        "{} heads after {} concurrent backups",
        report["heads"].as_array().unwrap().len(),
        WRITERS * ROUNDS
    );
    ok(&repo, &["check"]);
}

#[test]
fn a_checkpoint_keeps_verification_whole() {
    let (tmp, repo, src) = setup();
    let pin = tmp.path().join("pin");
    ok(&repo, &["audit", "verify", "--pin", pin.to_str().unwrap()]);
    backup(&repo, &src, "three");
    backup(&repo, &src, "four");
    let out = ok(&repo, &["audit", "checkpoint", "--keep", "1"]);
    assert!(out.contains("covers 4 entries; 4 deleted"), "{out}");
    let kinds: Vec<String> = log(&repo).into_iter().map(|(_, k)| k).collect();
    assert_eq!(kinds, ["backup", "checkpoint"]);
    // The pin names a covered (deleted) entry: still accepted.
    let out = ok(&repo, &["audit", "verify", "--pin", pin.to_str().unwrap()]);
    assert!(out.contains("no errors were found"), "{out}");
    ok(&repo, &["check"]);
}

/// Issue #20 item 10: a checkpoint deletes journal entries, so a backup key
/// is refused by role (naming it), and the journal is left as it was.
#[test]
fn a_backup_key_cannot_checkpoint_the_journal() {
    let (_tmp, repo, src) = setup();
    let new = [("CAIRN_NEW_PASSWORD", "bk")];
    ok_env(&repo, &["key", "add", "--role", "backup"], &new);
    let bk = [("CAIRN_PASSWORD", "bk")];
    std::fs::write(src.join("file"), "three").unwrap();
    ok_env(&repo, &["backup", src.to_str().unwrap()], &bk);
    let before = log(&repo);
    let args = ["audit", "checkpoint", "--keep", "1"];
    let out = cairn_env(&repo, &args, &bk);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("audit checkpoint needs an admin key") && stderr.contains("backup key"),
        "{stderr}"
    );
    assert_eq!(log(&repo), before);
    let out = ok(&repo, &args);
    assert!(out.contains("covers"), "{out}");
}
