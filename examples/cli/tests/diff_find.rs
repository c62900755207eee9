//! `cairn diff` and `cairn find`, text and `--json`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;

use common::{files_below, success_stdout, temp_root};

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Env {
    fn new() -> Env {
        let (tmp, root) = temp_root();
        Env { _tmp: tmp, root }
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = common::cairn(self.root.join("repo"), "pw", args)
            .output()
            .unwrap();
        success_stdout(args, out)
    }

    /// Every JSON line the command prints.
    fn json_lines(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.ok(&all)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Backs up `src` and returns the new snapshot's id.
    fn backup(&self, src: &Path) -> String {
        self.ok(&["backup", "-q", src.to_str().unwrap()]);
        let snaps = self.json_lines(&["snapshots"]);
        let list = snaps[0].as_array().unwrap();
        list.last().unwrap()["id"].as_str().unwrap().to_owned()
    }
}

fn set_mtime(p: &Path, secs: u64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    std::fs::File::open(p).unwrap().set_modified(t).unwrap();
}

#[test]
fn diff_and_find_report_changes_and_snapshots() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let src = env.root.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    for (f, body) in [("d/edit", "one"), ("d/chmod", "c"), ("old.conf", "o")] {
        std::fs::write(src.join(f), body).unwrap();
        set_mtime(&src.join(f), 1_700_000_000);
    }
    env.ok(&["init"]);
    let first = env.backup(&src);
    std::fs::write(src.join("d/edit"), "two").unwrap();
    set_mtime(&src.join("d/edit"), 1_700_000_000);
    std::fs::set_permissions(src.join("d/chmod"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(src.join("old.conf")).unwrap();
    std::fs::write(src.join("new.conf"), "n").unwrap();
    let second = env.backup(&src);
    assert_ne!(first, second);

    let p = |s: &str| src.join(s).to_str().unwrap().to_owned();
    let lines = env.json_lines(&["diff", &first, &second]);
    let changes: Vec<(String, String, bool, bool)> = lines
        .iter()
        .filter(|v| v["message_type"] == "change" && v["type"] != "dir")
        .map(|v| {
            (
                v["path"].as_str().unwrap().to_owned(),
                v["change"].as_str().unwrap().to_owned(),
                v["content"].as_bool().unwrap(),
                v["metadata"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            (p("d/chmod"), "modified".into(), false, true),
            (p("d/edit"), "modified".into(), true, false),
            (p("new.conf"), "added".into(), false, false),
            (p("old.conf"), "removed".into(), false, false),
        ]
    );
    let stats = lines.last().unwrap();
    assert_eq!(stats["message_type"], "statistics");
    assert_eq!(
        (stats["added"].as_u64(), stats["removed"].as_u64()),
        (Some(1), Some(1))
    );

    let text = env.ok(&["diff", &first[..8], "latest"]);
    assert!(text.contains(&format!("+    {}", p("new.conf"))), "{text}");
    assert!(text.contains(&format!("-    {}", p("old.conf"))), "{text}");
    assert!(text.contains(&format!("M    {}", p("d/edit"))), "{text}");
    assert!(text.contains(&format!("U    {}", p("d/chmod"))), "{text}");

    // find: old.conf only in the first, new.conf only in the second.
    let hits = env.json_lines(&["find", "*.conf"]);
    let found: Vec<(String, String)> = hits
        .iter()
        .filter(|v| v["message_type"] == "match")
        .map(|v| {
            (
                v["snapshot"].as_str().unwrap().to_owned(),
                v["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (first.clone(), p("old.conf")),
            (second.clone(), p("new.conf"))
        ]
    );
    let text = env.ok(&["find", "-i", "OLD.CONF"]);
    assert!(
        text.contains(&first[..8]) && text.contains(&p("old.conf")),
        "{text}"
    );
    assert!(text.contains("1 matches"), "{text}");
}

/// Every key under the repository directory.
fn objects(repo: &Path) -> Vec<PathBuf> {
    files_below(repo)
}

#[test]
fn backup_dry_run_reports_and_writes_nothing() {
    let env = Env::new();
    let src = env.root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a"), vec![7u8; 100_000]).unwrap();
    std::fs::write(src.join("b"), b"bee").unwrap();
    env.ok(&["init"]);
    let before = objects(&env.root.join("repo"));
    let out = env.json_lines(&["backup", "--dry-run", src.to_str().unwrap()]);
    let s = out.last().unwrap();
    assert_eq!(s["dry_run"], true, "{s}");
    assert_eq!(s["files_new"], 2, "{s}");
    assert_eq!(s["bytes_read"], 100_003, "{s}");
    assert!(s["packs_added"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(objects(&env.root.join("repo")), before);
    let text = env.ok(&["backup", "-n", src.to_str().unwrap()]);
    assert!(
        text.contains("Would add") && text.contains("nothing was written"),
        "{text}"
    );
    assert_eq!(objects(&env.root.join("repo")), before);
    assert_eq!(env.json_lines(&["snapshots"])[0], serde_json::json!([]));
}
