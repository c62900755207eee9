//! `backup --pre-hook/--post-hook` and `restore --post-hook`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::{temp_root, PASSWORD};

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    src: PathBuf,
}

impl Env {
    fn new() -> Env {
        let (tmp, root) = temp_root();
        let src = root.join("src");
        std::fs::create_dir_all(src.join("d")).unwrap();
        std::fs::write(src.join("a.txt"), b"alpha").unwrap();
        std::fs::write(src.join("d/b.txt"), b"beta").unwrap();
        let env = Env {
            repo: root.join("repo"),
            root,
            src,
            _tmp: tmp,
        };
        assert!(env.run(&["init"]).status.success());
        env
    }

    fn run(&self, args: &[&str]) -> Output {
        common::cairn(&self.repo, PASSWORD, args).output().unwrap()
    }

    /// A hook command that appends `$VAR=value` lines for `vars` to `log`.
    fn recorder(&self, log: &Path, vars: &[&str]) -> String {
        let lines: Vec<String> = vars
            .iter()
            .map(|v| format!("echo \"{v}=${{{v}-unset}}\" >> '{}'", log.display()))
            .collect();
        lines.join("; ")
    }

    fn snapshot_ids(&self) -> Vec<String> {
        let out = self.run(&["snapshots", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[test]
fn a_failing_pre_hook_aborts_the_backup_and_no_post_hook_runs() {
    let env = Env::new();
    let post = env.root.join("post.log");
    let post_cmd = format!("touch '{}'", post.display());
    let out = env.run(&[
        "backup",
        env.src.to_str().unwrap(),
        "--pre-hook",
        "exit 3",
        "--post-hook",
        &post_cmd,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("pre-backup hook"), "{stderr}");
    assert!(stderr.contains("not started"), "{stderr}");
    assert!(env.snapshot_ids().is_empty());
    assert!(!post.exists(), "the post hook ran after a failed pre hook");
}

#[test]
fn hooks_see_the_backup_and_its_result_but_not_the_password() {
    let env = Env::new();
    let pre = env.root.join("pre.log");
    let post = env.root.join("post.log");
    let pre_cmd = env.recorder(&pre, &["CAIRN_HOOK", "CAIRN_PATHS", "CAIRN_PASSWORD"]);
    let post_cmd = env.recorder(
        &post,
        &[
            "CAIRN_HOOK",
            "CAIRN_RESULT",
            "CAIRN_SNAPSHOT_ID",
            "CAIRN_FILES_NEW",
            "CAIRN_TAGS",
        ],
    );
    let out = env.run(&[
        "backup",
        env.src.to_str().unwrap(),
        "--tag",
        "nightly",
        "--pre-hook",
        &pre_cmd,
        "--post-hook",
        &post_cmd,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids = env.snapshot_ids();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        read(&pre),
        format!(
            "CAIRN_HOOK=pre-backup\nCAIRN_PATHS={}\nCAIRN_PASSWORD=unset\n",
            env.src.display()
        )
    );
    assert_eq!(
        read(&post),
        format!(
            "CAIRN_HOOK=post-backup\nCAIRN_RESULT=success\nCAIRN_SNAPSHOT_ID={}\n\
             CAIRN_FILES_NEW=2\nCAIRN_TAGS=nightly\n",
            ids[0]
        )
    );

    // The post hook also runs after a failed backup (a thaw follows every
    // freeze), told that it failed; a failing post hook fails the command.
    let post2 = env.root.join("post2.log");
    let cmd = env.recorder(&post2, &["CAIRN_RESULT"]) + "; exit 1";
    let out = env.run(&["backup", "/no/such/path", "--post-hook", &cmd]);
    assert!(!out.status.success());
    assert_eq!(read(&post2), "CAIRN_RESULT=failed\n");
    assert_eq!(env.snapshot_ids().len(), 1);
}

#[test]
fn the_post_restore_hook_validates_the_restore() {
    let env = Env::new();
    assert!(env
        .run(&["backup", env.src.to_str().unwrap()])
        .status
        .success());
    let target = env.root.join("target");
    let log = env.root.join("restore.log");
    let ok_cmd = env.recorder(
        &log,
        &[
            "CAIRN_HOOK",
            "CAIRN_RESULT",
            "CAIRN_TARGET",
            "CAIRN_FILES_RESTORED",
        ],
    );
    let t = target.to_str().unwrap();
    let out = env.run(&["restore", "latest", "--target", t, "--post-hook", &ok_cmd]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        read(&log),
        format!(
            "CAIRN_HOOK=post-restore\nCAIRN_RESULT=success\nCAIRN_TARGET={t}\nCAIRN_FILES_RESTORED=2\n"
        )
    );
    // A validation that fails makes the restore command fail.
    let check = format!("test -f \"$CAIRN_TARGET{}/missing.txt\"", env.src.display());
    let out = env.run(&["restore", "latest", "--target", t, "--post-hook", &check]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("post-restore hook"), "{stderr}");
}
