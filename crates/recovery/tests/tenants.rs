//! Tenants and crypto-shredding (issue 14, items 2 and 3), on one store and
//! over a 4+2 erasure layout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_testkit::snapshot_files;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use cairn::cas::prune::{prune, prune_plan, PruneOptions};
use cairn::cas::tenant::{verify_receipt, Receipt, ShredOptions};
use cairn::cas::{
    backup, format::decode_index, format::open_blob, format::read_pack_header, BackupOptions,
    Error, InitOptions, NewKey, NoProgress, PackEntry, Repository,
};
use cairn_backends::{Backend, MemoryBackend, PartialObjects};
use cairn_crypto::{AnyKeyFile, ChunkId, KdfParams, KeySet, SealingKey, TenantKeyObject};
use cairn_erasure::{Child, ErasureBackend, ErasureConfig};
use futures::executor::block_on;
use futures::TryStreamExt;

const PASSWORDS: [&[u8]; 2] = [b"admin-pw", b"backup-pw"];

async fn objects(store: &dyn Backend, prefix: &str) -> BTreeMap<String, u64> {
    let listed: Vec<_> = store.list(prefix).try_collect().await.unwrap();
    listed.into_iter().map(|m| (m.key, m.size)).collect()
}

/// 400 kB that do not compress (xorshift).
fn content() -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..400_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn back_up(repo: &Repository, dir: &Path) -> (cairn::cas::SnapshotId, ChunkId) {
    let done = backup(
        repo,
        &[dir.to_owned()],
        &BackupOptions::default().host("web1"),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    (done.snapshot_id.unwrap(), *done.snapshot.tree)
}

/// Every key set a key holder can come up with after the shred: each key
/// file's master key (every password we know), what derives from it
/// (including `KeySet::tenant` of both names), and tenant B's own keys.
async fn remaining_keys(store: &dyn Backend, b: &Repository) -> Vec<KeySet> {
    let mut sets = vec![(*b.keys()).clone()];
    for name in objects(store, "keys/").await.into_keys() {
        let file = AnyKeyFile::from_bytes(&store.get(&name).await.unwrap()).unwrap();
        for pw in PASSWORDS {
            if let Ok(opened) = file.open(pw) {
                let k = KeySet::derive(&opened.master);
                for t in ["alpha", "beta", ""] {
                    sets.push(k.tenant(t));
                }
                sets.push(k);
            }
        }
    }
    assert!(sets.len() >= 9, "both key files opened");
    // And every tenant key object still stored, unwrapped with each.
    let mut tenants = Vec::new();
    for name in objects(store, "tenant-keys/").await.into_keys() {
        let obj = TenantKeyObject::from_bytes(&store.get(&name).await.unwrap()).unwrap();
        for k in &sets {
            if let Ok((secret, _)) = obj.open(&k.tenant_wrapping_key()) {
                tenants.push(secret.keys());
            }
        }
    }
    assert!(!tenants.is_empty(), "B's key object opens");
    sets.extend(tenants);
    sets
}

/// Whether anything of `bytes` opens under `keys`: as a sealed document
/// (snapshot, lease, journal entry…), an index object, a pack header, or
/// one of the blobs `known` says the object holds.
fn opens(keys: &KeySet, object: &str, bytes: &[u8], known: &[PackEntry]) -> bool {
    let wrap = keys.tenant_wrapping_key();
    let journal = keys.journal_key();
    let sealing: [&SealingKey; 4] = [keys.metadata_key(), keys.data_key(), &journal, &wrap];
    let doc = bytes.len() > 5
        && sealing
            .iter()
            .any(|k| k.open(&bytes[5..], &bytes[..5]).is_ok());
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

struct Setup {
    store: Arc<dyn Backend>,
    admin: Repository,
    ns: [String; 2],
    roots: [ChunkId; 2],
    snaps: [cairn::cas::SnapshotId; 2],
    _dir: tempfile::TempDir,
}

async fn two_tenants(store: Arc<dyn Backend>) -> Setup {
    let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
    let admin = Repository::init(store.clone(), PASSWORDS[0], opts)
        .await
        .unwrap();
    let new = NewKey::backup().kdf(KdfParams::insecure_for_tests());
    admin.add_key_with(PASSWORDS[1], &new).await.unwrap();
    let host = Repository::open(store.clone(), PASSWORDS[1]).await.unwrap();
    // Backup keys cannot create tenants; admins can, once.
    let refused = host.create_tenant("alpha").await.unwrap_err();
    assert!(matches!(refused, Error::NotAdmin { .. }), "{refused}");
    admin.create_tenant("alpha").await.unwrap();
    admin.create_tenant("beta").await.unwrap();
    let again = admin.create_tenant("beta").await.unwrap_err();
    assert!(matches!(again, Error::TenantExists { .. }), "{again}");
    // The backup host backs up the same files into both.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("customer.bin"), content()).unwrap();
    let a = host.open_tenant("alpha").await.unwrap();
    let b = host.open_tenant("beta").await.unwrap();
    let (sa, ra) = back_up(&a, dir.path()).await;
    let (sb, rb) = back_up(&b, dir.path()).await;
    let ns = [a, b].map(|t| t.tenant().unwrap().namespace().to_owned());
    Setup {
        store,
        admin,
        ns,
        roots: [ra, rb],
        snaps: [sa, sb],
        _dir: dir,
    }
}

/// Two tenants backing up identical files store them twice, each
/// restores, no object name carries a tenant name, and the whole
/// repository's data prefixes stay empty.
async fn tenants_do_not_share(s: &Setup) {
    let all = objects(&*s.store, "").await;
    assert!(all
        .keys()
        .all(|k| !k.contains("alpha") && !k.contains("beta")));
    assert!(objects(&*s.store, "data/").await.is_empty());
    let mut ids = Vec::new();
    for (i, name) in ["alpha", "beta"].into_iter().enumerate() {
        let t = s.admin.open_tenant(name).await.unwrap();
        let data = objects(&*s.store, &format!("tenants/{}/data/", s.ns[i])).await;
        // Each tenant stores the whole file: no dedup across tenants.
        let stored: u64 = data.values().sum();
        assert!(stored > content().len() as u64, "{name}: {stored}");
        let restored = snapshot_files(&t, s.roots[i]).await;
        assert_eq!(restored[&b"customer.bin"[..]], content(), "{name}");
        let ids_here: BTreeSet<ChunkId> = t.index().iter().map(|l| l.entry.id).collect();
        ids.push(ids_here);
    }
    assert!(
        ids[0].is_disjoint(&ids[1]),
        "chunk ids are keyed per tenant"
    );
    let names: Vec<String> = s
        .admin
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
}

async fn shred_and_prove(s: &Setup, opts: ShredOptions) -> Receipt {
    let a_prefix = format!("tenants/{}/", s.ns[0]);
    // What A's packs hold, learnt with A's keys before the shred: the blob
    // boundaries the sweep below tries every remaining key on.
    let a = s.admin.open_tenant("alpha").await.unwrap();
    let mut known = BTreeMap::new();
    for key in objects(&*s.store, &format!("{a_prefix}data/"))
        .await
        .into_keys()
    {
        let bytes = s.store.get(&key).await.unwrap();
        known.insert(
            key.clone(),
            read_pack_header(&a.keys(), &key, &bytes).unwrap(),
        );
    }
    // The sweep can fail: with A's own keys it opens A's objects.
    let mut opened_by_a = 0;
    for key in objects(&*s.store, &a_prefix).await.into_keys() {
        let bytes = s.store.get(&key).await.unwrap();
        let e = known.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        opened_by_a += usize::from(opens(&a.keys(), &key, &bytes, e));
    }
    assert!(opened_by_a >= 4, "{opened_by_a}");

    let host = Repository::open(s.store.clone(), PASSWORDS[1])
        .await
        .unwrap();
    let refused = host.shred_tenant("alpha", &opts).await.unwrap_err();
    assert!(matches!(refused, Error::NotAdmin { .. }), "{refused}");
    // A backup host had the tenant open when the shred came.
    let running = host.open_tenant("alpha").await.unwrap();
    let receipt = s.admin.shred_tenant("alpha", &opts).await.unwrap();

    let json = receipt.to_json().unwrap();
    assert_eq!(s.admin.verify_receipt(json.as_bytes()).unwrap(), receipt);
    assert!(verify_receipt(json.replace("alpha", "alpho").as_bytes(), None).is_err());
    assert_eq!(receipt.tenant, "alpha");
    assert_eq!(receipt.namespaces, [s.ns[0].clone()]);
    assert_eq!(receipt.snapshots_forgotten, [s.snaps[0]]);
    assert_eq!(receipt.destroyed.len(), 1);
    assert!(receipt.destroyed[0].object.starts_with("tenant-keys/"));
    assert!(receipt.pending_gc[0].objects >= 3 && receipt.pending_gc[0].bytes > 0);
    assert!(receipt.limits.iter().any(|l| l.contains("versioning")));
    assert!(objects(&*s.store, "tenant-keys/").await.len() == 1);

    // A is gone: it does not open, its snapshots are gone, and nothing in
    // the whole repository opens under any key that remains.
    let gone = s.admin.open_tenant("alpha").await.unwrap_err();
    assert!(matches!(gone, Error::TenantNotFound { .. }), "{gone}");
    assert!(objects(&*s.store, &format!("{a_prefix}snapshots/"))
        .await
        .is_empty());
    let b = s.admin.open_tenant("beta").await.unwrap();
    let candidates = remaining_keys(&*s.store, &b).await;
    for (key, _) in objects(&*s.store, &a_prefix).await {
        let bytes = s.store.get(&key).await.unwrap();
        let e = known.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        for (i, keys) in candidates.iter().enumerate() {
            assert!(
                !opens(keys, &key, &bytes, e),
                "{key} opens under candidate {i}"
            );
        }
    }
    // The running backup is not acknowledged.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("late.bin"), b"late data").unwrap();
    let late = backup(
        &running,
        &[dir.path().to_owned()],
        &BackupOptions::default(),
        Arc::new(NoProgress),
    )
    .await;
    assert!(
        matches!(
            late,
            Err(Error::TenantShredded { .. } | Error::SessionExpired { .. })
        ),
        "{late:?}"
    );

    // B restores byte-identical; prune reclaims all of A's namespace.
    assert_eq!(
        snapshot_files(&b, s.roots[1]).await[&b"customer.bin"[..]],
        content()
    );
    let popts = match &opts.partial {
        Some(p) => PruneOptions::default().partial_objects(p.clone()),
        None => PruneOptions::default(),
    };
    let plan = prune_plan(&s.admin, &popts).await.unwrap();
    let report = prune(&s.admin, &popts, plan).await.unwrap();
    assert!(
        report.shredded.objects_deleted >= 3,
        "{:?}",
        report.shredded
    );
    assert!(objects(&*s.store, &a_prefix).await.is_empty());
    let b = s.admin.open_tenant("beta").await.unwrap();
    assert_eq!(
        snapshot_files(&b, s.roots[1]).await[&b"customer.bin"[..]],
        content()
    );
    receipt
}

#[test]
fn tenants_are_separate_and_a_shredded_one_is_unreadable_and_reclaimed() {
    block_on(async {
        let s = two_tenants(Arc::new(MemoryBackend::new())).await;
        tenants_do_not_share(&s).await;
        let r = shred_and_prove(&s, ShredOptions::default()).await;
        assert_eq!(r.destroyed[0].confirmed_absent_on, ["repository"]);
        // Shredding twice finds nothing more to destroy, and still says so.
        let again = s
            .admin
            .shred_tenant("alpha", &ShredOptions::default())
            .await
            .unwrap();
        assert!(again.destroyed.is_empty() && again.namespaces == r.namespaces);
    })
}

#[test]
fn shredding_over_a_4_plus_2_layout_destroys_the_key_object_on_all_six_children() {
    block_on(async {
        let children: Vec<Arc<MemoryBackend>> =
            (0..6).map(|_| Arc::new(MemoryBackend::new())).collect();
        let erasure = Arc::new(
            ErasureBackend::new(
                children
                    .iter()
                    .enumerate()
                    .map(|(i, c)| Child::new(format!("c{i}"), c.clone() as Arc<dyn Backend>))
                    .collect(),
                ErasureConfig::new(4, 2),
            )
            .unwrap(),
        );
        let s = two_tenants(erasure.clone()).await;
        tenants_do_not_share(&s).await;
        let tenant_keys: Vec<String> = objects(&*s.store, "tenant-keys/")
            .await
            .into_keys()
            .collect();
        let a_id = hex_id(&s.admin, "alpha");
        let a_key: Vec<&String> = tenant_keys.iter().filter(|k| k.contains(&a_id)).collect();
        assert_eq!(a_key.len(), 1);
        for c in &children {
            assert!(
                c.get(a_key[0]).await.is_ok(),
                "a shard on every child first"
            );
        }
        let mut opts =
            ShredOptions::default().partial_objects(erasure.clone() as Arc<dyn PartialObjects>);
        for (i, c) in children.iter().enumerate() {
            opts = opts.confirm_on(format!("c{i}"), c.clone() as Arc<dyn Backend>);
        }
        let r = shred_and_prove(&s, opts).await;
        let on = &r.destroyed[0].confirmed_absent_on;
        assert_eq!(on, &["repository", "c0", "c1", "c2", "c3", "c4", "c5"]);
        // Checked directly on every child: no shard of A's key object, and
        // nothing under A's namespace after the prune.
        for c in &children {
            assert!(c.get(a_key[0]).await.unwrap_err().is_not_found());
            assert!(objects(&**c, &format!("tenant-keys/{a_id}/"))
                .await
                .is_empty());
            assert!(objects(&**c, &format!("tenants/{}/", s.ns[0]))
                .await
                .is_empty());
            assert!(!objects(&**c, &format!("tenants/{}/", s.ns[1]))
                .await
                .is_empty());
        }
    })
}

fn hex_id(repo: &Repository, name: &str) -> String {
    repo.keys()
        .tenant_id(name)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
