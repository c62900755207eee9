//! A damaged repository through the real binary: a flipped byte in an index
//! object, a deleted pack, and planted key files must not stop `cairn`, and
//! `cairn repair` must heal what can be healed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::{assert_success, files_below, json_array, noise, temp_root, texts, under, PASSWORD};

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

    /// Without the metadata cache: these tests damage stored objects and
    /// expect every read to see it, while a cached copy (authentic, made
    /// before the damage) would hide it from all but `check` and `repair`.
    fn run(&self, args: &[&str]) -> Output {
        common::cairn(&self.repo, PASSWORD, args)
            .env("CAIRN_NO_CACHE", "1")
            .output()
            .unwrap()
    }

    /// Runs, insists on success; returns (stdout, stderr).
    fn ok(&self, args: &[&str]) -> (String, String) {
        let out = self.run(args);
        assert_success(args, &out);
        texts(&out)
    }

    /// Runs, insists on failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let (stdout, stderr) = texts(&out);
        assert!(
            !out.status.success(),
            "cairn {args:?} succeeded:\n{stdout}\n{stderr}"
        );
        stderr
    }

    /// Object names under `prefix` of the local repository (e.g. `index`).
    fn objects(&self, prefix: &str) -> HashSet<String> {
        files_below(&self.repo.join(prefix))
            .iter()
            .map(|p| {
                let rel = p.strip_prefix(&self.repo).unwrap();
                rel.to_str().unwrap().to_owned()
            })
            .collect()
    }

    fn snapshots(&self) -> Vec<serde_json::Value> {
        let (out, _) = self.ok(&["--json", "snapshots"]);
        json_array(&out)
    }
}

/// Writes `files` (relative path → contents) under `dir`.
fn write_tree(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    for (rel, data) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
}

fn flip_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

