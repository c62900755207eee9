//! `tenant rekey` (issue 20, item 3; `cairn_lifecycle::tenant::rekey_tenant`): after `key remove` + rotation + a
//! rekey, the removed key's tenant keys open nothing the tenant writes
//! afterwards (they opened what it wrote after the removal but before the
//! rekey); old snapshots restore under their generation; rekeying twice; a
//! crash at every operation of a rekey leaves a repository that opens,
//! checks and rekeys; a forged version 2 key object is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use cairn::cas::format::{decode_index, open_blob, read_pack_header};
use cairn::cas::prune::{prune, prune_plan, PruneOptions};
use cairn::cas::tenant::rekey_tenant;
use cairn::cas::{Error, InitOptions, NewKey, Repository, SnapshotId};
use cairn::recovery::{check, CheckOptions};
use cairn_backends::testing::FailAfter;
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_crypto::{AdminKey, ChunkId, KdfParams, KeySet, SealingKey, TenantKeyObject};
use cairn_crypto::{TenantKeys, TenantSecret};
use cairn_testkit::{backup_dir, keys_under, random_bytes, snapshot_files};

fn opts() -> InitOptions {
    InitOptions::default().kdf(KdfParams::insecure_for_tests())
}

/// Backs up one file of `len` seeded bytes; returns the snapshot and tree.
async fn back_up(t: &Repository, seed: u64, len: usize) -> (SnapshotId, ChunkId) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.bin"), random_bytes(seed, len)).unwrap();
    let done = backup_dir(t, dir.path(), &Default::default()).await;
    (done.snapshot_id.unwrap(), *done.snapshot.tree)
}

/// Whether any of `bytes` opens under `keys`: as a sealed document
/// (snapshot record, journal entry…), an index object, a pack header, or one
/// of the blobs `owner` (the tenant's real keys) finds in the pack.
fn opens(keys: &KeySet, owner: &KeySet, object: &str, bytes: &[u8]) -> bool {
    let journal = keys.journal_key();
    let sealing: [&SealingKey; 3] = [keys.metadata_key(), keys.data_key(), &journal];
    let doc = bytes.len() > 5
        && sealing
            .iter()
            .any(|k| k.open(&bytes[5..], &bytes[..5]).is_ok());
    let known = read_pack_header(owner, object, bytes).unwrap_or_default();
    let blob = known.iter().any(|e| {
        let range = e.offset as usize..(e.offset + e.length) as usize;
        bytes
            .get(range)
            .is_some_and(|sealed| open_blob(keys, object, e, sealed).is_ok())
    });
    doc || blob
        || decode_index(keys, object, bytes).is_ok()
        || read_pack_header(keys, object, bytes).is_ok()
}

/// How many of the objects under `prefix` not in `before` open under
/// `keys` (`owner`: the tenant's own keys, to find blob boundaries).
async fn opened_since(
    store: &dyn Backend,
    prefix: &str,
    before: &BTreeSet<String>,
    keys: &KeySet,
    owner: &KeySet,
) -> (usize, usize) {
    let mut opened = 0;
    let new: Vec<String> = keys_under(store, prefix)
        .await
        .into_iter()
        .filter(|k| !before.contains(k))
        .collect();
    for k in &new {
        let bytes = store.get(k).await.unwrap();
        opened += usize::from(opens(keys, owner, k, &bytes));
    }
    (opened, new.len())
}

async fn listed(store: &dyn Backend, prefix: &str) -> BTreeSet<String> {
    keys_under(store, prefix).await.into_iter().collect()
}

