//! The metadata cache from the command line: two `cairn` processes share
//! it, a tampered file is refetched, `--no-cache` writes nothing, and the
//! default is the platform's cache directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{files_below, json_array, success_stdout, temp_root, PASSWORD};

fn cairn(repo: &Path, cache: &Path, args: &[&str]) -> Command {
    let mut c = common::cairn(repo, PASSWORD, args);
    c.env("CAIRN_CACHE_DIR", cache);
    c
}

fn ok(repo: &Path, cache: &Path, args: &[&str]) -> String {
    success_stdout(args, cairn(repo, cache, args).output().unwrap())
}

/// A repository with three snapshots of a small tree.
fn repo_with_snapshots(root: &Path, cache: &Path) -> PathBuf {
    let repo = root.join("repo");
    let src = root.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    ok(&repo, cache, &["init"]);
    for i in 0..3 {
        std::fs::write(src.join("sub/f"), format!("version {i}")).unwrap();
        ok(&repo, cache, &["backup", src.to_str().unwrap(), "--quiet"]);
    }
    repo
}

fn snapshot_ids(repo: &Path, cache: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["snapshots", "--json"];
    args.extend_from_slice(extra);
    json_array(&ok(repo, cache, &args))
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn two_processes_share_the_cache_and_a_tampered_file_is_refetched() {
    let (_tmp, root) = temp_root();
    let cache = root.join("cache");
    let repo = repo_with_snapshots(&root, &cache);
    let want = snapshot_ids(&repo, &cache, &["--no-cache"]);
    assert_eq!(want.len(), 3);

    // Two processes at once, listing and browsing through one cache.
    let run = || {
        cairn(&repo, &cache, &["ls", "latest", "--json"])
            .spawn()
            .unwrap()
    };
    let (a, b) = (run(), run());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    assert_eq!(snapshot_ids(&repo, &cache, &[]), want);
    let cached = files_below(&cache);
    assert!(
        cached
            .iter()
            .any(|p| p.to_string_lossy().contains("/snapshots/")),
        "{cached:?}"
    );
    assert!(cached
        .iter()
        .all(|p| !p.to_string_lossy().contains(".tmp-")));
    assert!(cached
        .iter()
        .all(|p| !p.to_string_lossy().contains("/keys/")));

    // Flip a byte in every cached file: the next runs refuse them, read
    // the objects from the repository, and cache them again.
    let mut tampered = Vec::new();
    for p in &cached {
        if p.file_name().unwrap() == "CACHEDIR.TAG" {
            continue;
        }
        let mut bytes = std::fs::read(p).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(p, &bytes).unwrap();
        tampered.push((p.clone(), bytes));
    }
    assert_eq!(snapshot_ids(&repo, &cache, &[]), want);
    let listed = ok(&repo, &cache, &["ls", "latest"]);
    assert!(listed.contains("sub"), "{listed}");
    for (p, bad) in tampered {
        let s = p.to_string_lossy();
        if s.contains("/snapshots/") || s.contains("/index/") {
            assert_ne!(std::fs::read(&p).unwrap(), bad, "{s} not repaired");
        }
    }
}

#[test]
fn no_cache_writes_nothing_and_the_default_is_the_platform_cache_dir() {
    let (_tmp, root) = temp_root();
    let cache = root.join("given");
    let repo = repo_with_snapshots(&root, &cache);
    let home = root.join("home");
    let xdg = root.join("xdg");
    std::fs::create_dir_all(&home).unwrap();
    let with_env = |args: &[&str]| {
        let mut c = common::cairn(&repo, PASSWORD, args);
        c.env_remove("CAIRN_CACHE_DIR")
            .env("HOME", &home)
            .env("XDG_CACHE_HOME", &xdg);
        success_stdout(args, c.output().unwrap())
    };
    with_env(&["--no-cache", "snapshots"]);
    with_env(&["--no-cache", "ls", "latest"]);
    assert!(!xdg.exists(), "--no-cache created {}", xdg.display());
    assert!(files_below(&home).is_empty());

    with_env(&["snapshots"]);
    let made = files_below(&xdg.join("cairn"));
    assert!(made.iter().any(|p| p.ends_with("CACHEDIR.TAG")), "{made:?}");
    assert!(made
        .iter()
        .any(|p| p.to_string_lossy().contains("snapshots/")));
}
