//! Runs the built `cairn` binary against temporary repositories.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;

use common::{json_array, success_stdout, temp_root, under, PASSWORD};

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
}

impl Env {
    fn new() -> Env {
        let (tmp, root) = temp_root();
        let repo = root.join("repo");
        Env {
            _tmp: tmp,
            root,
            repo,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = common::cairn(&self.repo, PASSWORD, args);
        c.env_remove("CAIRN_NEW_PASSWORD");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and insists on success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        success_stdout(args, self.run(args))
    }

    /// A small source tree: nested dirs, an empty file, a symlink, a larger file.
    fn source(&self) -> PathBuf {
        let src = self.root.join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::write(src.join("hello.txt"), b"hello, cairn\n").unwrap();
        std::fs::write(src.join("a/empty"), b"").unwrap();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(src.join("a/b/big.bin"), big).unwrap();
        std::os::unix::fs::symlink("../hello.txt", src.join("a/link")).unwrap();
        src
    }
}

/// Runs `cairn -r REPO ARGS` with the test password and the cheap test KDF.
fn cairn_at(repo: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> std::process::Output {
    common::cairn(repo, PASSWORD, args).output().unwrap()
}

/// [`cairn_at`], which must succeed; returns its standard output.
fn cairn_ok(repo: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> String {
    success_stdout(args, cairn_at(repo, args))
}

/// Restores `latest` of `repo` to `target` with `--verify`, and compares the
/// source's files with what was restored.
fn restore_latest_matches(repo: impl AsRef<std::ffi::OsStr>, target: &Path, src: &Path) {
    cairn_ok(
        repo,
        &[
            "restore",
            "latest",
            "--target",
            target.to_str().unwrap(),
            "--verify",
        ],
    );
    for f in ["hello.txt", "a/empty", "a/b/big.bin"] {
        assert_eq!(
            std::fs::read(under(target, src).join(f)).unwrap(),
            std::fs::read(src.join(f)).unwrap(),
            "{}: {f}",
            target.display()
        );
    }
}

fn snapshots(env: &Env) -> Vec<serde_json::Value> {
    json_array(&env.ok(&["--json", "snapshots"]))
}

#[test]
fn init_backup_snapshots_ls_restore_roundtrip() {
    let env = Env::new();
    let out = env.ok(&["init"]);
    assert!(out.contains("created cairn repository"), "{out}");
    let src = env.source();

    let out = env.ok(&[
        "backup",
        src.to_str().unwrap(),
        "--tag",
        "t1",
        "--host",
        "h1",
    ]);
    assert!(out.contains("snapshot") && out.contains("saved"), "{out}");
    assert!(out.contains("3 new"), "{out}");

    let snaps = snapshots(&env);
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0]["hostname"], "h1");
    assert_eq!(snaps[0]["tags"][0], "t1");
    assert_eq!(snaps[0]["paths"][0], src.to_str().unwrap());
    let id = snaps[0]["id"].as_str().unwrap().to_owned();

    // Text table shows the short id.
    let table = env.ok(&["snapshots"]);
    assert!(table.contains(&id[..8]), "{table}");

    let ls = env.ok(&["ls", "latest"]);
    for p in ["hello.txt", "a/empty", "a/b/big.bin"] {
        let want = src.join(p);
        assert!(
            ls.lines().any(|l| l == want.to_str().unwrap()),
            "{p} not in\n{ls}"
        );
    }
    assert!(ls.contains("a/link -> ../hello.txt"), "{ls}");
    let ls_json = env.ok(&["--json", "ls", &id[..10], src.join("a/b").to_str().unwrap()]);
    let nodes: Vec<serde_json::Value> = ls_json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["message_type"] == "node")
        .collect();
    assert_eq!(nodes.len(), 2, "{ls_json}");
    assert_eq!(nodes[1]["size"], 300_000);

