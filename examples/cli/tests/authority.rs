//! A removed admin loses the admin authority (issue 20, item 2), through
//! the CLI: what it signs after its removal — tombstones, revocations,
//! epochs, a link of its own — is refused by every client.
//!
//! The removed admin is played by this test: it kept its key file and
//! password, so it holds the seed of the authority it was removed from
//! (its key file carries it), and signs records laid out as the format docs
//! say (`repo/signed.rs`, `repo/authority.rs`, `repo/epochs.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use cairn::crypto::{
    primitives, seal_grant, AdminKey, AnyKeyFile, ExchangePublic, MasterKey, SealingKey,
};
use serde_json::{json, Value};

mod common;

use common::{noise, success_stdout, temp_root};

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    id: String,
}

impl Env {
    /// A repository whose first key's password is `admin`.
    fn new() -> Env {
        let (tmp, root) = temp_root();
        let mut env = Env {
            _tmp: tmp,
            root,
            id: String::new(),
        };
        env.id = env.json("admin", &["init"])["id"]
            .as_str()
            .unwrap()
            .to_owned();
        env
    }

    fn repo(&self) -> PathBuf {
        self.root.join("repo")
    }

    fn run(&self, pw: &str, new: Option<&str>, args: &[&str]) -> Output {
        let mut c = common::cairn(self.repo(), pw, args);
        c.env_remove("CAIRN_APPEND_ONLY")
            .env_remove("CAIRN_NEW_PASSWORD");
        if let Some(n) = new {
            c.env("CAIRN_NEW_PASSWORD", n);
        }
        c.output().unwrap()
    }

    fn ok(&self, pw: &str, args: &[&str]) -> String {
        success_stdout(args, self.run(pw, None, args))
    }

    fn json(&self, pw: &str, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = success_stdout(&all, self.run(pw, None, &all));
        serde_json::from_str(out.lines().next().unwrap()).unwrap()
    }

    fn keys(&self, pw: &str) -> Vec<Value> {
        self.json(pw, &["key", "list"]).as_array().unwrap().clone()
    }

    /// The id of the key file `pw` opens.
    fn own_key(&self, pw: &str) -> String {
        let keys = self.keys(pw);
        let k = keys.iter().find(|k| k["current"] == true).unwrap();
        k["id"].as_str().unwrap().to_owned()
    }

    /// Adds a key with `role` for `pw` (by `by`); returns its id.
    fn add(&self, by: &str, role: &str, pw: &str) -> String {
        let before = self.keys(by);
        let args = ["key", "add", "--role", role];
        success_stdout(&args, self.run(by, Some(pw), &args));
        let after = self.keys(by);
        let new: Vec<&Value> = after.iter().filter(|k| !before.contains(k)).collect();
        assert_eq!(new.len(), 1);
        new[0]["id"].as_str().unwrap().to_owned()
    }

    fn key_file(&self, id: &str) -> Vec<u8> {
        std::fs::read(self.repo().join("keys").join(id)).unwrap()
    }

