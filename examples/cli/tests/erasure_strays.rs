//! Stray shards through the CLI: in a 4+2 layout of local directories,
//! shards under a key that only two directories hold (what a crashed write
//! or a delete refused by four directories leaves) are shown by
//! `prune --dry-run` and removed by `prune`, and the repository checks clean.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

mod common;

use common::{success_stdout, temp_root, PASSWORD};

/// Runs `cairn -r LAYOUT ARGS`, insists on success; returns stdout.
fn ok(layout: &Path, args: &[&str]) -> String {
    success_stdout(
        args,
        common::cairn(layout, PASSWORD, args).output().unwrap(),
    )
}

/// The first file under `dir` (recursively), as a path relative to `base`.
fn first_file(base: &Path, dir: &Path) -> Option<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if let Some(f) = first_file(base, &p) {
                return Some(f);
            }
        } else {
            return Some(p.strip_prefix(base).unwrap().to_owned());
        }
    }
    None
}

#[test]
fn prune_removes_stray_shards_from_a_layout() {
    let (_tmp, root) = temp_root();
    let layout = root.join("layout.toml");
    let mut text = String::from("[erasure]\ndata = 4\nparity = 2\n");
    for i in 0..6 {
        text.push_str(&format!("[[backends]]\nlocation = \"disk{i}\"\n"));
    }
    std::fs::write(&layout, text).unwrap();
    let disk = |i: usize| root.join(format!("disk{i}"));
    ok(&layout, &["init"]);
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let data: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(7) % 251) as u8)
        .collect();
    std::fs::write(src.join("big.bin"), data).unwrap();
    ok(&layout, &["backup", src.to_str().unwrap()]);

    // Two directories get a shard under a key no other directory has.
    let stray = format!("data/ab/{}", "ab".repeat(32));
    for i in [1, 4] {
        let d = disk(i);
        let shard = first_file(&d, &d.join("data")).unwrap();
        std::fs::create_dir_all(d.join("data/ab")).unwrap();
        std::fs::copy(d.join(shard), d.join(&stray)).unwrap();
    }
    let plan = ok(&layout, &["--json", "prune", "--dry-run"]);
    let v: serde_json::Value = serde_json::from_str(plan.trim()).unwrap();
    assert_eq!(v["strays"], serde_json::json!([stray]), "{plan}");
    assert!(disk(1).join(&stray).exists(), "a dry run removes nothing");

    let out = ok(&layout, &["prune", "--grace", "0"]);
    assert!(out.contains("stray shards: 2 removed from 1 keys"), "{out}");
    for i in 0..6 {
        assert!(!disk(i).join(&stray).exists(), "disk{i}");
    }
    let out = ok(&layout, &["--json", "prune", "--dry-run"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["strays"], serde_json::json!([]), "{out}");
    ok(&layout, &["check", "--read-data"]);
}
