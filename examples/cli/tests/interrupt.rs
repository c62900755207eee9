//! Ctrl-C during `cairn backup` and `cairn restore`: the first SIGINT stops
//! the operation cleanly (exit 130, a resumable state), a second exits at once.
//!
//! Slow rate limits (`--limit-upload`, `--limit-download`) keep the operation
//! running long enough to be interrupted; the tests wait for an observable
//! state (a pack stored, a file restored) before signalling, never for a time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{success_stdout, PASSWORD};

/// 16 files of 512 KiB of incompressible data: 8 one-MiB packs.
const FILES: usize = 16;
const FILE_SIZE: usize = 512 << 10;

fn cairn(repo: &Path, args: &[&str]) -> Command {
    common::cairn(repo, PASSWORD, args)
}

fn ok(repo: &Path, args: &[&str]) -> String {
    success_stdout(args, cairn(repo, args).output().unwrap())
}

/// A repository with 1 MiB packs, no compression, and a source of random data.
fn setup(root: &Path) -> (PathBuf, PathBuf) {
    let repo = root.join("repo");
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    // A simple xorshift: incompressible, distinct, and no rand dependency needed.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..FILES {
        let data: Vec<u8> = (0..FILE_SIZE)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(src.join(format!("f{i:02}.bin")), data).unwrap();
    }
    ok(
        &repo,
        &["init", "--pack-size", "1", "--compression", "none"],
    );
    (repo, src)
}

/// Files (recursively) below `dir` for which `pick` holds.
fn count_files(dir: &Path, pick: &dyn Fn(&Path) -> bool) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => count_files(&p, pick),
                Ok(t) if t.is_file() && pick(&p) => 1,
                _ => 0,
            }
        })
        .sum()
}

/// Packs stored (temporary files of puts in progress are not counted).
fn packs(repo: &Path) -> usize {
    count_files(&repo.join("data"), &|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.len() == 64)
    })
}

/// Waits (polling, up to a generous bound that only guards against a hang)
/// until `ready` holds, failing if the child exits first.
fn wait_for(child: &mut Child, what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("cairn exited ({status:?}) before {what}");
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill {sig} failed");
}

fn finish(child: Child) -> Output {
    let out = child.wait_with_output().unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn snapshots(repo: &Path) -> usize {
    let v: serde_json::Value = serde_json::from_str(&ok(repo, &["snapshots", "--json"])).unwrap();
    v.as_array().map_or(0, Vec::len)
}

fn spawn_backup(repo: &Path, src: &Path, limit_kib: &str) -> Child {
    cairn(
        repo,
        &[
            "--limit-upload",
            limit_kib,
            "backup",
            src.to_str().unwrap(),
            "--quiet",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

#[test]
fn ctrl_c_stops_a_backup_without_a_snapshot_and_the_next_backup_reuses_its_packs() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = setup(tmp.path());
    let mut child = spawn_backup(&repo, &src, "512");
    wait_for(&mut child, "a pack is stored", || packs(&repo) >= 1);
    signal(&child, "-INT");
    let out = finish(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("backup interrupted"), "{stderr}");
    assert_eq!(
        snapshots(&repo),
        0,
        "an interrupted backup saves no snapshot"
    );
    let stored = packs(&repo);
    assert!((1..8).contains(&stored), "stopped part-way: {stored} packs");
    ok(&repo, &["check"]);

    // The packs stored were indexed: the next backup does not upload them again.
    let v: serde_json::Value =
        serde_json::from_str(&ok(&repo, &["backup", src.to_str().unwrap(), "--json"])).unwrap();
    let added = v["data_added"].as_u64().unwrap();
    let total = (FILES * FILE_SIZE) as u64;
    assert!(
        added <= total - (stored as u64 - 1) * (1 << 20) + (1 << 20),
        "the second backup added {added} of {total} bytes although {stored} packs were stored"
    );
    assert!(added < total, "nothing was reused: {added} of {total}");
    assert_eq!(snapshots(&repo), 1);
    ok(&repo, &["check", "--read-data"]);
}

#[test]
fn a_second_ctrl_c_exits_at_once_and_the_repository_still_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = setup(tmp.path());
    // Slow enough that the packs in flight when the first signal lands take
    // seconds to finish: the second signal arrives while it stops cleanly.
    let mut child = spawn_backup(&repo, &src, "64");
    wait_for(&mut child, "a pack is stored", || packs(&repo) >= 1);
    // Two signals sent back to back may merge into one (a pending signal is
    // not queued twice): send the second once the first was handled.
    let stderr_pipe = child.stderr.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr_pipe).lines() {
            let line = line.unwrap();
            all.push_str(&line);
            all.push('\n');
            let _ = lines_tx.send(line);
        }
        all
    });
    signal(&child, "-INT");
    let handled = lines_rx
        .iter()
        .any(|l| l.contains("interrupted: stopping the backup cleanly"));
    assert!(handled, "the first signal was not reported");
    signal(&child, "-INT");
    let status = child.wait().unwrap();
    let stderr = reader.join().unwrap();
    eprintln!("{stderr}");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("exiting now"), "{stderr}");
    assert_eq!(snapshots(&repo), 0);
    // An exit mid-upload is a crash: the repository opens, checks and backs up.
    ok(&repo, &["check"]);
    ok(&repo, &["backup", src.to_str().unwrap(), "--quiet"]);
    assert_eq!(snapshots(&repo), 1);
}

#[test]
fn sigterm_stops_a_restore_between_packs_and_if_changed_finishes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, src) = setup(tmp.path());
    ok(&repo, &["backup", src.to_str().unwrap(), "--quiet"]);
    let target = tmp.path().join("target");
    let t = target.to_str().unwrap();
    let mut child = cairn(
        &repo,
        &[
            "--limit-download",
            "1024",
            "restore",
            "latest",
            "--target",
            t,
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_for(&mut child, "a file is restored", || {
        count_files(&target, &|_| true) >= 1
    });
    signal(&child, "-TERM");
    let out = finish(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("restore interrupted"), "{stderr}");
    assert!(stderr.contains("--overwrite if-changed"), "{stderr}");

    let v: serde_json::Value = serde_json::from_str(&ok(
        &repo,
        &[
            "restore",
            "latest",
            "--target",
            t,
            "--overwrite",
            "if-changed",
            "--verify",
            "--json",
        ],
    ))
    .unwrap();
    let fetched = v["bytes_fetched"].as_u64().unwrap();
    let total = (FILES * FILE_SIZE) as u64;
    assert!(
        fetched < total,
        "the resumed restore fetched everything again: {fetched} of {total}"
    );
    assert_eq!(v["verify_mismatches"].as_u64(), Some(0));
}
