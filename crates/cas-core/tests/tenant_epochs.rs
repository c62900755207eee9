//! Tenants follow key rotation (issue 20, item 3): after `remove_key` (which
//! rotates), a handle the removed key opened before — it holds the master
//! key and the old epochs — opens no tenant key object: the old ones were
//! re-wrapped under the new epoch and deleted, new tenants are wrapped
//! under it from the start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use cairn::cas::{Error, InitOptions, NewKey, Repository};
use cairn_backends::{Backend, MemoryBackend};
use cairn_crypto::{KdfParams, TenantKeyObject};
use futures::TryStreamExt;

#[test]
fn a_removed_key_opens_no_tenant_key_object_written_after_its_removal() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let kdf = KdfParams::insecure_for_tests();
        let admin = Repository::init(store.clone(), b"admin", InitOptions::default().kdf(kdf))
            .await
            .unwrap();
        let backup = admin
            .add_key_with(b"bk", &NewKey::backup().kdf(kdf))
            .await
            .unwrap();
        let before = admin.create_tenant("before").await.unwrap();
        let ns = before.tenant().unwrap().namespace().to_owned();
        // The removed holder: a handle opened while its key was valid.
        let removed = Repository::open(store.clone(), b"bk").await.unwrap();
        assert!(removed.open_tenant("before").await.is_ok());

        let report = admin
            .remove_key_with(&backup, &Default::default())
            .await
            .unwrap();
        assert_eq!(report.rotation.unwrap().epoch, 1);
        admin.create_tenant("after").await.unwrap();

        let objects: Vec<String> = store
            .list("tenant-keys/")
            .map_ok(|m| m.key)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(objects.len(), 2, "{objects:?}");
        for o in &objects {
            let parsed = TenantKeyObject::from_bytes(&store.get(o).await.unwrap()).unwrap();
            assert_eq!(parsed.epoch(), 1, "{o}");
        }
        for name in ["before", "after"] {
            let r = removed.open_tenant(name).await;
            assert!(
                matches!(r, Err(Error::TenantNotFound { .. })),
                "{name}: {r:?}"
            );
        }
        // The remaining keys open both, the re-wrapped one in its old
        // namespace.
        let again = Repository::open(store.clone(), b"admin").await.unwrap();
        let t = again.open_tenant("before").await.unwrap();
        assert_eq!(t.tenant().unwrap().namespace(), ns);
        again.open_tenant("after").await.unwrap();
    })
}
