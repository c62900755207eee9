//! Tenant shreds cannot be steered (issue 20, item 5): a key object planted
//! for tenant A naming tenant B's namespace does not get B shredded, and a
//! version 1 admin (no authority) does not reclaim under a shred record it
//! cannot verify.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use cairn::cas::prune::{prune, prune_plan, PruneOptions};
use cairn::cas::{InitOptions, Repository};
use cairn_backends::{Backend, LocalBackend, MemoryBackend, PutMode};
use cairn_crypto::{KdfParams, TenantKeyObject, TenantSecret};
use futures::TryStreamExt;

async fn prune_all(repo: &Repository) -> cairn::cas::tenant::ReclaimReport {
    let opts = PruneOptions::default();
    let plan = prune_plan(repo, &opts).await.unwrap();
    prune(repo, &opts, plan).await.unwrap().shredded
}

async fn exists(store: &MemoryBackend, key: &str) -> bool {
    store.get(key).await.is_ok()
}

#[test]
fn a_key_object_naming_another_tenants_namespace_does_not_shred_it() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
        let repo = Repository::init(store.clone(), b"admin", opts)
            .await
            .unwrap();
        let b = repo.create_tenant("b").await.unwrap();
        let ns_b = b.tenant().unwrap().namespace().to_owned();
        let marker = format!("tenants/{ns_b}/marker");
        store
            .put(
                &marker,
                Bytes::from_static(b"b's data"),
                PutMode::CreateOnly,
            )
            .await
            .unwrap();

        // A backup host (it knows the master key) files a key object for
        // tenant "a" that names b's namespace.
        let keys = repo.keys();
        let mut ns = [0u8; 16];
        hex::decode_to_slice(&ns_b, &mut ns).unwrap();
        let planted = TenantKeyObject::seal(
            &keys.tenant_wrapping_key(),
            0,
            keys.tenant_id("a"),
            ns,
            &TenantSecret::from_bytes([1; 32]),
            "a",
        )
        .unwrap()
        .to_bytes();
        let id_a = hex::encode(keys.tenant_id("a"));
        let object = format!("tenant-keys/{id_a}/{}", blake3::hash(&planted).to_hex());
        store
            .put(&object, Bytes::from(planted), PutMode::CreateOnly)
            .await
            .unwrap();

        let receipt = repo.shred_tenant("a", &Default::default()).await.unwrap();
        assert!(!receipt.namespaces.contains(&ns_b), "{receipt:?}");
        prune_all(&repo).await;
        assert!(exists(&store, &marker).await, "b's namespace was reclaimed");
        let again = repo.open_tenant("b").await.unwrap();
        assert_eq!(again.tenant().unwrap().namespace(), ns_b);
    })
}

#[test]
fn a_version_1_admin_does_not_reclaim_under_an_unverifiable_shred_record() {
    futures::executor::block_on(async {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repo-v1");
        let from: Arc<dyn Backend> = Arc::new(LocalBackend::new(&fixture).unwrap());
        let store = Arc::new(MemoryBackend::new());
        let all: Vec<String> = from.list("").map_ok(|m| m.key).try_collect().await.unwrap();
        for k in all {
            let b = from.get(&k).await.unwrap();
            store.put(&k, b, PutMode::CreateOnly).await.unwrap();
        }
        let repo = Repository::open(store.clone(), b"golden fixture")
            .await
            .unwrap();
        assert!(repo.authority().is_none());
        let ns = "22".repeat(16);
        let marker = format!("tenants/{ns}/marker");
        for (key, bytes) in [
            (marker.clone(), &b"someone's data"[..]),
            (
                format!("tenant-shreds/{}/{ns}", "11".repeat(16)),
                b"CRTS\x01junk",
            ),
        ] {
            store
                .put(&key, Bytes::copy_from_slice(bytes), PutMode::CreateOnly)
                .await
                .unwrap();
        }
        let report = prune_all(&repo).await;
        assert!(exists(&store, &marker).await, "reclaimed: {report:?}");
        assert!(report.namespaces.is_empty(), "{report:?}");
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.contains("no admin authority")),
            "{report:?}"
        );
    })
}