#[test]
fn a_removed_key_reads_nothing_the_tenant_writes_after_a_rekey() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let admin = Repository::init(store.clone(), b"admin", opts())
            .await
            .unwrap();
        let bk = NewKey::backup().kdf(KdfParams::insecure_for_tests());
        let bk = admin.add_key_with(b"bk", &bk).await.unwrap();
        let t = admin.create_tenant("acme").await.unwrap();
        let ns = t.tenant().unwrap().namespace().to_owned();
        let prefix = format!("tenants/{ns}/");
        let (s0, tree0) = back_up(&t, 1, 50_000).await;
        // The removed holder's loot: the tenant's keys, unwrapped while its
        // key was valid.
        let removed = Repository::open(store.clone(), b"bk").await.unwrap();
        let stolen = (*removed.open_tenant("acme").await.unwrap().keys()).clone();
        admin
            .remove_key_with(&bk, &Default::default())
            .await
            .unwrap();

        // After removal and rotation, before a rekey: the secret is the same,
        // so what the tenant writes still opens under the loot.
        let before = listed(&*store, &prefix).await;
        let t = admin.open_tenant("acme").await.unwrap();
        back_up(&t, 2, 50_000).await;
        let (opened, new) = opened_since(&*store, &prefix, &before, &stolen, &t.keys()).await;
        assert!(opened >= 3, "before the rekey: {opened} of {new} open");

        let report = rekey_tenant(&admin, "acme").await.unwrap();
        assert_eq!((report.generation, report.namespace.as_str()), (1, &*ns));
        assert_eq!(report.replaced.len(), 1, "{report:?}");
        assert_eq!(
            keys_under(&*store, "tenant-keys/").await,
            std::slice::from_ref(&report.object)
        );

        let before = listed(&*store, &prefix).await;
        let t = admin.open_tenant("acme").await.unwrap();
        assert_eq!(t.tenant().unwrap().namespace(), ns);
        // The same content as the first backup, and new content.
        let (s1, tree1) = back_up(&t, 1, 50_000).await;
        back_up(&t, 3, 50_000).await;
        let own = t.keys();
        let (opened, new) = opened_since(&*store, &prefix, &before, &stolen, &own).await;
        assert_eq!(
            opened, 0,
            "after the rekey: {opened} of {new} open under the loot"
        );
        let (mine, _) = opened_since(&*store, &prefix, &before, &own, &own).await;
        assert!(
            mine >= 4,
            "the sweep can fail: {mine} of {new} open under the tenant's keys"
        );
        // Same files, new generation: stored again under new ids (no dedup
        // across generations, nothing the old chunk-id key recognises).
        assert_ne!(tree1, tree0);
        let plain = random_bytes(1, 50_000);
        assert_ne!(
            own.chunk_id_key().id(&plain),
            stolen.chunk_id_key().id(&plain)
        );
        // Old and new snapshots read back.
        for (s, tree) in [(s0, tree0), (s1, tree1)] {
            t.load_snapshot(&s).await.unwrap();
            let files = snapshot_files(&t, tree).await;
            assert_eq!(files[&b"f.bin"[..]], plain);
        }
    })
}

#[test]
fn rekeying_twice_keeps_every_snapshot_restorable_and_checks_clean() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let admin = Repository::init(store.clone(), b"admin", opts())
            .await
            .unwrap();
        let t = admin.create_tenant("acme").await.unwrap();
        let mut snaps = vec![back_up(&t, 10, 30_000).await];
        for generation in 1..=2 {
            let r = rekey_tenant(&admin, "acme").await.unwrap();
            assert_eq!(r.generation, generation);
            let t = admin.open_tenant("acme").await.unwrap();
            assert_eq!(t.keys().epoch(), generation, "new data seals under it");
            snaps.push(back_up(&t, 10 + u64::from(generation), 30_000).await);
        }
        let list = admin.tenants().await.unwrap();
        assert_eq!((list.len(), list[0].generation), (1, 2), "{list:?}");
        let t = Repository::open(store.clone(), b"admin")
            .await
            .unwrap()
            .open_tenant("acme")
            .await
            .unwrap();
        // Prune re-seals older generations' packs under the newest (their
        // blobs keep their ids): everything still reads back and checks.
        let po = PruneOptions::default();
        let plan = prune_plan(&t, &po).await.unwrap();
        prune(&t, &po, plan).await.unwrap();
        let t = admin.open_tenant("acme").await.unwrap();
        for (i, (s, tree)) in snaps.iter().enumerate() {
            t.load_snapshot(s).await.unwrap();
            let files = snapshot_files(&t, *tree).await;
            assert_eq!(files[&b"f.bin"[..]], random_bytes(10 + i as u64, 30_000));
        }
        let report = check(&t, &CheckOptions::default().read_data(1.0))
            .await
            .unwrap();
        assert!(report.is_ok(), "{report:?}");
        // A backup key may not rekey.
        let bk = NewKey::backup().kdf(KdfParams::insecure_for_tests());
        admin.add_key_with(b"bk", &bk).await.unwrap();
        let host = Repository::open(store.clone(), b"bk").await.unwrap();
        let refused = rekey_tenant(&host, "acme").await.unwrap_err();
        assert!(matches!(refused, Error::NotAdmin { .. }), "{refused}");
        let missing = rekey_tenant(&admin, "nobody").await.unwrap_err();
        assert!(matches!(missing, Error::TenantNotFound { .. }), "{missing}");
    })
}

async fn crash_setup() -> (Arc<FailAfter<MemoryBackend>>, SnapshotId, ChunkId) {
    let store = Arc::new(FailAfter::new(MemoryBackend::new(), u64::MAX));
    let admin = Repository::init(store.clone(), b"admin", opts())
        .await
        .unwrap();
    let t = admin.create_tenant("acme").await.unwrap();
    let (s, tree) = back_up(&t, 20, 30_000).await;
    (store, s, tree)
}

