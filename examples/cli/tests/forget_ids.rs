//! `cairn forget ID…`: named snapshots go (journaled, as a policy's forget),
//! an unknown id removes nothing, and a prune afterwards leaves the rest
//! restorable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde_json::Value;

mod common;

use common::{noise, success_stdout, temp_root, under};

const PW: &str = "pw";

fn ok(repo: &Path, args: &[&str]) -> String {
    let out = common::cairn(repo, PW, args).output().unwrap();
    success_stdout(args, out)
}

fn snapshot_ids(repo: &Path) -> Vec<String> {
    let out = ok(repo, &["--json", "snapshots"]);
    let v: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn forget_by_id_removes_those_journals_them_and_prune_keeps_the_rest() {
    let (_tmp, root) = temp_root();
    let repo = root.join("repo");
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    ok(&repo, &["init"]);
    std::fs::write(src.join("a"), noise(1, 300_000)).unwrap();
    ok(&repo, &["backup", "-q", src.to_str().unwrap()]);
    std::fs::write(src.join("b"), noise(2, 300_000)).unwrap();
    ok(&repo, &["backup", "-q", src.to_str().unwrap()]);
    std::fs::write(src.join("c"), noise(3, 300_000)).unwrap();
    ok(&repo, &["backup", "-q", src.to_str().unwrap()]);
    let ids = snapshot_ids(&repo);
    assert_eq!(ids.len(), 3);

    // An unknown id fails and removes nothing, even next to a known one.
    let args = ["forget", &ids[0][..8], "00000000"];
    let out = common::cairn(&repo, PW, &args).output().unwrap();
    assert!(!out.status.success());
    assert_eq!(snapshot_ids(&repo), ids);

    // Policy flags and ids do not mix.
    let args = ["forget", &ids[0][..8], "--keep-last", "1"];
    assert!(!common::cairn(&repo, PW, &args)
        .output()
        .unwrap()
        .status
        .success());

    let dry = ok(&repo, &["forget", "--dry-run", &ids[0][..8]]);
    assert!(dry.contains("would remove 1"), "{dry}");
    assert_eq!(snapshot_ids(&repo).len(), 3);

    let text = ok(&repo, &["forget", &ids[0][..8], &ids[1], "--prune"]);
    assert!(text.contains("removed 2 snapshots"), "{text}");
    assert_eq!(snapshot_ids(&repo), [ids[2].clone()]);
    let log = ok(&repo, &["audit", "log"]);
    assert!(log.contains("forget 2 snapshots"), "{log}");
    ok(&repo, &["check", "--read-data"]);

    let target = root.join("target");
    ok(
        &repo,
        &["restore", "latest", "--target", target.to_str().unwrap()],
    );
    for f in ["a", "b", "c"] {
        let got = std::fs::read(under(&target, &src).join(f)).unwrap();
        assert!(got == std::fs::read(src.join(f)).unwrap(), "{f}");
    }
}
