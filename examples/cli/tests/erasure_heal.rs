//! Lost redundancy through the CLI: a 4+2 layout with one directory missing
//! during backups says so (text and `--json`); the directory comes back
//! empty, `scrub --repair` heals it; then two *other* directories are lost
//! and every snapshot still restores identical.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::{assert_success, temp_root, under, PASSWORD};

fn cairn(layout: &Path, args: &[&str]) -> Output {
    common::cairn(layout, PASSWORD, args).output().unwrap()
}

/// Runs, insists on success; returns (stdout, stderr), which must be UTF-8.
fn ok(layout: &Path, args: &[&str]) -> (String, String) {
    let out = cairn(layout, args);
    assert_success(args, &out);
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A source tree with some bulk, different per `seed`.
fn source(root: &Path, seed: u32) -> PathBuf {
    let src = root.join(format!("src{seed}"));
    std::fs::create_dir_all(src.join("a/b")).unwrap();
    std::fs::write(src.join("hello.txt"), format!("hello {seed}\n")).unwrap();
    std::fs::write(src.join("a/empty"), b"").unwrap();
    let big: Vec<u8> = (0..1_500_000u32)
        .map(|i| (i.wrapping_mul(seed + 7) % 251) as u8)
        .collect();
    std::fs::write(src.join("a/b/big.bin"), big).unwrap();
    std::os::unix::fs::symlink("../hello.txt", src.join("a/link")).unwrap();
    src
}

/// Asserts `b` holds exactly what `a` holds (names, kinds, bytes, links).
fn same_tree(a: &Path, b: &Path) {
    let names = |d: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(a), names(b), "{a:?} vs {b:?}");
    for n in names(a) {
        let (pa, pb) = (a.join(&n), b.join(&n));
        let ma = std::fs::symlink_metadata(&pa).unwrap();
        if ma.file_type().is_symlink() {
            assert_eq!(
                std::fs::read_link(&pa).unwrap(),
                std::fs::read_link(&pb).unwrap()
            );
        } else if ma.is_dir() {
            same_tree(&pa, &pb);
        } else {
            assert!(
                std::fs::read(&pa).unwrap() == std::fs::read(&pb).unwrap(),
                "{pb:?}"
            );
        }
    }
}

#[test]
fn missing_disk_during_backup_is_reported_healed_and_then_two_others_may_go() {
    let (_tmp, root) = temp_root();
    let layout = root.join("layout.toml");
    let mut text = String::from("[erasure]\ndata = 4\nparity = 2\ntimeout_secs = 10\n");
    for i in 0..6 {
        text.push_str(&format!("[[backends]]\nlocation = \"disk{i}\"\n"));
    }
    std::fs::write(&layout, text).unwrap();
    let disk = |i: usize| root.join(format!("disk{i}"));
    ok(&layout, &["init"]);

    // Disk 2 is gone (an unmounted disk) during two backups.
    std::fs::remove_dir_all(disk(2)).unwrap();
    let srcs = [source(&root, 1), source(&root, 2)];
    let (out, err) = ok(&layout, &["--json", "backup", srcs[0].to_str().unwrap()]);
    assert!(
        err.contains("DOES NOT EXIST") && err.contains("disk2"),
        "{err}"
    );
    assert!(err.contains("redundancy degraded"), "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let first = v["redundancy"]["under_replicated"].as_u64().unwrap();
    assert!(first >= 3, "{out}");
    assert_eq!(v["redundancy"]["degraded"], true, "{out}");
    assert!(v["redundancy"]["unreachable_children"][0]
        .as_str()
        .unwrap()
        .contains("disk2"));
    let (out, err) = ok(&layout, &["backup", srcs[1].to_str().unwrap()]);
    assert!(out.contains("saved"), "{out}");
    assert!(err.contains("objects under-replicated"), "{err}");

    // Back, empty: scrub --repair heals everything recorded.
    std::fs::create_dir(disk(2)).unwrap();
    let (out, _) = ok(&layout, &["--json", "scrub", "--repair"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let healed = v["heal"]["healed"].as_array().unwrap().len() as u64;
    assert!(healed > first, "{out}");
    assert_eq!(v["under_replicated"], 0, "{out}");
    assert!(v["shards_repaired"].as_u64().unwrap() >= healed, "{out}");
    let (out, _) = ok(&layout, &["--json", "scrub"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["shards_missing"], 0, "{out}");
    assert_eq!(v["objects_healthy"], v["objects_scanned"], "{out}");

    // Two other disks go: every snapshot restores identical.
    std::fs::remove_dir_all(disk(0)).unwrap();
    std::fs::remove_dir_all(disk(5)).unwrap();
    let (out, _) = ok(&layout, &["--json", "snapshots"]);
    let snaps: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(snaps.len(), 2);
    for s in &snaps {
        let id = s["id"].as_str().unwrap();
        let path = PathBuf::from(s["paths"][0].as_str().unwrap());
        let target = root.join(format!("restore-{}", &id[..8]));
        ok(
            &layout,
            &[
                "restore",
                id,
                "--target",
                target.to_str().unwrap(),
                "--verify",
            ],
        );
        same_tree(&path, &under(&target, &path));
    }
}
