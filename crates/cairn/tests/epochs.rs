//! Key rotation through the facade, over a 4+2 erasure layout: new data
//! under the new epoch, the old snapshot restores and verifies before and
//! after prune re-encrypts, and nothing is left under epoch 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use cairn::cas::prune::{prune, prune_plan, PruneOptions};
use cairn::cas::{RemoveOptions, RotateOptions};
use cairn::{
    BackupOptions, InitOptions, KdfParams, Location, NoProgress, Repository, RestoreOptions,
};
use futures::executor::block_on;

const PW: &[u8] = b"facade epochs";

fn layout(dir: &Path) -> Location {
    let mut text = String::from("[erasure]\ndata = 4\nparity = 2\n");
    for i in 0..6 {
        text.push_str(&format!("[[backends]]\nlocation = \"disk{i}\"\n"));
    }
    let path = dir.join("layout.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().parse().unwrap()
}

async fn restores(repo: &Repository, snapshot: &cairn::Snapshot, target: &Path) {
    let opts = RestoreOptions::new(target);
    let plan = repo.plan_restore(snapshot, &opts).await.unwrap();
    repo.restore(&plan, &opts, Arc::new(NoProgress))
        .await
        .unwrap();
    assert!(repo.verify(snapshot, target).await.unwrap().is_ok());
}

#[test]
fn rotate_and_retire_over_an_erasure_layout() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 241) as u8).collect();
    std::fs::write(src.join("big.bin"), big).unwrap();
    let loc = layout(dir.path());
    block_on(async {
        let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
        let repo = Repository::init(&loc, PW, opts).await.unwrap();
        let paths = [src.clone()];
        let bo = BackupOptions::default();
        let first = repo
            .backup(&paths, &bo, Arc::new(NoProgress))
            .await
            .unwrap();
        let second_key = repo
            .inner()
            .add_key(b"second", KdfParams::insecure_for_tests())
            .await
            .unwrap();

        let r = repo.rotate_keys(&RotateOptions::default()).await.unwrap();
        assert_eq!(r.epoch, 1);
        std::fs::write(src.join("new.txt"), b"after rotation").unwrap();
        repo.backup(&paths, &bo, Arc::new(NoProgress))
            .await
            .unwrap();
        let usage = repo.epoch_usage().await.unwrap();
        assert!(
            usage.data_bytes(0) > 0 && usage.data_bytes(1) > 0,
            "{usage:?}"
        );
        restores(&repo, &first.snapshot, &dir.path().join("out1")).await;

        let plan = prune_plan(repo.inner(), &PruneOptions::default())
            .await
            .unwrap();
        prune(repo.inner(), &PruneOptions::default(), plan)
            .await
            .unwrap();
        assert_eq!(repo.epoch_usage().await.unwrap().data_bytes(0), 0);
        let reopened = Repository::open(&loc, PW).await.unwrap();
        restores(&reopened, &first.snapshot, &dir.path().join("out2")).await;

        // Removing a key through the facade starts epoch 2.
        let removed = repo
            .remove_key(&second_key, &RemoveOptions::default())
            .await
            .unwrap();
        assert_eq!(removed.rotation.map(|r| r.epoch), Some(2));
    });
}