#[test]
fn a_crash_anywhere_in_a_rekey_leaves_a_sound_repository() {
    futures::executor::block_on(async {
        let (store, _, _) = crash_setup().await;
        let admin = Repository::open(store.clone(), b"admin").await.unwrap();
        store.reset(u64::MAX);
        rekey_tenant(&admin, "acme").await.unwrap();
        let total = store.ops();
        assert!(total > 4, "{total} operations");
        for n in 0..total {
            let (store, s, tree) = crash_setup().await;
            let admin = Repository::open(store.clone(), b"admin").await.unwrap();
            store.reset(n);
            let crashed = rekey_tenant(&admin, "acme").await;
            store.heal();
            assert!(crashed.is_err(), "operation {n} of {total} should fail");
            let admin = Repository::open(store.clone(), b"admin").await.unwrap();
            let t = admin.open_tenant("acme").await.unwrap();
            let files = snapshot_files(&t, tree).await;
            assert_eq!(
                files[&b"f.bin"[..]],
                random_bytes(20, 30_000),
                "crash at {n}"
            );
            t.load_snapshot(&s).await.unwrap();
            let report = check(&t, &CheckOptions::default()).await.unwrap();
            assert!(report.is_ok(), "crash at {n}: {report:?}");
            // The rekey again: one key object left, of a newer generation.
            let r = rekey_tenant(&admin, "acme").await.unwrap();
            assert!(r.generation >= 1, "crash at {n}");
            let objects = keys_under(&*store, "tenant-keys/").await;
            assert_eq!(objects, [r.object], "crash at {n}");
            let t = admin.open_tenant("acme").await.unwrap();
            assert_eq!(snapshot_files(&t, tree).await.len(), 1);
        }
    })
}

/// A holder of the tenant's old wrapping (a removed key, or any key of the
/// epoch) seals a version 2 object with a "newer" generation whose secret
/// it chose, under an authority of its own: it is refused, and the tenant
/// keeps writing under its real keys.
#[test]
fn a_forged_version_2_key_object_is_refused() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let admin = Repository::init(store.clone(), b"admin", opts())
            .await
            .unwrap();
        let t = admin.create_tenant("acme").await.unwrap();
        let ns = t.tenant().unwrap().namespace().to_owned();
        rekey_tenant(&admin, "acme").await.unwrap();
        let real = keys_under(&*store, "tenant-keys/").await;
        let bytes = store.get(&real[0]).await.unwrap();
        let obj = TenantKeyObject::from_bytes(&bytes).unwrap();
        let wrap = admin.keys().tenant_wrapping_key();
        let (mut loot, name) = obj.open(&wrap).unwrap();
        let evil = TenantSecret::from_bytes([0xee; 32]);
        for _ in 0..5 {
            loot.push(TenantSecret::from_bytes([0xee; 32])).unwrap();
        }
        let mine = TenantKeys::new(evil).keys();
        let forged = TenantKeyObject::seal_generations(
            &wrap,
            obj.epoch(),
            obj.tenant_id(),
            obj.namespace(),
            &loot,
            &name,
            &AdminKey::generate().unwrap(),
        )
        .unwrap()
        .to_bytes();
        let planted = format!(
            "{}{}",
            &real[0][..real[0].rfind('/').unwrap() + 1],
            blake3::hash(&forged).to_hex()
        );
        store
            .put(&planted, Bytes::from(forged), PutMode::CreateOnly)
            .await
            .unwrap();
        let list = admin.tenants().await.unwrap();
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!((list[0].generation, &list[0].object), (1, &real[0]));
        let t = admin.open_tenant("acme").await.unwrap();
        assert_eq!(t.tenant().unwrap().namespace(), ns);
        assert_eq!(t.keys().epoch(), 1, "the real generation, not the forged 6");
        let sealed = t.keys().data_key().seal(b"secret", b"").unwrap();
        assert!(mine.data_key().open(&sealed, b"").is_err());
        let r = rekey_tenant(&admin, "acme").await.unwrap();
        assert_eq!(r.generation, 2);
    })
}

/// A rekeyed (version 2, signed) key object follows a rotation and the
/// removal of an admin (which retires the authority that signed it): it is
/// re-wrapped and re-signed, and the tenant opens at its generation with
/// every snapshot.
#[test]
fn a_rekeyed_tenant_follows_an_admins_removal() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let admin = Repository::init(store.clone(), b"admin", opts())
            .await
            .unwrap();
        let second = NewKey::admin().kdf(KdfParams::insecure_for_tests());
        let second = admin.add_key_with(b"second", &second).await.unwrap();
        let t = admin.create_tenant("acme").await.unwrap();
        let (_, tree) = back_up(&t, 30, 20_000).await;
        rekey_tenant(&admin, "acme").await.unwrap();
        admin
            .remove_key_with(&second, &Default::default())
            .await
            .unwrap();
        let objects = keys_under(&*store, "tenant-keys/").await;
        assert_eq!(objects.len(), 1, "{objects:?}");
        let obj = TenantKeyObject::from_bytes(&store.get(&objects[0]).await.unwrap()).unwrap();
        assert_eq!((obj.version(), obj.generation()), (2, 1));
        assert!(obj.epoch() >= 1, "re-wrapped under the new epoch");
        let again = Repository::open(store.clone(), b"admin").await.unwrap();
        let t = again.open_tenant("acme").await.unwrap();
        assert_eq!(t.keys().epoch(), 1);
        assert_eq!(snapshot_files(&t, tree).await.len(), 1);
        assert_eq!(rekey_tenant(&again, "acme").await.unwrap().generation, 2);
    })
}
