//! `cairn key list|add|remove|passwd`, roles and `--append-only`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Output;

mod common;

use common::{success_stdout, temp_root};

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Env {
    fn new() -> Env {
        let (tmp, root) = temp_root();
        Env { _tmp: tmp, root }
    }

    /// `cairn -r REPO ARGS` with password `pw` (and a new password, if any).
    fn run(&self, pw: &str, new: Option<&str>, args: &[&str]) -> Output {
        let mut c = common::cairn(self.root.join("repo"), pw, args);
        c.env_remove("CAIRN_APPEND_ONLY")
            .env_remove("CAIRN_NEW_PASSWORD");
        if let Some(n) = new {
            c.env("CAIRN_NEW_PASSWORD", n);
        }
        c.output().unwrap()
    }

    fn ok(&self, pw: &str, new: Option<&str>, args: &[&str]) -> String {
        success_stdout(args, self.run(pw, new, args))
    }

    /// Fails with exit code 1; returns stderr.
    fn fails(&self, pw: &str, args: &[&str]) -> String {
        let out = self.run(pw, None, args);
        assert_eq!(out.status.code(), Some(1), "cairn {args:?} should fail");
        String::from_utf8(out.stderr).unwrap()
    }

    fn keys(&self, pw: &str) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(pw, None, &["--json", "key", "list"])).unwrap()
    }
}

#[test]
fn key_list_add_remove_passwd_and_roles() {
    let env = Env::new();
    env.ok("admin", None, &["init"]);
    let keys = env.keys("admin");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["role"], "admin");
    assert_eq!(keys[0]["current"], true);
    assert_eq!(keys[0]["version"], 3);
    let admin_id = keys[0]["id"].as_str().unwrap().to_owned();

    let out = env.ok(
        "admin",
        Some("bk"),
        &["key", "add", "--role", "backup", "--label", "root@web1"],
    );
    assert!(out.contains("added key keys/"), "{out}");
    let keys = env.keys("admin");
    let backup = keys.iter().find(|k| k["role"] == "backup").unwrap();
    assert_eq!(backup["label"], "root@web1");
    assert_eq!(backup["endorsed"], true);
    let backup_id = backup["id"].as_str().unwrap().to_owned();
    let text = env.ok("admin", None, &["key", "list"]);
    assert!(
        text.contains(&backup_id) && text.contains("root@web1"),
        "{text}"
    );

    // The backup key backs up over --append-only, and may not delete.
    let src = env.root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), b"data").unwrap();
    env.ok(
        "bk",
        None,
        &["--append-only", "backup", src.to_str().unwrap()],
    );
    // A removal the host forges (no admin signature) is ignored, and
    // `check` says so.
    let snaps = env.root.join("repo/snapshots");
    let id = std::fs::read_dir(&snaps)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    std::fs::create_dir_all(env.root.join("repo/tombstones")).unwrap();
    std::fs::write(
        env.root.join("repo/tombstones").join(&id),
        b"CRNT\x01forged",
    )
    .unwrap();
    let out = env.run("admin", None, &["check"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("carries no valid admin signature"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("checked 1 snapshots"));
    for args in [
        &["forget", "--keep-last", "1"][..],
        &["prune"][..],
        &["key", "remove", &admin_id][..],
    ] {
        let err = env.fails("bk", args);
        assert!(err.contains("needs an admin key"), "{args:?}: {err}");
    }
    let out = env.run("bk", Some("x"), &["key", "add", "--role", "admin"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs an admin key"), "{err}");
    assert_eq!(env.keys("admin").len(), 2);

    // The last admin key stays; an unknown id is named.
    let err = env.fails("admin", &["key", "remove", &admin_id[..10]]);
    assert!(err.contains("last usable admin key"), "{err}");
    let err = env.fails("admin", &["key", "remove", "zzzz"]);
    assert!(err.contains("zzzz"), "{err}");

    // Remove the backup key by prefix: its password no longer opens.
    let out = env.ok("admin", None, &["key", "remove", &backup_id[..8]]);
    assert!(out.contains(&backup_id), "{out}");
    env.fails("bk", &["snapshots"]);

    // passwd: the new password opens, the old one does not.
    env.ok("admin", Some("admin2"), &["key", "passwd"]);
    env.fails("admin", &["snapshots"]);
    env.ok("admin2", None, &["snapshots"]);
    assert_eq!(env.keys("admin2").len(), 1);
}