fn snapshot_id_for(env: &Env, path: &Path) -> String {
    env.snapshots()
        .iter()
        .find(|s| s["paths"][0] == path.to_str().unwrap())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn assert_restores(env: &Env, id: &str, src: &Path, files: &BTreeMap<String, Vec<u8>>) {
    let target = env.root.join(format!("restore-{}", &id[..8]));
    let (_, stderr) = env.ok(&[
        "restore",
        id,
        "--target",
        target.to_str().unwrap(),
        "--verify",
    ]);
    for (rel, data) in files {
        assert_eq!(
            &std::fs::read(under(&target, src).join(rel)).unwrap(),
            data,
            "{rel}"
        );
    }
    let _ = stderr;
}

#[test]
fn flipped_index_byte_warns_check_fails_and_repair_index_heals() {
    let env = Env::new();
    env.ok(&["init"]);
    let (src1, src2) = (env.root.join("one"), env.root.join("two"));
    let files1: BTreeMap<String, Vec<u8>> = [
        ("a.txt".to_owned(), b"first backup\n".to_vec()),
        ("d/big.bin".to_owned(), noise(1, 200_000)),
    ]
    .into();
    let files2: BTreeMap<String, Vec<u8>> = [
        ("b.txt".to_owned(), b"second backup\n".to_vec()),
        ("e/other.bin".to_owned(), noise(2, 150_000)),
    ]
    .into();
    write_tree(&src1, &files1);
    write_tree(&src2, &files2);
    env.ok(&["backup", src1.to_str().unwrap()]);
    let first_index = env.objects("index");
    env.ok(&["backup", src2.to_str().unwrap()]);
    assert_eq!(first_index.len(), 1, "{first_index:?}");
    let damaged = first_index.iter().next().unwrap().clone();
    flip_byte(&env.repo.join(&damaged));

    // `snapshots` still works and names the damaged object.
    let (out, err) = env.ok(&["snapshots"]);
    assert!(out.contains("2 snapshots"), "{out}");
    assert!(err.contains("warning") && err.contains(&damaged), "{err}");

    // The second snapshot's data is indexed elsewhere: it restores whole.
    let id2 = snapshot_id_for(&env, &src2);
    let id1 = snapshot_id_for(&env, &src1);
    assert_restores(&env, &id2, &src2, &files2);

    // The first one needs blobs only the damaged object listed: a clear error
    // naming a blob, not a crash.
    let target = env.root.join("fails");
    let err = env.fails(&["restore", &id1, "--target", target.to_str().unwrap()]);
    assert!(err.contains("is not in the index"), "{err}");

    // `check` runs, fails, and names the damaged object.
    let err = env.fails(&["check"]);
    assert!(err.contains(&damaged), "{err}");

    // `repair index` rebuilds from the pack headers and removes the damaged
    // object; afterwards everything checks clean and restores.
    let (out, _) = env.ok(&["--json", "repair", "index"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["removed"][0], damaged.as_str(), "{report}");
    assert!(!env.objects("index").contains(&damaged));
    let (out, err) = env.ok(&["check", "--read-data"]);
    assert!(out.contains("no errors were found"), "{out}");
    assert!(!err.contains("warning"), "{err}");
    assert_restores(&env, &id1, &src1, &files1);
}

#[test]
fn deleted_pack_repair_snapshots_keeps_everything_else() {
    let env = Env::new();
    env.ok(&["init", "--pack-size", "1"]);
    let src = env.root.join("src");
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for i in 0..10u64 {
        files.insert(format!("dir{}/file{i}.bin", i % 3), noise(10 + i, 350_000));
    }
    files.insert("small.txt".to_owned(), b"tiny and whole\n".to_vec());
    write_tree(&src, &files);
    env.ok(&["backup", src.to_str().unwrap()]);
    let original = env.snapshots()[0]["id"].as_str().unwrap().to_owned();

    // Delete the largest pack: a data pack (tree packs are small).
    let packs = env.objects("data");
    assert!(packs.len() >= 3, "{packs:?}");
    let victim = packs
        .iter()
        .max_by_key(|p| std::fs::metadata(env.repo.join(p)).unwrap().len())
        .unwrap();
    std::fs::remove_file(env.repo.join(victim)).unwrap();

    let (out, _) = env.ok(&["--json", "repair", "snapshots"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let repaired = &report["repaired"][0];
    assert_eq!(repaired["original"], original.as_str(), "{report}");
    let new_id = repaired["repaired"].as_str().unwrap().to_owned();
    let lost: BTreeMap<String, u64> = repaired["lost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let p = PathBuf::from(l["path"].as_str().unwrap());
            let rel = p.strip_prefix(&src).unwrap().to_str().unwrap().to_owned();
            (rel, l["kept_size"].as_u64().unwrap())
        })
        .collect();
    assert!(!lost.is_empty() && lost.len() < files.len(), "{report}");

    // The original is kept; the repaired one is tagged and points back to it.
    let snaps = env.snapshots();
    assert_eq!(snaps.len(), 2);
    let fixed = snaps.iter().find(|s| s["id"] == new_id.as_str()).unwrap();
    assert!(fixed["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "repaired"));
    assert_eq!(fixed["original"], original.as_str());

    // The repaired snapshot restores (and verifies): every file not named as
    // lost is identical, every lost one is an intact prefix of the original.
    let target = env.root.join("restored");
    env.ok(&[
        "restore",
        &new_id,
        "--target",
        target.to_str().unwrap(),
        "--verify",
    ]);
    for (rel, data) in &files {
        let got = std::fs::read(under(&target, &src).join(rel)).unwrap();
        match lost.get(rel) {
            None => assert_eq!(&got, data, "{rel} should be whole"),
            Some(&kept) => {
                assert_eq!(got.len() as u64, kept, "{rel}");
                assert!(got.len() < data.len() && data.starts_with(&got), "{rel}");
            }
        }
    }
    // Text output names the lost files too.
    let (out, _) = env.ok(&["repair", "snapshots", "--dry-run"]);
    let first_lost = lost.keys().next().unwrap();
    assert!(out.contains(first_lost.as_str()), "{out}");

    // The original still references the lost pack: `check` says so. Forget
    // it (its repaired copy is reused, not written again), drop the index
    // entries of the lost pack, and the repository checks clean.
    let err = env.fails(&["check"]);
    assert!(err.contains(victim.as_str()), "{err}");
    let (out, _) = env.ok(&["--json", "repair", "snapshots", "--forget"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report["repaired"][0]["repaired"],
        new_id.as_str(),
        "{report}"
    );
    assert_eq!(report["repaired"][0]["forgotten"], true, "{report}");
    let ids: Vec<_> = env.snapshots().iter().map(|s| s["id"].clone()).collect();
    assert_eq!(ids, vec![serde_json::Value::from(new_id.as_str())]);
    let (out, _) = env.ok(&["--json", "repair", "index"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report["stale_index"].as_array().unwrap().len(),
        1,
        "{report}"
    );
    let (out, _) = env.ok(&["check", "--read-data"]);
    assert!(out.contains("no errors were found"), "{out}");
}

/// A version 1 key file with the given Argon2 parameters and garbage where
/// the wrapped master key goes: what someone without the key can plant.
fn forged_key_file(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Vec<u8> {
    let mut b = b"CAIRNKEY".to_vec();
    b.push(1); // version
    b.push(1); // Argon2id
    b.extend_from_slice(&m_cost_kib.to_le_bytes());
    b.extend_from_slice(&t_cost.to_le_bytes());
    b.extend_from_slice(&p_cost.to_le_bytes());
    b.extend_from_slice(&[7u8; 32]); // salt
    b.push(1); // sealed-message version
    b.extend_from_slice(&[9u8; 80]);
    assert_eq!(b.len(), 135);
    b
}

#[test]
fn planted_empty_and_maximal_kdf_key_files_are_skipped_with_warnings() {
    let env = Env::new();
    env.ok(&["init"]);
    let src = env.root.join("src");
    let files: BTreeMap<String, Vec<u8>> = [("x.txt".to_owned(), b"x\n".to_vec())].into();
    write_tree(&src, &files);
    env.ok(&["backup", src.to_str().unwrap()]);
    // Open tries key files in name order and stops at the first that opens,
    // so planted files must sort before the real one (a random hash). An
    // empty file under a low name is refused by the name check. The costly
    // file (4 GiB × 64 passes, the most a key file may declare) is named by
    // the hash of its bytes, as key files must be, so the KDF ceiling is
    // reached; its salt is varied until that hash starts with five zeros.
    let empty = format!("keys/{}", "0".repeat(64));
    std::fs::write(env.repo.join(&empty), b"").unwrap();
    let mut costly_bytes = forged_key_file(4 * 1024 * 1024, 64, 1);
    let costly = (0u64..)
        .find_map(|n| {
            costly_bytes[22..30].copy_from_slice(&n.to_le_bytes());
            let hex = blake3::hash(&costly_bytes).to_hex();
            hex.starts_with("00000").then(|| format!("keys/{hex}"))
        })
        .unwrap();
    std::fs::write(env.repo.join(&costly), &costly_bytes).unwrap();
    // The same costly bytes under a name that is not their hash are refused
    // by the name alone, before any KDF work.
    let misnamed = format!("keys/{}1", "0".repeat(63));
    std::fs::write(env.repo.join(&misnamed), &costly_bytes).unwrap();

    let (out, err) = env.ok(&["snapshots"]);
    assert!(out.contains("1 snapshots"), "{out}");
    assert!(err.contains(&empty), "{err}");
    assert!(err.contains(&costly) && err.contains("ceiling"), "{err}");
    assert!(
        err.contains(&misnamed) && err.contains("not the hash of its bytes"),
        "{err}"
    );
    // A wrong password is still refused.
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("-r")
        .arg(&env.repo)
        .arg("snapshots")
        .env("CAIRN_PASSWORD", "not it")
        .output()
        .unwrap();
    assert!(!out.status.success());
}
