//! `cairn key rotate`: new data under the new epoch, old snapshots still
//! restore, `prune` retires the old epoch and `stats` shows 0 bytes under
//! it; `key remove` starts a new epoch too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::{noise, success_stdout, temp_root, under};

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Env {
    fn run(&self, pw: &str, new: Option<&str>, args: &[&str]) -> Output {
        let mut c = common::cairn(self.root.join("repo"), pw, args);
        c.env_remove("CAIRN_APPEND_ONLY")
            .env_remove("CAIRN_NEW_PASSWORD");
        if let Some(n) = new {
            c.env("CAIRN_NEW_PASSWORD", n);
        }
        c.output().unwrap()
    }

    fn ok(&self, pw: &str, args: &[&str]) -> String {
        success_stdout(args, self.run(pw, None, args))
    }

    fn json(&self, pw: &str, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(self.ok(pw, &all).trim()).unwrap()
    }

    /// Pack plus index bytes `stats --json` reports under `epoch`.
    fn epoch_bytes(&self, epoch: u64) -> u64 {
        let stats = self.json("admin", &["stats"]);
        stats["epochs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["epoch"] == epoch)
            .map(|u| u["pack_bytes"].as_u64().unwrap() + u["index_bytes"].as_u64().unwrap())
            .sum()
    }

    fn restore_matches(&self, pw: &str, snapshot: &str, src: &Path, name: &str) {
        let target = self.root.join(name);
        self.ok(
            pw,
            &[
                "restore",
                snapshot,
                "--target",
                target.to_str().unwrap(),
                "--verify",
            ],
        );
        for f in ["one.bin", "two.bin"] {
            assert_eq!(
                std::fs::read(under(&target, src).join(f)).unwrap(),
                std::fs::read(src.join(f)).unwrap(),
                "{name}: {f}"
            );
        }
    }
}

fn source(root: &Path, name: &str, seed: u64) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("one.bin"), noise(seed, 300_000)).unwrap();
    std::fs::write(dir.join("two.bin"), noise(seed + 1, 90_000)).unwrap();
    dir
}

#[test]
fn rotate_prune_retires_the_old_epoch_and_remove_rotates() {
    let (tmp, root) = temp_root();
    let env = Env { _tmp: tmp, root };
    let (old_src, new_src) = (source(&env.root, "old", 1), source(&env.root, "new", 2));
    env.ok("admin", &["init"]);
    let out = env.run("admin", Some("backup"), &["key", "add", "--role", "backup"]);
    success_stdout(&["key", "add"], out);
    env.ok("backup", &["backup", old_src.to_str().unwrap()]);
    let first = env.json("admin", &["snapshots"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(env.json("admin", &["stats"])["key_epoch"], 0);
    assert!(env.epoch_bytes(0) > 0);

    let r = env.json("admin", &["key", "rotate"]);
    assert_eq!(r["epoch"], 1);
    assert_eq!(r["granted"].as_array().unwrap().len(), 2);
    let text = env.ok("admin", &["key", "rotate"]);
    assert!(text.contains("started key epoch 2"), "{text}");

    // New data (from the backup key, which received the grant) goes under
    // epoch 2; the old snapshot still restores.
    env.ok("backup", &["backup", new_src.to_str().unwrap()]);
    let stats = env.json("admin", &["stats"]);
    assert_eq!(stats["key_epoch"], 2);
    assert!(env.epoch_bytes(2) > 0 && env.epoch_bytes(0) > 0);
    env.restore_matches("backup", &first, &old_src, "restored-old");

    // Prune re-encrypts: nothing is left under epoch 0 (or 1).
    env.ok("admin", &["prune"]);
    assert_eq!(env.epoch_bytes(0), 0);
    assert_eq!(env.epoch_bytes(1), 0);
    let text = env.ok("admin", &["stats"]);
    assert!(text.contains("Key epochs (current: 2)"), "{text}");
    env.restore_matches("admin", &first, &old_src, "restored-old-2");
    env.restore_matches("backup", "latest", &new_src, "restored-new");

    // Removing the backup key starts epoch 3; the journal shows both.
    let keys: Vec<serde_json::Value> =
        serde_json::from_value(env.json("admin", &["key", "list"])).unwrap();
    let backup_id = keys.iter().find(|k| k["role"] == "backup").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let removed = env.json("admin", &["key", "remove", &backup_id[..12]]);
    assert_eq!(removed["rotation"]["epoch"], 3);
    assert_eq!(
        env.run("backup", None, &["snapshots"]).status.code(),
        Some(1)
    );
    let log = env.ok("admin", &["audit", "log"]);
    assert!(log.contains("key rotate: epoch 3"), "{log}");
    env.ok("admin", &["audit", "verify"]);
}
