//! Key epochs: rotation writes new data under a new epoch, old snapshots
//! still read back, prune's repack retires the old epoch (0 bytes left
//! under it), a removed key's holder — even one who kept the master key and
//! their own key-exchange secret — cannot open the new epoch, and a forged
//! epoch object is ignored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn::cas::prune::{prune, prune_plan, PruneOptions};
use cairn::cas::{
    backup, journal, BackupOptions, Error, InitOptions, NewKey, NoProgress, NodeKind, OpenWarning,
    Repository, RotateOptions,
};
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_crypto::{AdminKey, AnyKeyFile, KdfParams, KeyFile, KeySet, MasterKey};
use futures::TryStreamExt;

fn kdf() -> KdfParams {
    KdfParams::insecure_for_tests()
}

async fn init(store: &Arc<MemoryBackend>) -> Repository {
    let opts = InitOptions::default().kdf(kdf());
    Repository::init(store.clone(), b"admin", opts)
        .await
        .unwrap()
}

/// A directory of a few files with distinct, incompressible-ish contents.
fn tree(dir: &Path, seed: u64) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for (i, name) in ["a.bin", "b.bin", "sub/c.bin"].iter().enumerate() {
        let data: Vec<u8> = (0..20_000 + i * 7_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(dir.join(name), data).unwrap();
    }
}

async fn backup_dir(repo: &Repository, dir: &Path) -> cairn::cas::SnapshotId {
    let paths = [dir.to_path_buf()];
    let r = backup(
        repo,
        &paths,
        &BackupOptions::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    r.snapshot_id.unwrap()
}

/// Every file of a snapshot, read back through the repository (every blob
/// authenticated and hashed to its id).
async fn read_snapshot(
    repo: &Repository,
    id: &cairn::cas::SnapshotId,
) -> BTreeMap<PathBuf, Vec<u8>> {
    let snap = repo.load_snapshot(id).await.unwrap();
    let mut out = BTreeMap::new();
    let mut stack = vec![(PathBuf::new(), *snap.tree)];
    while let Some((at, t)) = stack.pop() {
        for node in repo.load_tree(&t).await.unwrap().nodes {
            let path = at.join(String::from_utf8_lossy(&node.name).as_ref());
            match node.kind {
                NodeKind::Dir { subtree } => stack.push((path, subtree)),
                NodeKind::File { chunks } => {
                    let mut data = Vec::new();
                    for c in chunks {
                        data.extend(repo.read_blob(&c).await.unwrap());
                    }
                    out.insert(path, data);
                }
                NodeKind::Symlink { .. } => {}
            }
        }
    }
    out
}

fn files_of(dir: &Path) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = ["a.bin", "b.bin", "sub/c.bin"]
        .iter()
        .map(|n| std::fs::read(dir.join(n)).unwrap())
        .collect();
    v.sort();
    v
}

fn contents(m: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = m.values().cloned().collect();
    v.sort();
    v
}

/// The master key and key-exchange secret a key file's holder could keep.
async fn holder_secrets(
    store: &Arc<MemoryBackend>,
    name: &str,
    pw: &[u8],
) -> (MasterKey, cairn_crypto::ExchangeSecret, Vec<u8>) {
    let bytes = store.get(name).await.unwrap().to_vec();
    let opened = AnyKeyFile::from_bytes(&bytes).unwrap().open(pw).unwrap();
    (opened.master, opened.exchange.unwrap(), bytes)
}

/// Whether `keys` can open any pack header or index object in the store.
async fn can_open_any(store: &Arc<MemoryBackend>, keys: &KeySet) -> (usize, usize) {
    let (mut packs, mut index) = (0, 0);
    let listed: Vec<_> = store.list("").try_collect().await.unwrap();
    for m in listed {
        let bytes = store.get(&m.key).await.unwrap();
        if m.key.starts_with("data/")
            && cairn::cas::format::read_pack_header(keys, &m.key, &bytes).is_ok()
        {
            packs += 1;
        }
        if m.key.starts_with("index/")
            && cairn::cas::format::decode_index(keys, &m.key, &bytes).is_ok()
        {
            index += 1;
        }
    }
    (packs, index)
}

