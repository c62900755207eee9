//! Several `cairn backup` processes and a `cairn forget --prune --grace 0`
//! loop at the same time on one local repository; afterwards every
//! remaining snapshot restores its version exactly and `check --read-data`
//! is clean.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

mod common;

use common::{noise, success_stdout, temp_root, under, PASSWORD};

const VERSIONS: u64 = 8;

fn cairn(repo: &Path, args: &[&str]) -> Output {
    common::cairn(repo, PASSWORD, args).output().unwrap()
}

fn ok(repo: &Path, args: &[&str]) -> String {
    success_stdout(args, cairn(repo, args))
}

/// Version `v` of writer `w`'s tree: files shared by all writers and
/// versions, files that change every other version, one new each version.
fn version_files(w: u64, v: u64) -> Vec<(String, Vec<u8>)> {
    vec![
        ("shared".into(), noise(1, 400_000)),
        ("slow".into(), noise(100 + w * 10 + v / 2, 300_000)),
        ("fast".into(), noise(1000 + w * 100 + v, 200_000)),
    ]
}

fn write_version(dir: &Path, w: u64, v: u64) {
    for (name, data) in version_files(w, v) {
        std::fs::write(dir.join(name), data).unwrap();
    }
}

#[test]
fn backups_and_forget_prune_loop_in_parallel_processes() {
    let (_tmp, root) = temp_root();
    let repo = root.join("repo");
    ok(&repo, &["init"]);
    let done = Arc::new(AtomicBool::new(false));
    let pruner = {
        let (repo, done) = (repo.clone(), done.clone());
        std::thread::spawn(move || {
            let (mut runs, mut after) = (0, 0);
            // Until the backups are done, then twice more: the last run
            // finds no backup running and deletes everything condemned.
            while after < 2 {
                let finished = done.load(Ordering::SeqCst);
                ok(
                    &repo,
                    &[
                        "forget",
                        "--keep-last",
                        "1",
                        "--prune",
                        "--grace",
                        "0",
                        "--max-unused",
                        "0%",
                    ],
                );
                runs += 1;
                after += usize::from(finished);
            }
            runs
        })
    };
    let writers: Vec<_> = (0..3u64)
        .map(|w| {
            let repo = repo.clone();
            let src: PathBuf = root.join(format!("src{w}"));
            std::fs::create_dir_all(&src).unwrap();
            std::thread::spawn(move || {
                for v in 0..VERSIONS {
                    write_version(&src, w, v);
                    let tag = format!("w{w}v{v}");
                    ok(&repo, &["backup", src.to_str().unwrap(), "--tag", &tag]);
                }
                src
            })
        })
        .collect();
    let sources: Vec<PathBuf> = writers.into_iter().map(|h| h.join().unwrap()).collect();
    done.store(true, Ordering::SeqCst);
    let runs = pruner.join().unwrap();
    eprintln!(
        "{runs} forget --prune runs alongside {} backups",
        3 * VERSIONS
    );
    // Old packs really became garbage and were deleted: far less than all
    // versions stored.
    let data: u64 = walk_size(&repo.join("data"));
    eprintln!("data/ holds {data} bytes after the runs");
    assert!(data < 3 * 900_000 * 2, "{data} bytes in data/");

    ok(&repo, &["check", "--read-data"]);
    // The audit journal of all those concurrent processes verifies, and
    // records every backup and every forget.
    ok(&repo, &["audit", "verify"]);
    let log: serde_json::Value =
        serde_json::from_str(&ok(&repo, &["--json", "audit", "log"])).unwrap();
    let kinds: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["op"]["kind"].as_str().unwrap())
        .collect();
    let count = |k: &str| kinds.iter().filter(|x| **x == k).count();
    assert_eq!(count("backup"), 3 * VERSIONS as usize, "{kinds:?}");
    assert_eq!(count("prune"), runs, "{kinds:?}");
    assert!(count("forget") >= 1, "{kinds:?}");
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&repo, &["--json", "snapshots"])).unwrap();
    // keep-last 1 per host+paths group: the last version of each writer.
    assert_eq!(list.len(), 3, "{list:?}");
    for s in &list {
        let id = s["id"].as_str().unwrap();
        let tag = s["tags"][0].as_str().unwrap();
        let (w, v) = tag[1..].split_once('v').unwrap();
        let (w, v): (u64, u64) = (w.parse().unwrap(), v.parse().unwrap());
        assert_eq!(v, VERSIONS - 1, "the last version of writer {w} is kept");
        let target = root.join(format!("restore-{id}"));
        ok(
            &repo,
            &["restore", id, "--target", target.to_str().unwrap()],
        );
        let src = &sources[w as usize];
        let restored = under(&target, src);
        for (name, data) in version_files(w, v) {
            assert_eq!(
                std::fs::read(restored.join(&name)).unwrap(),
                data,
                "{tag} {name}"
            );
        }
    }
}

fn walk_size(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        total += if m.is_dir() {
            walk_size(&e.path())
        } else {
            m.len()
        };
    }
    total
}

#[test]
fn forget_dry_run_json_then_prune_and_stats_reclaimable() {
    let (_tmp, root) = temp_root();
    let repo = root.join("repo");
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    ok(&repo, &["init"]);
    for v in 0..3 {
        write_version(&src, 9, v);
        ok(
            &repo,
            &["backup", src.to_str().unwrap(), "--tag", &format!("v{v}")],
        );
    }
    // Dry run: reasons in text and JSON, nothing removed.
    let text = ok(
        &repo,
        &[
            "forget",
            "--keep-last",
            "1",
            "--keep-tag",
            "v0",
            "--dry-run",
        ],
    );
    assert!(text.contains("last #1"), "{text}");
    assert!(text.contains("tag v0"), "{text}");
    assert!(text.contains("would remove 1 snapshots"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&ok(
        &repo,
        &["--json", "forget", "--keep-last", "1", "--dry-run"],
    ))
    .unwrap();
    let decisions = json["plan"]["groups"][0]["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 3);
    assert_eq!(decisions.iter().filter(|d| d["keep"] == true).count(), 1);
    assert!(json["removed"].as_array().unwrap().is_empty());
    // An empty policy is refused.
    let out = cairn(&repo, &["forget"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("keeps no snapshot"));

    ok(&repo, &["forget", "--keep-last", "1"]);
    let stats = ok(&repo, &["stats"]);
    assert!(stats.contains("Reclaimable by prune:"), "{stats}");
    let plan: serde_json::Value =
        serde_json::from_str(&ok(&repo, &["--json", "prune", "--dry-run"])).unwrap();
    assert!(plan["bytes_freed"].as_u64().unwrap() > 0, "{plan}");
    let done: serde_json::Value = serde_json::from_str(&ok(&repo, &["--json", "prune"])).unwrap();
    assert!(done["packs_deleted"].as_u64().unwrap() > 0, "{done}");
    let plan: serde_json::Value =
        serde_json::from_str(&ok(&repo, &["--json", "prune", "--dry-run"])).unwrap();
    assert_eq!(plan["bytes_freed"].as_u64(), Some(0), "{plan}");
    ok(&repo, &["check", "--read-data"]);
    let target = root.join("restore");
    ok(
        &repo,
        &["restore", "latest", "--target", target.to_str().unwrap()],
    );
    for (name, data) in version_files(9, 2) {
        let got = std::fs::read(under(&target, &src).join(&name)).unwrap();
        assert_eq!(got, data, "{name}");
    }
}
