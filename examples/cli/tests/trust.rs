//! Attacks on the key model, through the CLI (issue 20): a removed key's
//! file stored again under a new name, a planted `epochs/<n+1>`.
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

    fn repo(&self) -> PathBuf {
        self.root.join("repo")
    }

    /// `cairn -r REPO ARGS` with password `pw` (and a new password, if any).
    fn run(&self, pw: &str, new: Option<&str>, args: &[&str]) -> Output {
        let mut c = common::cairn(self.repo(), pw, args);
        c.env_remove("CAIRN_APPEND_ONLY")
            .env_remove("CAIRN_NEW_PASSWORD");
        if let Some(n) = new {
            c.env("CAIRN_NEW_PASSWORD", n);
        }
        c.output().unwrap()
    }

    fn json(&self, pw: &str, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(success_stdout(&all, self.run(pw, None, &all)).trim()).unwrap()
    }

    fn key_ids(&self) -> Vec<String> {
        let keys = self.json("admin", &["key", "list"]);
        let ids = keys.as_array().unwrap().iter();
        ids.map(|k| k["id"].as_str().unwrap().to_owned()).collect()
    }

    /// Adds a backup key for `pw`; returns its id.
    fn add_backup(&self, pw: &str) -> String {
        let before = self.key_ids();
        let args = ["key", "add", "--role", "backup"];
        success_stdout(&args, self.run("admin", Some(pw), &args));
        let mut added = self.key_ids();
        added.retain(|id| !before.contains(id));
        assert_eq!(added.len(), 1);
        added.remove(0)
    }
}

#[test]
fn a_removed_key_copied_under_a_new_name_does_not_open_nor_get_a_grant() {
    let env = Env::new();
    success_stdout(&["init"], env.run("admin", None, &["init"]));
    let backup = env.add_backup("bk");
    let keys_dir = env.repo().join("keys");
    let kept = std::fs::read(keys_dir.join(&backup)).unwrap();

    let removed = env.json("admin", &["key", "remove", &backup]);
    assert_eq!(removed["rotation"]["epoch"], 1);
    // The holder stores its file again, under a name of its choice.
    let copy = "ab".repeat(32);
    std::fs::write(keys_dir.join(&copy), &kept).unwrap();

    let out = env.run("bk", None, &["snapshots"]);
    assert_eq!(out.status.code(), Some(1), "the copy opened the repository");
    let r = env.json("admin", &["key", "rotate"]);
    let granted: Vec<&str> = r["granted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert!(!granted.contains(&copy.as_str()), "{r}");
    assert_eq!(granted.len(), 1, "only the admin: {r}");
    let keys = env.json("admin", &["key", "list"]);
    let listed = keys.as_array().unwrap().iter().find(|k| k["id"] == copy);
    let problem = listed.unwrap()["problem"].as_str().unwrap_or_default();
    assert!(problem.contains("not the hash of its bytes"), "{keys}");
}

#[test]
fn a_planted_next_epoch_does_not_stop_key_rotate_or_key_remove() {
    let env = Env::new();
    success_stdout(&["init"], env.run("admin", None, &["init"]));
    let backup = env.add_backup("bk");
    let epochs = env.repo().join("epochs");
    std::fs::create_dir_all(&epochs).unwrap();
    std::fs::write(epochs.join("0000000001"), b"CREP\x01junk").unwrap();

    let r = env.json("admin", &["key", "rotate"]);
    assert_eq!(r["epoch"], 2, "{r}");
    // Junk at the next number again, this time before a removal: the
    // removal rotates past it.
    std::fs::write(epochs.join("0000000003"), b"junk").unwrap();
    let removed = env.json("admin", &["key", "remove", &backup]);
    assert_eq!(removed["rotation"]["epoch"], 4, "{removed}");
    assert_eq!(env.json("admin", &["stats"])["key_epoch"], 4);
    assert_eq!(env.run("bk", None, &["snapshots"]).status.code(), Some(1));
}