#[test]
fn rotate_then_prune_retires_the_old_epoch() {
    futures::executor::block_on(async {
        let src = tempfile::tempdir().unwrap();
        let (one, two) = (src.path().join("one"), src.path().join("two"));
        tree(&one, 1);
        tree(&two, 2);
        let store = Arc::new(MemoryBackend::new());
        let repo = init(&store).await;
        let backup_key = repo
            .add_key_with(b"backup", &NewKey::backup().kdf(kdf()))
            .await
            .unwrap();
        let first = backup_dir(&repo, &one).await;
        let (master, _, _) = holder_secrets(&store, repo.key_name(), b"admin").await;

        let before = repo.epoch_usage().await.unwrap();
        assert_eq!(before.current, 0);
        assert!(before.data_bytes(0) > 0);

        let report = repo.rotate_keys(&RotateOptions::default()).await.unwrap();
        assert_eq!(
            (report.epoch, report.object.as_str()),
            (1, "epochs/0000000001")
        );
        assert_eq!(report.granted.len(), 2);
        assert!(report.dropped.is_empty() && report.not_trusted.is_empty());
        assert_eq!(repo.keys().epoch(), 1);

        // New data goes under epoch 1.
        let second = backup_dir(&repo, &two).await;
        let mid = repo.epoch_usage().await.unwrap();
        assert_eq!(mid.current, 1);
        let e1 = mid.epochs.iter().find(|u| u.epoch == 1).unwrap();
        assert!(
            e1.packs > 0 && e1.index_objects > 0 && e1.snapshots == 1,
            "{mid:?}"
        );
        assert!(mid.data_bytes(0) > 0);

        // Both keys open the new epoch; old and new snapshots read back.
        for pw in [&b"admin"[..], b"backup"] {
            let r = Repository::open(store.clone(), pw).await.unwrap();
            assert_eq!(r.keys().epoch(), 1);
            assert_eq!(contents(&read_snapshot(&r, &first).await), files_of(&one));
            assert_eq!(contents(&read_snapshot(&r, &second).await), files_of(&two));
        }
        assert!(backup_key.starts_with("keys/"));

        // The master key alone (epoch 0) cannot open epoch 1's packs.
        let old = KeySet::derive(&master);
        let (p_old, i_old) = can_open_any(&store, &old).await;
        let (p_all, i_all) = can_open_any(&store, &repo.keys()).await;
        assert!(p_old < p_all && i_old < i_all);

        // Prune re-encrypts every epoch-0 pack and re-seals the index.
        let plan = prune_plan(&repo, &PruneOptions::default()).await.unwrap();
        assert!(!plan.packs_to_reencrypt.is_empty());
        prune(&repo, &PruneOptions::default(), plan).await.unwrap();
        let after = repo.epoch_usage().await.unwrap();
        assert_eq!(after.data_bytes(0), 0, "{after:?}");
        assert!(after.unreadable.is_empty());
        // Now the master key opens no pack and no index object at all.
        assert_eq!(can_open_any(&store, &old).await, (0, 0));

        let r = Repository::open(store.clone(), b"backup").await.unwrap();
        assert_eq!(contents(&read_snapshot(&r, &first).await), files_of(&one));
        assert_eq!(contents(&read_snapshot(&r, &second).await), files_of(&two));
        // A second prune has nothing left to re-encrypt.
        let plan = prune_plan(&repo, &PruneOptions::default()).await.unwrap();
        assert!(plan.packs_to_reencrypt.is_empty());
    });
}

