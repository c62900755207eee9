//! `tenant create|list`, `backup|snapshots|restore|forget --tenant T`,
//! `shred --tenant T [--yes] [--json]`, `shred --verify-receipt FILE`, and
//! `prune` reclaiming a shredded tenant: in a directory and in a 4+2 layout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

mod common;

use common::{noise, success_stdout, temp_root, under, PASSWORD};

fn run(repo: &Path, args: &[&str]) -> Output {
    common::cairn(repo, PASSWORD, args)
        .env_remove("CAIRN_TENANT")
        .env_remove("CAIRN_APPEND_ONLY")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(repo: &Path, args: &[&str]) -> String {
    success_stdout(args, run(repo, args))
}

fn fails(repo: &Path, args: &[&str]) -> String {
    let out = run(repo, args);
    assert_eq!(out.status.code(), Some(1), "cairn {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

/// Every file below `dir` (relative names); none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    if !dir.exists() {
        return Vec::new();
    }
    common::files_below(dir)
}

/// The whole scenario against `repo` (a directory or a layout file);
/// `stores` are the directories that hold objects (the repository, or
/// each child of the layout).
fn scenario(root: &Path, repo: &Path, stores: &[PathBuf]) {
    ok(repo, &["init"]);
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let data = noise(7, 600_000);
    std::fs::write(src.join("customer.bin"), &data).unwrap();
    let created = ok(repo, &["--json", "tenant", "create", "alpha"]);
    let alpha: serde_json::Value = serde_json::from_str(&created).unwrap();
    let (ns_a, id_a) = (
        alpha["namespace"].as_str().unwrap(),
        alpha["id"].as_str().unwrap(),
    );
    ok(repo, &["tenant", "create", "beta"]);
    let src_s = src.to_str().unwrap();
    for t in ["alpha", "beta"] {
        ok(repo, &["backup", "--tenant", t, src_s]);
    }
    let fails_missing = fails(repo, &["backup", "--tenant", "gamma", src_s]);
    assert!(fails_missing.contains("tenant create"), "{fails_missing}");
    // Snapshots are per tenant; the whole repository has none of its own.
    let list = |t: &str| common::json_array(&ok(repo, &["--json", "snapshots", "--tenant", t]));
    assert_eq!(list("alpha").len(), 1);
    assert_eq!(
        common::json_array(&ok(repo, &["--json", "snapshots"])).len(),
        0
    );
    let tenants = common::json_array(&ok(repo, &["--json", "tenant", "list"]));
    let names: Vec<&str> = tenants
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    // No object name carries a tenant's name; each tenant stored the file.
    for s in stores {
        for f in files(s) {
            let f = f.to_string_lossy().into_owned();
            assert!(!f.contains("alpha") && !f.contains("beta"), "{f}");
        }
    }

    // Without --yes and without a terminal, nothing happens.
    let refused = fails(repo, &["shred", "--tenant", "alpha"]);
    assert!(refused.contains("--yes"), "{refused}");
    assert_eq!(list("alpha").len(), 1);

    let receipt = ok(repo, &["--json", "shred", "--tenant", "alpha", "--yes"]);
    let r: serde_json::Value = serde_json::from_str(&receipt).unwrap();
    assert_eq!(r["tenant"], "alpha");
    assert_eq!(r["namespaces"][0], ns_a);
    assert_eq!(r["snapshots_forgotten"].as_array().unwrap().len(), 1);
    let destroyed = r["destroyed"].as_array().unwrap();
    assert_eq!(destroyed.len(), 1);
    let on = destroyed[0]["confirmed_absent_on"].as_array().unwrap();
    assert_eq!(on.len(), if stores.len() == 6 { 7 } else { 1 }, "{on:?}");
    assert!(r["pending_gc"][0]["objects"].as_u64().unwrap() > 0);
    let file = root.join("receipt.json");
    std::fs::write(&file, &receipt).unwrap();
    let valid = ok(repo, &["shred", "--verify-receipt", file.to_str().unwrap()]);
    assert!(valid.contains("receipt valid"), "{valid}");
    std::fs::write(&file, receipt.replace("alpha", "alpho")).unwrap();
    let bad = fails(repo, &["shred", "--verify-receipt", file.to_str().unwrap()]);
    assert!(bad.contains("receipt"), "{bad}");

    // Alpha is gone; its key object is gone from every store.
    let gone = fails(repo, &["snapshots", "--tenant", "alpha"]);
    assert!(gone.contains("no tenant"), "{gone}");
    for s in stores {
        assert!(
            files(&s.join("tenant-keys").join(id_a)).is_empty(),
            "{}",
            s.display()
        );
        assert!(!files(&s.join("tenants").join(ns_a)).is_empty());
    }
    // Forget works inside beta's namespace; prune reclaims all of alpha's.
    ok(repo, &["backup", "--tenant", "beta", src_s]);
    ok(repo, &["forget", "--tenant", "beta", "--keep-last", "1"]);
    assert_eq!(list("beta").len(), 1);
    ok(repo, &["prune"]);
    for s in stores {
        assert!(
            files(&s.join("tenants").join(ns_a)).is_empty(),
            "{}",
            s.display()
        );
    }
    let target = root.join("restored");
    let t = target.to_str().unwrap();
    ok(
        repo,
        &[
            "restore", "latest", "--tenant", "beta", "--target", t, "--verify",
        ],
    );
    assert_eq!(
        std::fs::read(under(&target, &src).join("customer.bin")).unwrap(),
        data
    );
}

#[test]
fn tenants_and_shred_in_a_directory() {
    let (_tmp, root) = temp_root();
    let repo = root.join("repo");
    scenario(&root, &repo, std::slice::from_ref(&repo));
}

#[test]
fn tenants_and_shred_in_a_4_plus_2_layout() {
    let (_tmp, root) = temp_root();
    let layout = root.join("layout.toml");
    let mut text = String::from("[erasure]\ndata = 4\nparity = 2\n");
    for i in 0..6 {
        text.push_str(&format!("[[backends]]\nlocation = \"disk{i}\"\n"));
    }
    std::fs::write(&layout, text).unwrap();
    let disks: Vec<PathBuf> = (0..6).map(|i| root.join(format!("disk{i}"))).collect();
    scenario(&root, &layout, &disks);
}

/// `tenant rekey NAME` (issue 20, item 3): the new generation is reported
/// and listed, the tenant's one key object replaced, data written before
/// and after restores (verified), check passes. Fails before the command
/// existed (clap rejects `rekey`).
#[test]
fn tenant_rekey_end_to_end() {
    let (_tmp, root) = temp_root();
    let repo = root.join("repo");
    ok(&repo, &["init"]);
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let src_s = src.to_str().unwrap();
    let old = noise(11, 200_000);
    std::fs::write(src.join("customer.bin"), &old).unwrap();
    ok(&repo, &["tenant", "create", "alpha"]);
    ok(&repo, &["backup", "--tenant", "alpha", src_s]);
    let first = common::json_array(&ok(&repo, &["--json", "snapshots", "--tenant", "alpha"]));
    let first_id = first[0]["id"].as_str().unwrap().to_owned();

    let text = ok(&repo, &["tenant", "rekey", "alpha"]);
    assert!(text.contains("rekeyed tenant \"alpha\""), "{text}");
    assert!(text.contains("new key generation 1"), "{text}");
    assert!(text.contains("1 old key object(s) replaced"), "{text}");
    let json = ok(&repo, &["--json", "tenant", "rekey", "alpha"]);
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(r["generation"], 2);
    let keys = files(&repo.join("tenant-keys"));
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(r["object"]
        .as_str()
        .unwrap()
        .ends_with(&*keys[0].file_name().unwrap().to_string_lossy()));
    let list = common::json_array(&ok(&repo, &["--json", "tenant", "list"]));
    assert_eq!(list[0]["generation"], 2);
    assert!(ok(&repo, &["tenant", "list"]).contains("generation 2"));

    let new = noise(12, 200_000);
    std::fs::write(src.join("customer.bin"), &new).unwrap();
    ok(&repo, &["backup", "--tenant", "alpha", src_s]);
    for (snap, want) in [(first_id.as_str(), &old), ("latest", &new)] {
        let target = root.join(format!("restored-{snap}"));
        let t = target.to_str().unwrap();
        ok(
            &repo,
            &[
                "restore", snap, "--tenant", "alpha", "--target", t, "--verify",
            ],
        );
        let got = std::fs::read(under(&target, &src).join("customer.bin")).unwrap();
        assert_eq!(&got, want, "{snap}");
    }
    ok(&repo, &["check", "--tenant", "alpha", "--read-data"]);
    let missing = fails(&repo, &["tenant", "rekey", "gamma"]);
    assert!(missing.contains("gamma"), "{missing}");
}
