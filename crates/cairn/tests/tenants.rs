//! Tenants through the facade, on a 4+2 layout location: the embedder's
//! calls (create, back up, list, shred, verify the receipt), with the
//! layout's children confirmed without the embedder naming them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_testkit::facade_backup;
use std::path::Path;
use std::sync::Arc;

use cairn::{BackupOptions, InitOptions, KdfParams, Location, NoProgress, Repository};
use futures::executor::block_on;

const PW: &[u8] = b"facade tenants";

fn layout(dir: &Path) -> Location {
    let mut text = String::from("[erasure]\ndata = 4\nparity = 2\n");
    for i in 0..6 {
        text.push_str(&format!("[[backends]]\nlocation = \"disk{i}\"\n"));
    }
    let path = dir.join("layout.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().parse().unwrap()
}

#[test]
fn a_tenant_is_created_backed_up_and_shredded_with_every_child_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("personal.txt"), b"name, address").unwrap();
    block_on(async {
        let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
        let repo = Repository::init(&layout(dir.path()), PW, opts)
            .await
            .unwrap();
        let acme = repo.create_tenant("acme").await.unwrap();
        let done = facade_backup(&acme, &src).await;
        let (listed, _) = acme
            .snapshots(&cairn::SnapshotQuery::default())
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert!(repo
            .snapshots(&cairn::SnapshotQuery::default())
            .await
            .unwrap()
            .0
            .is_empty());
        assert_eq!(repo.tenants().await.unwrap()[0].name, "acme");

        let receipt = repo.shred_tenant("acme").await.unwrap();
        assert_eq!(
            receipt.snapshots_forgotten,
            [done.snapshot_id.unwrap().to_string()]
        );
        let on = &receipt.destroyed[0].confirmed_absent_on;
        assert_eq!(on.len(), 7, "{on:?}");
        assert!(on[1].starts_with("child 0"), "{on:?}");
        let json = receipt.to_json().unwrap();
        assert_eq!(repo.verify_receipt(json.as_bytes()).unwrap(), receipt);
        assert!(repo.open_tenant("acme").await.is_err());
        // The handle that backed up cannot acknowledge another backup.
        let late = acme
            .backup(&[src], &BackupOptions::default(), Arc::new(NoProgress))
            .await;
        assert!(late.is_err(), "{late:?}");
    });
}
