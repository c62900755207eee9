//! `cairn rewrite SNAPSHOT… --exclude PAT [--forget]` (issue 22 item 5):
//! rewritten snapshots lack the excluded file, everything else restores
//! identical, and after `--forget` and a prune the excluded file's chunks
//! are in no index: its content is gone from the repository.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use cairn::cas::NodeKind;
use cairn::crypto::ChunkId;
use serde_json::Value;

mod common;

use common::{files_below, noise, success_stdout, temp_root, under};

const PW: &str = "pw";

fn ok(repo: &Path, args: &[&str]) -> String {
    let mut c = common::cairn(repo, PW, args);
    c.env_remove("CAIRN_APPEND_ONLY");
    success_stdout(args, c.output().unwrap())
}

fn snapshot_ids(repo: &Path) -> Vec<String> {
    let out = ok(repo, &["--json", "snapshots"]);
    let v: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let all = v.as_array().unwrap().iter();
    all.map(|s| s["id"].as_str().unwrap().to_owned()).collect()
}

/// The chunks of the file at `path` (absolute, as backed up) in snapshot `id`.
async fn file_chunks(repo: &cairn::Repository, id: &str, path: &Path) -> Vec<ChunkId> {
    let (_, snap) = repo.snapshot(&id.parse().unwrap()).await.unwrap();
    let mut tree = repo.inner().load_tree(&snap.tree.chunk_id()).await.unwrap();
    let names: Vec<_> = path.iter().skip(1).collect();
    for (i, name) in names.iter().enumerate() {
        let node = tree
            .nodes
            .iter()
            .find(|n| n.name == name.as_encoded_bytes())
            .unwrap_or_else(|| panic!("{name:?} not in the snapshot"))
            .clone();
        match node.kind {
            NodeKind::Dir { subtree } => tree = repo.inner().load_tree(&subtree).await.unwrap(),
            NodeKind::File { chunks } if i + 1 == names.len() => return chunks,
            _ => panic!("unexpected node at {name:?}"),
        }
    }
    panic!("{} is a directory", path.display())
}

#[test]
fn rewrite_exclude_then_forget_and_prune_drops_the_files_chunks() {
    let (_tmp, root) = temp_root();
    let repo = root.join("repo");
    let src = root.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    ok(&repo, &["init"]);
    std::fs::write(src.join("keep"), noise(1, 600_000)).unwrap();
    std::fs::write(src.join("d/secret.txt"), noise(2, 700_000)).unwrap();
    std::fs::write(src.join("d/other"), noise(3, 5_000)).unwrap();
    ok(&repo, &["backup", "-q", src.to_str().unwrap()]);
    std::fs::write(src.join("d/other"), noise(4, 5_000)).unwrap();
    ok(&repo, &["backup", "-q", src.to_str().unwrap()]);
    let originals = snapshot_ids(&repo);
    assert_eq!(originals.len(), 2);

    let location: cairn::Location = repo.to_str().unwrap().parse().unwrap();
    let secret = src.join("d/secret.txt");
    let chunks = futures::executor::block_on(async {
        let r = cairn::Repository::open(&location, PW.as_bytes())
            .await
            .unwrap();
        file_chunks(&r, &originals[0], &secret).await
    });
    assert!(!chunks.is_empty());

    // A dry run names the path and writes nothing.
    let mut args = vec!["rewrite", "--dry-run", "--exclude", "**/secret.txt"];
    args.extend(originals.iter().map(String::as_str));
    let text = ok(&repo, &args);
    assert!(text.contains("excluded /"), "{text}");
    assert!(text.contains("secret.txt"), "{text}");
    assert_eq!(snapshot_ids(&repo).len(), 2);

    // Without --forget: copies next to the originals.
    args.retain(|a| *a != "--dry-run");
    let text = ok(&repo, &args);
    assert!(text.contains("2 snapshots rewritten"), "{text}");
    assert_eq!(snapshot_ids(&repo).len(), 4);
    // Again with --forget: the same copies (same bytes), the originals go.
    args.push("--forget");
    let text = ok(&repo, &args);
    assert!(text.contains("2 originals forgotten"), "{text}");
    let copies = snapshot_ids(&repo);
    assert_eq!(copies.len(), 2);
    assert!(copies.iter().all(|c| !originals.contains(c)));

    ok(&repo, &["prune", "--max-unused", "0%"]);
    ok(&repo, &["check", "--read-data"]);
    futures::executor::block_on(async {
        let r = cairn::Repository::open(&location, PW.as_bytes())
            .await
            .unwrap();
        let index = r.inner().index();
        for c in &chunks {
            assert!(
                index.get(c).is_none(),
                "a chunk of the excluded file is still indexed"
            );
        }
    });

    // Everything else restores identical.
    let target = root.join("t");
    ok(
        &repo,
        &["restore", "latest", "--target", target.to_str().unwrap()],
    );
    let restored = under(&target, &src);
    assert!(!restored.join("d/secret.txt").exists());
    let mut want: Vec<_> = files_below(&src);
    want.retain(|p| !p.ends_with("d/secret.txt"));
    let mut got = files_below(&restored);
    want.sort();
    got.sort();
    let rel = |base: &Path, v: &[std::path::PathBuf]| -> Vec<std::path::PathBuf> {
        v.iter()
            .map(|p| p.strip_prefix(base).unwrap_or(p).to_owned())
            .collect()
    };
    assert_eq!(rel(&restored, &got), rel(&src, &want));
    for p in rel(&src, &want) {
        let same =
            std::fs::read(src.join(&p)).unwrap() == std::fs::read(restored.join(&p)).unwrap();
        assert!(same, "{} differs", p.display());
    }
    let log = ok(&repo, &["audit", "log"]);
    assert!(
        log.contains("rewrite 2 snapshots excluding **/secret.txt"),
        "{log}"
    );
    assert!(log.contains("forget 2 snapshots"), "{log}");
    ok(&repo, &["audit", "verify"]);
}