    /// Backs up a fresh file; returns the snapshot id.
    fn backup(&self, pw: &str, seed: u64) -> String {
        let src = self.root.join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("data"), noise(seed, 50_000)).unwrap();
        let before = self.snapshots(pw);
        self.ok(pw, &["backup", "-q", src.to_str().unwrap()]);
        let mut after = self.snapshots(pw);
        after.retain(|s| !before.contains(s));
        assert_eq!(after.len(), 1);
        after.remove(0)
    }

    fn snapshots(&self, pw: &str) -> Vec<String> {
        let v = self.json(pw, &["snapshots"]);
        let all = v.as_array().unwrap().iter();
        all.map(|s| s["id"].as_str().unwrap().to_owned()).collect()
    }

    fn plant(&self, object: &str, bytes: &[u8]) {
        let path = self.repo().join(object);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

/// What a removed admin holds: the authority seed its key file carries.
fn seed_of(key_file: &[u8], pw: &str) -> AdminKey {
    let AnyKeyFile::V2(f) = AnyKeyFile::from_bytes(key_file).unwrap() else {
        panic!("not a version 2 key file");
    };
    f.open(pw.as_bytes()).unwrap().admin.unwrap()
}

fn exchange_of(key_file: &[u8]) -> ExchangePublic {
    let AnyKeyFile::V2(f) = AnyKeyFile::from_bytes(key_file).unwrap() else {
        panic!("not a version 2 key file");
    };
    f.exchange_public().unwrap()
}

/// A signed record (`repo/signed.rs`, version 1).
fn signed(admin: &AdminKey, magic: &[u8; 4], repo_id: &str, doc: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(doc).unwrap();
    let mut context = b"cairn/v1/signed/".to_vec();
    context.extend_from_slice(magic);
    let mut message = repo_id.as_bytes().to_vec();
    message.push(0);
    message.extend_from_slice(&body);
    let mut out = magic.to_vec();
    out.push(1);
    out.extend_from_slice(&admin.sign(&context, &message));
    out.extend_from_slice(&body);
    out
}

fn tombstone(admin: &AdminKey, repo_id: &str, snapshot: &str) -> Vec<u8> {
    let doc = json!({"snapshot": snapshot, "time": "2026-12-07T00:00:00Z",
        "key": "ee".repeat(32), "host": "evil"});
    signed(admin, b"CRNT", repo_id, &doc)
}

/// An epoch record (`repo/epochs.rs`) whose root the signer chose, granted
/// to `to` (key id, key file bytes).
fn epoch(admin: &AdminKey, repo_id: &str, n: u32, to: &[(String, Vec<u8>)]) -> Vec<u8> {
    let root = MasterKey::from_bytes([0x5a; 32]);
    let mut chain_key = [0u8; 32];
    primitives::hkdf_sha256(
        b"",
        root.expose_bytes(),
        b"cairn/v1/epoch-chain",
        &mut chain_key,
    )
    .unwrap();
    let mut aad = b"CREP".to_vec();
    aad.extend_from_slice(repo_id.as_bytes());
    aad.extend_from_slice(&n.to_le_bytes());
    let previous = SealingKey::from_bytes(chain_key).seal(&[], &aad).unwrap();
    let mut grants = serde_json::Map::new();
    for (id, file) in to {
        let mut context = repo_id.as_bytes().to_vec();
        context.push(0);
        context.extend_from_slice(&n.to_le_bytes());
        context.extend_from_slice(id.as_bytes());
        let g = seal_grant(&root, &exchange_of(file), &context).unwrap();
        grants.insert(id.clone(), to_hex(&g).into());
    }
    let doc = json!({"epoch": n, "created": "2026-12-07T00:00:00Z", "by": "ee".repeat(32),
        "host": "evil", "previous": to_hex(&previous), "grants": grants, "dropped": []});
    signed(admin, b"CREP", repo_id, &doc)
}

/// An authority link (`repo/authority.rs`, version 1) from `from` to `to`.
fn link(from: &AdminKey, to: &AdminKey, repo_id: &str, n: u32) -> Vec<u8> {
    let header = json!({"repository": repo_id, "link": n, "previous": from.public().to_hex(),
        "authority": to.public().to_hex(), "created": "2026-12-07T00:00:00Z",
        "by": "ee".repeat(32), "host": "evil", "removed": [], "grants": {}});
    let header = serde_json::to_vec(&header).unwrap();
    let mut body = (header.len() as u32).to_le_bytes().to_vec();
    body.extend_from_slice(&header);
    let mut out = b"CRNA\x01".to_vec();
    out.extend_from_slice(&from.sign(b"cairn/v1/authority-link/previous", &body));
    out.extend_from_slice(&to.sign(b"cairn/v1/authority-link/new", &body));
    out.extend_from_slice(&body);
    out
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn restore_matches(env: &Env, pw: &str, snapshot: &str, seed: u64) {
    let target = env.root.join(format!("restore-{snapshot}"));
    env.ok(
        pw,
        &["restore", snapshot, "--target", target.to_str().unwrap()],
    );
    let restored = find_file(&target, "data").expect("the file was restored");
    assert_eq!(std::fs::read(restored).unwrap(), noise(seed, 50_000));
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()? {
        let p = e.ok()?.path();
        if p.file_name().is_some_and(|n| n == name) && p.is_file() {
            return Some(p);
        }
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        }
    }
    None
}

#[test]
fn a_removed_admins_fresh_tombstone_is_ignored_by_snapshots_forget_and_prune() {
    let env = Env::new();
    let evil = env.add("admin", "admin", "evil");
    let kept = env.key_file(&evil);
    let (s1, s2) = (env.backup("admin", 1), env.backup("admin", 2));
    let removed = env.json("admin", &["key", "remove", &evil]);

    // The removed admin forgets s1 with the authority it was removed from,
    // and s2 with a key of its own, linked from that authority.
    let old = seed_of(&kept, "evil");
    env.plant(&format!("tombstones/{s1}"), &tombstone(&old, &env.id, &s1));
    let own = AdminKey::from_seed(&[0xee; 32]);
    env.plant("authorities/0000000002", &link(&old, &own, &env.id, 2));
    env.plant(&format!("tombstones/{s2}"), &tombstone(&own, &env.id, &s2));

    let mut listed = env.snapshots("admin");
    listed.sort();
    let mut both = vec![s1.clone(), s2.clone()];
    both.sort();
    assert_eq!(listed, both, "a planted tombstone hid a snapshot");
    let plan = env.json("admin", &["forget", "--keep-last", "2", "--dry-run"]);
    let decisions = plan["plan"]["groups"][0]["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 2, "{plan}");
    env.ok("admin", &["prune"]);
    env.ok("admin", &["check", "--read-data"]);
    restore_matches(&env, "admin", &s1, 1);
    restore_matches(&env, "admin", &s2, 2);
    // The link the removal wrote, and the admin's own forget still works.
    assert_eq!(removed["authority"]["link"], 1, "{removed}");
    env.ok("admin", &["forget", &s1]);
    assert_eq!(env.snapshots("admin"), vec![s2]);
}

#[test]
fn a_removed_admins_fresh_revocation_and_epoch_are_refused() {
    let env = Env::new();
    let evil = env.add("admin", "admin", "evil");
    let bk = env.add("admin", "backup", "bk");
    let admin = env.own_key("admin");
    let kept = env.key_file(&evil);
    let s1 = env.backup("admin", 1);
    let removed = env.json("admin", &["key", "remove", &evil]);
    assert_eq!(removed["rotation"]["epoch"], 1, "{removed}");

    // Revoke the remaining admin, and start an epoch whose root the
    // removed admin knows, granted to everyone left.
    let old = seed_of(&kept, "evil");
    let doc = json!({"key": admin, "time": "2026-12-07T00:00:00Z",
        "by": evil, "host": "evil"});
    env.plant(
        &format!("revoked/{admin}"),
        &signed(&old, b"CRNV", &env.id, &doc),
    );
    let to = [
        (admin.clone(), env.key_file(&admin)),
        (bk.clone(), env.key_file(&bk)),
    ];
    env.plant("epochs/0000000002", &epoch(&old, &env.id, 2, &to));

    assert_eq!(
        env.snapshots("admin"),
        vec![s1.clone()],
        "the admin was locked out"
    );
    let stats = env.json("admin", &["stats"]);
    assert_eq!(
        stats["key_epoch"], 1,
        "the planted epoch was taken: {stats}"
    );
    let out = env.run("bk", None, &["snapshots"]);
    let warned = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(warned.contains("epochs/0000000002 ignored"), "{warned}");
    let keys = env.keys("admin");
    let me = keys.iter().find(|k| k["id"] == admin.as_str()).unwrap();
    assert_eq!(me["revoked"], false, "{keys:?}");
    // The next rotation walks past the planted number.
    assert_eq!(env.json("admin", &["key", "rotate"])["epoch"], 3);
    // What the backup key writes now, the admin reads back.
    let s2 = env.backup("bk", 2);
    restore_matches(&env, "admin", &s1, 1);
    restore_matches(&env, "admin", &s2, 2);
}

#[test]
fn two_admin_removals_in_a_row_keep_what_each_authority_signed_before() {
    let env = Env::new();
    let b = env.add("admin", "admin", "b");
    env.add("admin", "admin", "c");
    let first = env.own_key("admin");
    let kept_b = env.key_file(&b);
    let kept_first = env.key_file(&first);
    let snaps: Vec<String> = (1..=4).map(|i| env.backup("admin", i)).collect();
    // Forgotten under the first authority.
    env.ok("admin", &["forget", &snaps[0]]);

    env.json("admin", &["key", "remove", &b]);
    // A key added after the first link names the second authority.
    env.add("admin", "backup", "late");
    // Forgotten under the second authority, by an admin that received it
    // by grant.
    env.ok("c", &["forget", &snaps[1]]);
    // c removes the admin that created the repository.
    let removed = env.json("c", &["key", "remove", &first]);
    assert_eq!(removed["authority"]["link"], 2, "{removed}");

    // Both removed admins sign a tombstone of snaps[2] with what they hold.
    let by_b = seed_of(&kept_b, "b");
    let by_first = seed_of(&kept_first, "admin");
    env.plant(
        &format!("tombstones/{}", snaps[2]),
        &tombstone(&by_b, &env.id, &snaps[2]),
    );
    env.plant(
        &format!("tombstones/{}", snaps[3]),
        &tombstone(&by_first, &env.id, &snaps[3]),
    );

    let live = vec![snaps[2].clone(), snaps[3].clone()];
    let mut seen = env.snapshots("c");
    seen.sort();
    let mut want = live.clone();
    want.sort();
    assert_eq!(seen, want, "seen by c");
    let mut seen = env.snapshots("late");
    seen.sort();
    assert_eq!(seen, want, "seen by a key added between the removals");
    for pw in ["admin", "b"] {
        assert_eq!(
            env.run(pw, None, &["snapshots"]).status.code(),
            Some(1),
            "{pw} opened"
        );
    }
    let keys = env.keys("c");
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().all(|k| k["endorsed"] == true), "{keys:?}");
    // The current authority still signs: c forgets, and the prune after it
    // keeps what is live.
    env.ok("c", &["forget", &snaps[2]]);
    assert_eq!(env.snapshots("late"), vec![snaps[3].clone()]);
    env.ok("c", &["prune"]);
    restore_matches(&env, "late", &snaps[3], 4);
}
