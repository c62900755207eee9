//! `cairn tag`, `hold` and `release` (issue 22 item 4): a new record
//! replaces a retagged one; a held snapshot survives `forget --keep-last 1
//! --prune` and restores identical; a backup key can neither hold nor
//! release; a released (or expired) hold protects nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

mod common;

use common::{noise, success_stdout, temp_root, texts, under};

const PW: &str = "pw";

fn run(repo: &Path, pw: &str, args: &[&str]) -> Output {
    let mut c = common::cairn(repo, pw, args);
    c.env_remove("CAIRN_APPEND_ONLY")
        .env("CAIRN_NEW_PASSWORD", "bk");
    c.output().unwrap()
}

fn ok(repo: &Path, args: &[&str]) -> String {
    success_stdout(args, run(repo, PW, args))
}

/// (id, tags) of every snapshot, oldest first.
fn snapshots(repo: &Path) -> Vec<(String, Vec<String>)> {
    let out = ok(repo, &["--json", "snapshots"]);
    let v: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let tags = |s: &Value| -> Vec<String> {
        let t = s["tags"].as_array().cloned().unwrap_or_default();
        t.iter().map(|t| t.as_str().unwrap().to_owned()).collect()
    };
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), tags(s)))
        .collect()
}

struct Setup {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    src: PathBuf,
}

/// Three backups of a changing tree; the first one's files kept aside.
fn setup() -> Setup {
    let (tmp, root) = temp_root();
    let repo = root.join("repo");
    let src = root.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    ok(&repo, &["init"]);
    std::fs::write(src.join("a"), noise(1, 400_000)).unwrap();
    std::fs::write(src.join("d/b"), noise(2, 10_000)).unwrap();
    ok(&repo, &["backup", "-q", src.to_str().unwrap()]);
    std::fs::copy(src.join("a"), root.join("first-a")).unwrap();
    std::fs::write(src.join("a"), noise(3, 400_000)).unwrap();
    ok(&repo, &["backup", "-q", src.to_str().unwrap()]);
    std::fs::write(src.join("a"), noise(4, 400_000)).unwrap();
    ok(&repo, &["backup", "-q", src.to_str().unwrap()]);
    Setup {
        _tmp: tmp,
        root,
        repo,
        src,
    }
}

#[test]
fn tag_replaces_the_record_and_a_held_snapshot_survives_forget_and_prune() {
    let s = setup();
    let before = snapshots(&s.repo);
    assert_eq!(before.len(), 3);
    let first = before[0].0.clone();

    // tag --add: a new record replaces the first; the others are untouched.
    let text = ok(&s.repo, &["tag", &first[..8], "--add", "legal,case-7"]);
    assert!(text.contains("1 snapshots changed"), "{text}");
    let after = snapshots(&s.repo);
    assert_eq!(after.len(), 3);
    assert!(
        !after.iter().any(|(id, _)| *id == first),
        "old record still listed"
    );
    let (tagged, tags) = after[0].clone();
    assert_eq!(tags, ["case-7", "legal"]);
    assert_eq!(after[1..], before[1..]);
    // --remove and --set.
    ok(&s.repo, &["tag", &tagged[..8], "--remove", "case-7"]);
    let (tagged, tags) = snapshots(&s.repo)[0].clone();
    assert_eq!(tags, ["legal"]);
    // Unchanged tags write nothing.
    let text = ok(&s.repo, &["tag", &tagged[..8], "--add", "legal"]);
    assert!(text.contains("0 snapshots changed, 1 unchanged"), "{text}");
    assert_eq!(snapshots(&s.repo)[0].0, tagged);

    // A backup key can neither tag, hold nor release; the error names the role.
    ok(&s.repo, &["key", "add", "--role", "backup"]);
    for args in [
        vec!["hold", &tagged[..8]],
        vec!["release", &tagged[..8]],
        vec!["tag", &tagged[..8], "--add", "x"],
    ] {
        let out = run(&s.repo, "bk", &args);
        let (_, err) = texts(&out);
        assert!(
            !out.status.success(),
            "{args:?} succeeded with a backup key"
        );
        assert!(err.contains("backup key"), "{args:?}: {err}");
    }

    // Hold the tagged first snapshot; a policy that keeps only the last
    // one keeps it too, and forget by id refuses it.
    let text = ok(&s.repo, &["hold", &tagged[..8], "--reason", "case 7"]);
    assert!(text.contains("held until released"), "{text}");
    let out = run(&s.repo, PW, &["forget", &tagged[..8]]);
    assert!(!out.status.success());
    assert!(texts(&out).1.contains("on hold"), "{}", texts(&out).1);
    let text = ok(&s.repo, &["forget", "--keep-last", "1", "--prune"]);
    assert!(text.contains("held: case 7"), "{text}");
    assert!(text.contains("removed 1 snapshots"), "{text}");
    let left: Vec<String> = snapshots(&s.repo).into_iter().map(|(id, _)| id).collect();
    assert_eq!(left, [tagged.clone(), before[2].0.clone()]);
    ok(&s.repo, &["check", "--read-data"]);
    let target = s.root.join("t1");
    ok(
        &s.repo,
        &[
            "restore",
            &tagged[..8],
            "--target",
            target.to_str().unwrap(),
        ],
    );
    let got = std::fs::read(under(&target, &s.src).join("a")).unwrap();
    assert!(got == std::fs::read(s.root.join("first-a")).unwrap());
    let got = std::fs::read(under(&target, &s.src).join("d/b")).unwrap();
    assert!(got == std::fs::read(s.src.join("d/b")).unwrap());

    // Retagging a held snapshot moves its hold to the new record.
    ok(&s.repo, &["tag", &tagged[..8], "--set", "kept"]);
    let (moved, tags) = snapshots(&s.repo)[0].clone();
    assert_eq!(tags, ["kept"]);
    let out = run(&s.repo, PW, &["forget", &moved[..8]]);
    assert!(!out.status.success(), "the hold did not move with the tag");

    // Released, it goes like any other.
    let text = ok(&s.repo, &["release", &moved[..8]]);
    assert!(text.contains("released"), "{text}");
    ok(&s.repo, &["forget", "--keep-last", "1", "--prune"]);
    assert_eq!(snapshots(&s.repo).len(), 1);
    let log = ok(&s.repo, &["audit", "log"]);
    for line in ["tag 1 snapshots", "hold snapshot", "release snapshot"] {
        assert!(log.contains(line), "{line}: {log}");
    }
    ok(&s.repo, &["audit", "verify"]);
}

#[test]
fn an_expired_or_forged_hold_protects_nothing() {
    let s = setup();
    let all = snapshots(&s.repo);
    let (first, second) = (all[0].0.clone(), all[1].0.clone());
    let text = ok(&s.repo, &["hold", &first[..8], "--until", "2001-01-01"]);
    assert!(text.contains("until 2001-01-01"), "{text}");
    // A hold planted by someone without the admin authority (a backup
    // key holder can write the storage but cannot sign) protects nothing.
    let mut forged = b"CRHD\x01".to_vec();
    forged.extend([0u8; 64]);
    let json = format!(r#"{{"snapshot":"{second}","reason":"x","time":"t","key":"k","host":"h"}}"#);
    forged.extend(json.as_bytes());
    std::fs::write(s.repo.join("holds").join(&second), forged).unwrap();
    ok(&s.repo, &["forget", "--keep-last", "1"]);
    assert_eq!(snapshots(&s.repo).len(), 1);
}