#[test]
fn removing_a_key_starts_an_epoch_its_holder_cannot_open() {
    futures::executor::block_on(async {
        let src = tempfile::tempdir().unwrap();
        tree(src.path(), 3);
        let store = Arc::new(MemoryBackend::new());
        let repo = init(&store).await;
        let gone = repo
            .add_key_with(b"laptop", &NewKey::admin().kdf(kdf()))
            .await
            .unwrap();
        // The laptop's holder keeps everything their key file holds.
        let (master, exchange, file) = holder_secrets(&store, &gone, b"laptop").await;

        repo.remove_key(&gone).await.unwrap();
        assert_eq!(repo.keys().epoch(), 1);
        let snap = backup_dir(&repo, src.path()).await;
        assert_eq!(
            contents(&read_snapshot(&repo, &snap).await),
            files_of(src.path())
        );
        // The removal and the rotation are both journaled.
        let loaded = journal::load_journal(&repo).await.unwrap();
        assert!(loaded.unreadable.is_empty(), "{:?}", loaded.unreadable);
        let kinds: Vec<&str> = loaded.entries.values().map(|e| e.op.kind()).collect();
        assert!(
            kinds.contains(&"key_remove") && kinds.contains(&"key_rotate"),
            "{kinds:?}"
        );

        // Their master key opens no pack of the new epoch ...
        assert_eq!(can_open_any(&store, &KeySet::derive(&master)).await, (0, 0));
        // ... their exchange secret opens no grant of the epoch object ...
        let epoch = store.get("epochs/0000000001").await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&epoch[69..]).unwrap();
        let grants = json["grants"].as_object().unwrap();
        assert!(!grants.contains_key(gone.trim_start_matches("keys/")));
        for (id, g) in grants {
            let g = hex::decode(g.as_str().unwrap()).unwrap();
            let mut ctx = repo.config().id.as_bytes().to_vec();
            ctx.push(0);
            ctx.extend_from_slice(&1u32.to_le_bytes());
            ctx.extend_from_slice(id.as_bytes());
            assert!(exchange.open_grant(&g, &ctx).is_err());
        }
        // ... and their key file, stored again, is revoked.
        store
            .put(&gone, file.into(), PutMode::CreateOnly)
            .await
            .unwrap();
        assert!(Repository::open(store.clone(), b"laptop").await.is_err());
    });
}

#[test]
fn a_forged_epoch_object_is_ignored() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let repo = init(&store).await;
        let AnyKeyFile::V2(file) =
            AnyKeyFile::from_bytes(&store.get(repo.key_name()).await.unwrap()).unwrap()
        else {
            panic!("not a version 3 key file");
        };
        // A backup host (or a storage attacker) seals a root it chose to the
        // admin's public key and signs with an authority of its own.
        let chosen = MasterKey::from_bytes([7; 32]);
        let id = repo.key_name().trim_start_matches("keys/");
        let mut ctx = repo.config().id.as_bytes().to_vec();
        ctx.push(0);
        ctx.extend_from_slice(&1u32.to_le_bytes());
        ctx.extend_from_slice(id.as_bytes());
        let grant =
            cairn_crypto::seal_grant(&chosen, &file.exchange_public().unwrap(), &ctx).unwrap();
        let json = serde_json::json!({
            "epoch": 1, "created": "2026-01-01T00:00:00Z", "by": id, "host": "evil",
            "previous": "", "grants": { id: hex::encode(grant) }, "dropped": [],
        })
        .to_string();
        let forger = AdminKey::from_seed(&[9; 32]);
        let mut msg = repo.config().id.as_bytes().to_vec();
        msg.push(0);
        msg.extend_from_slice(json.as_bytes());
        let mut bytes = b"CREP\x01".to_vec();
        bytes.extend_from_slice(&forger.sign(b"cairn/v1/signed/CREP", &msg));
        bytes.extend_from_slice(json.as_bytes());
        store
            .put("epochs/0000000001", bytes.into(), PutMode::CreateOnly)
            .await
            .unwrap();
        store
            .put(
                "epochs/0000000002",
                b"garbage".to_vec().into(),
                PutMode::CreateOnly,
            )
            .await
            .unwrap();

        let r = Repository::open(store.clone(), b"admin").await.unwrap();
        assert_eq!(r.keys().epoch(), 0, "the forged epoch must not be used");
        let ignored: Vec<String> = r
            .open_warnings()
            .into_iter()
            .filter(|w| matches!(w, OpenWarning::Epoch { .. }))
            .map(|w| w.object().to_owned())
            .collect();
        assert_eq!(ignored, ["epochs/0000000001", "epochs/0000000002"]);
        // A real rotation still works: it takes the next free number
        // rather than collide with (or overwrite) the forged objects.
        let rotated = r.rotate_keys(&RotateOptions::default()).await.unwrap();
        assert_eq!(rotated.epoch, 3);
        let again = Repository::open(store.clone(), b"admin").await.unwrap();
        assert_eq!(again.keys().epoch(), 3);
    });
}