    // Restore by prefix, with --verify: restic layout TARGET/<absolute path>.
    let target = env.root.join("restored");
    env.ok(&[
        "restore",
        &id[..8],
        "--target",
        target.to_str().unwrap(),
        "--verify",
    ]);
    let back = under(&target, &src);
    for p in ["hello.txt", "a/empty", "a/b/big.bin"] {
        assert_eq!(
            std::fs::read(back.join(p)).unwrap(),
            std::fs::read(src.join(p)).unwrap(),
            "{p}"
        );
    }
    assert_eq!(
        std::fs::read_link(back.join("a/link")).unwrap(),
        Path::new("../hello.txt")
    );

    // Restore latest with an include: only that subtree.
    let partial = env.root.join("partial");
    let include = src.join("a/b");
    env.ok(&[
        "restore",
        "latest",
        "--target",
        partial.to_str().unwrap(),
        "--include",
        include.to_str().unwrap(),
    ]);
    assert!(under(&partial, &src).join("a/b/big.bin").is_file());
    assert!(!under(&partial, &src).join("hello.txt").exists());

    // A second backup of the same path finds everything unchanged.
    let out = env.ok(&["--json", "backup", src.to_str().unwrap(), "--host", "h1"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["files_unchanged"], 3, "{out}");
    assert_eq!(v["files_new"], 0, "{out}");
    assert_eq!(v["bytes_read"], 0, "{out}");
    // Only trees can be new: the directories above src/ changed (restore targets).
    assert!(v["data_added"].as_u64().unwrap() < 4096, "{out}");
    assert_eq!(snapshots(&env).len(), 2);

    // Filters select among snapshots; as-of before the first finds none.
    let out = env.run(&[
        "restore",
        "latest",
        "--as-of",
        "2000-01-01T00:00:00Z",
        "--target",
        env.root.join("none").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));

    let stats = env.ok(&["--json", "stats"]);
    let v: serde_json::Value = serde_json::from_str(stats.trim()).unwrap();
    assert_eq!(v["snapshots"], 2);
    assert!(v["pack_bytes"].as_u64().unwrap() > 0);
    let stats = env.ok(&["--json", "stats", "latest"]);
    let v: serde_json::Value = serde_json::from_str(stats.trim()).unwrap();
    assert_eq!(v["files"], 3);
    assert_eq!(v["total_size"], 300_013);

    let check = env.ok(&["check", "--read-data-subset", "100%"]);
    assert!(check.contains("no errors"), "{check}");
}

#[test]
fn backup_from_stdin_and_cat() {
    let env = Env::new();
    env.ok(&["init", "--compression", "lz4", "--pack-size", "4"]);
    let mut child = env
        .cmd(&["backup", "--stdin", "--stdin-filename", "dump.sql"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let data: Vec<u8> = b"INSERT INTO t VALUES (1);\n".repeat(20_000);
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let cfg: serde_json::Value = serde_json::from_str(&env.ok(&["cat", "config"])).unwrap();
    assert_eq!(cfg["compression"], "lz4");
    assert_eq!(cfg["pack_size"], 4 << 20);

    let snap: serde_json::Value =
        serde_json::from_str(&env.ok(&["cat", "snapshot", "latest"])).unwrap();
    assert_eq!(snap["paths"][0], "/dump.sql");

    let target = env.root.join("t");
    env.ok(&["restore", "latest", "--target", target.to_str().unwrap()]);
    assert_eq!(std::fs::read(target.join("dump.sql")).unwrap(), data);
}

#[test]
fn wrong_password_missing_password_and_missing_repo() {
    let env = Env::new();
    env.ok(&["init"]);
    let out = env
        .cmd(&["snapshots"])
        .env("CAIRN_PASSWORD", "not it")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong password"));

    let out = env
        .cmd(&["snapshots"])
        .env_remove("CAIRN_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CAIRN_PASSWORD"));

    // A password file: first line only.
    let pw = env.root.join("pw");
    std::fs::write(&pw, format!("{PASSWORD}\nignored\n")).unwrap();
    env.cmd(&["--password-file", pw.to_str().unwrap(), "snapshots"])
        .env_remove("CAIRN_PASSWORD")
        .output()
        .map(|o| assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr)))
        .unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["-r", env.root.join("nope").to_str().unwrap(), "snapshots"])
        .env("CAIRN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert!(!env.root.join("nope").exists());

    // init twice refuses.
    assert_eq!(env.run(&["init"]).status.code(), Some(1));
    // Unknown snapshot: a clear error.
    let out = env.run(&["ls", "deadbeef"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("deadbeef"));
}

#[test]
fn key_add_and_passwd() {
    let env = Env::new();
    env.ok(&["init"]);
    let out = env
        .cmd(&["key", "add"])
        .env("CAIRN_NEW_PASSWORD", "second")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("added key keys/"));
    // Both passwords open it.
    env.ok(&["snapshots"]);
    let out = env
        .cmd(&["snapshots"])
        .env("CAIRN_PASSWORD", "second")
        .output()
        .unwrap();
    assert!(out.status.success());

    // Change "second" to "third": "second" stops working, the first still works.
    let out = env
        .cmd(&["key", "passwd"])
        .env("CAIRN_PASSWORD", "second")
        .env("CAIRN_NEW_PASSWORD", "third")
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = env
        .cmd(&["snapshots"])
        .env("CAIRN_PASSWORD", "second")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = env
        .cmd(&["snapshots"])
        .env("CAIRN_PASSWORD", "third")
        .output()
        .unwrap();
    assert!(out.status.success());
    env.ok(&["snapshots"]);
}

#[cfg(unix)]
#[test]
fn unreadable_file_gives_exit_code_3_and_a_snapshot() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.ok(&["init"]);
    let src = env.source();
    let secret = src.join("secret");
    std::fs::write(&secret, b"x").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&secret).is_ok() {
        // Running as root: permissions do not stop us; nothing to test.
        return;
    }
    let out = env.run(&["backup", src.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("secret"));
    assert_eq!(snapshots(&env).len(), 1);
}

#[test]
fn erasure_layout_backup_restore_and_scrub() {
    let env = Env::new();
    let layout = env.root.join("layout.toml");
    let mut text = String::from("[erasure]\ndata = 2\nparity = 1\n");
    for i in 0..3 {
        text.push_str(&format!(
            "[[backends]]\nlocation = \"disk{i}\"\nzone = \"z{i}\"\n"
        ));
    }
    std::fs::write(&layout, text).unwrap();
    let run = |args: &[&str]| cairn_ok(&layout, args);
    run(&["init"]);
    let src = env.source();
    run(&["backup", src.to_str().unwrap()]);
    // Lose one whole disk: restore still works, scrub --repair rebuilds it.
    std::fs::remove_dir_all(env.root.join("disk1")).unwrap();
    restore_latest_matches(&layout, &env.root.join("t"), &src);
    // The lost disk is replaced by an empty one; scrub --repair refills it.
    std::fs::create_dir(env.root.join("disk1")).unwrap();
    let out = run(&["scrub", "--repair"]);
    assert!(out.contains("objects"), "{out}");
    let out = run(&["--json", "scrub"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["shards_missing"], 0, "{out}");
    let health = run(&["health"]);
    assert!(health.contains("z2"), "{health}");
}

/// The erasure issue's scenario through the CLI: six directories, 4+2. Lose
/// two: restore is byte-identical. Lose a third: a clear error naming the
/// object and the shard counts. Recreate the two lost ones empty, `scrub
/// --repair`, then lose two *other* directories: still byte-identical.
#[test]
fn six_disks_lose_two_repair_lose_two_others() {
    let env = Env::new();
    let layout = env.root.join("layout.toml");
    let mut text = String::from("[erasure]\ndata = 4\nparity = 2\ntimeout_secs = 10\n");
    for i in 0..6 {
        text.push_str(&format!(
            "[[backends]]\nlocation = \"disk{i}\"\nregion = \"r{}\"\n",
            i / 2
        ));
    }
    std::fs::write(&layout, text).unwrap();
    let cairn = |args: &[&str]| cairn_at(&layout, args);
    let run = |args: &[&str]| cairn_ok(&layout, args);
    let disk = |i: usize| env.root.join(format!("disk{i}"));
    let restore_matches = |name: &str, src: &Path| {
        restore_latest_matches(&layout, &env.root.join(name), src);
    };

    run(&["init"]);
    let src = env.source();
    run(&["backup", src.to_str().unwrap()]);

    std::fs::remove_dir_all(disk(0)).unwrap();
    std::fs::remove_dir_all(disk(3)).unwrap();
    restore_matches("t1", &src);

    // A third loss is more than parity covers. Keep a copy to put it back.
    let saved = env.root.join("disk5-saved");
    std::fs::rename(disk(5), &saved).unwrap();
    let out = cairn(&[
        "restore",
        "latest",
        "--target",
        env.root.join("t2").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not enough shards") && err.contains("have 3, need 4"),
        "{err}"
    );
    std::fs::rename(&saved, disk(5)).unwrap();

    // Replacement disks arrive empty; scrub --repair rebuilds them.
    std::fs::create_dir(disk(0)).unwrap();
    std::fs::create_dir(disk(3)).unwrap();
    let out = run(&["--json", "scrub", "--repair"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["shards_repaired"].as_u64().unwrap() > 0, "{out}");
    assert_eq!(
        v["unrecoverable"].as_array().map(Vec::len),
        Some(0),
        "{out}"
    );
    let out = run(&["--json", "scrub"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["shards_missing"], 0, "{out}");

    std::fs::remove_dir_all(disk(1)).unwrap();
    std::fs::remove_dir_all(disk(4)).unwrap();
    restore_matches("t3", &src);
}

#[test]
fn demo_small_round_trip() {
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["demo", "--size-mib", "8"])
        .env_remove("CAIRN_PASSWORD")
        .env_remove("CAIRN_REPOSITORY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("snapshot 1: identical"), "{stdout}");
    assert!(stdout.contains("snapshot 2: identical"), "{stdout}");
    assert!(stdout.contains("no errors"), "{stdout}");
}

/// Against a real S3 server (the one `scripts/s3-server start` exported, or
/// one the test kit starts): a plain repository on S3, then an erasure
/// layout mixing local disks and S3. The CLI finds the credentials in the
/// environment the test kit set.
#[test]
fn s3_repository_and_mixed_erasure_layout() {
    // Started for this test run if none is configured; `None` (a skip,
    // said on stderr) only off CI when none can be installed.
    let Some(server) = cairn_backends::testing::s3_test_server() else {
        return;
    };
    let (endpoint, bucket) = (server.endpoint, server.bucket);
    let env = Env::new();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let unique = format!("cli-test-{}-{nanos}", std::process::id());
    let s3 = format!("s3:{endpoint}/{bucket}/{unique}");
    let layout = env.root.join("mixed.toml");
    std::fs::write(
        &layout,
        format!(
            "[erasure]\ndata = 2\nparity = 1\n\
             [[backends]]\nlocation = \"disk0\"\n\
             [[backends]]\nlocation = \"disk1\"\n\
             [[backends]]\nlocation = \"{s3}-shards\"\nregion = \"s3\"\n"
        ),
    )
    .unwrap();
    let src = env.source();
    for repo in [s3.clone(), layout.to_str().unwrap().to_owned()] {
        let run = |args: &[&str]| cairn_ok(&repo, args);
        run(&["init"]);
        run(&["backup", src.to_str().unwrap()]);
        restore_latest_matches(&repo, &env.root.join(format!("t-{}", repo.len())), &src);
        run(&["check", "--read-data"]);
    }
}

#[test]
fn demo_json_keep_leaves_the_repository_behind() {
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["--json", "demo", "--size-mib", "4", "--keep"])
        .env_remove("CAIRN_PASSWORD")
        .env_remove("CAIRN_REPOSITORY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert!(v["differences"].as_array().unwrap().is_empty());
    // The second backup skipped the unchanged files and added far less.
    assert!(v["backup2"]["files_unchanged"].as_u64().unwrap() > 50);
    assert!(v["backup2"]["added_raw"].as_u64() < v["backup1"]["added_raw"].as_u64());
    let kept = PathBuf::from(v["kept"].as_str().unwrap());
    assert!(kept.join("repo/config").is_file());
    assert!(kept.join("restore-2").is_dir());
    std::fs::remove_dir_all(&kept).unwrap();
}