#[test]
fn old_key_files_block_rotation_unless_dropped_and_new_keys_get_grants() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let repo = init(&store).await;
        let (master, _, _) = holder_secrets(&store, repo.key_name(), b"admin").await;
        // A version 1 key file (from before key files carried roles).
        let v1 = KeyFile::create(&master, b"old", kdf()).unwrap().to_bytes();
        let v1_name = format!("keys/{}", blake3::hash(&v1).to_hex());
        store
            .put(&v1_name, v1.into(), PutMode::CreateOnly)
            .await
            .unwrap();
        let v1_id = v1_name.trim_start_matches("keys/").to_owned();
        match repo.rotate_keys(&RotateOptions::default()).await {
            Err(Error::RotationBlocked { keys }) => assert_eq!(keys, std::slice::from_ref(&v1_id)),
            other => panic!("expected RotationBlocked, got {other:?}"),
        }
        assert!(Repository::open(store.clone(), b"old").await.is_ok());
        let r = repo
            .rotate_keys(&RotateOptions::default().drop_old_keys(true))
            .await
            .unwrap();
        assert_eq!(r.dropped, [v1_id]);
        assert!(Repository::open(store.clone(), b"old").await.is_err());

        // A key added after the rotation receives a grant; so does a
        // password change.
        repo.add_key_with(b"later", &NewKey::backup().kdf(kdf()))
            .await
            .unwrap();
        let later = Repository::open(store.clone(), b"later").await.unwrap();
        assert_eq!(later.keys().epoch(), 1);
        let mut admin = Repository::open(store.clone(), b"admin").await.unwrap();
        admin.change_password(b"admin2", kdf()).await.unwrap();
        let reopened = Repository::open(store.clone(), b"admin2").await.unwrap();
        assert_eq!(reopened.keys().epoch(), 1);
        // Rotating again chains epoch 1's root into epoch 2.
        reopened
            .rotate_keys(&RotateOptions::default())
            .await
            .unwrap();
        let again = Repository::open(store.clone(), b"later").await.unwrap();
        assert_eq!(
            (again.keys().epoch(), again.keys().epochs()),
            (2, vec![0, 1, 2])
        );
    });
}

#[test]
fn handles_opened_before_a_rotation_back_up_and_prune_under_the_new_epoch() {
    futures::executor::block_on(async {
        let src = tempfile::tempdir().unwrap();
        tree(src.path(), 4);
        let store = Arc::new(MemoryBackend::new());
        let repo = init(&store).await;
        let first = backup_dir(&repo, src.path()).await;
        // Opened before the rotation (a long-lived backup agent, an admin's
        // prune host).
        let agent = Repository::open(store.clone(), b"admin").await.unwrap();
        let pruner = Repository::open(store.clone(), b"admin").await.unwrap();
        repo.rotate_keys(&RotateOptions::default()).await.unwrap();
        assert_eq!(agent.keys().epoch(), 0);

        std::fs::write(src.path().join("new.bin"), b"after the rotation").unwrap();
        backup_dir(&agent, src.path()).await;
        assert_eq!(agent.keys().epoch(), 1);
        let plan = prune_plan(&pruner, &PruneOptions::default()).await.unwrap();
        assert!(!plan.packs_to_reencrypt.is_empty());
        prune(&pruner, &PruneOptions::default(), plan)
            .await
            .unwrap();
        let usage = repo.epoch_usage().await.unwrap();
        assert_eq!(usage.data_bytes(0), 0, "{usage:?}");
        let r = Repository::open(store.clone(), b"admin").await.unwrap();
        let files = read_snapshot(&r, &first).await;
        assert_eq!(contents(&files), files_of(src.path()));
    });
}
