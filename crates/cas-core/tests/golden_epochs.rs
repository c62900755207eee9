//! Golden fixture of the key-epoch formats: a whole repository committed
//! under `tests/fixtures/repo-epoch1`, written by version 3 key files, with
//! one snapshot under epoch 0, a rotation (`epochs/0000000001`, `CREP` v1), a
//! backup key added afterwards (`grants/…`, `CRGT` v1) and one snapshot
//! under epoch 1 (sealed messages version 2). It must keep opening with
//! both passwords and reading back exactly.
//!
//! Regenerate only after a deliberate format change (and a version bump):
//! `CAIRN_BLESS_FIXTURES=1 cargo test -p cairn-cas-core --test golden_epochs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn::cas::{
    backup, BackupOptions, InitOptions, NewKey, NoProgress, NodeKind, Repository, RotateOptions,
};
use cairn_backends::{Backend, LocalBackend};
use cairn_chunking::ChunkerConfig;
use cairn_crypto::KdfParams;
use futures::TryStreamExt;

const ADMIN: &[u8] = b"golden admin";
const BACKUP: &[u8] = b"golden backup";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repo-epoch1")
}

fn sources() -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir(src.path().join("before")).unwrap();
    std::fs::create_dir(src.path().join("after")).unwrap();
    std::fs::write(src.path().join("before/a.txt"), b"written under epoch 0\n").unwrap();
    std::fs::write(src.path().join("after/b.txt"), b"written under epoch 1\n").unwrap();
    src
}

fn bless() {
    let src = sources();
    let dir = fixture_dir();
    let _ = std::fs::remove_dir_all(&dir);
    futures::executor::block_on(async {
        let store = Arc::new(LocalBackend::new(&dir).unwrap());
        let opts = InitOptions::default()
            .kdf(KdfParams::insecure_for_tests())
            .chunker(ChunkerConfig::new(16 << 10, 64 << 10, 256 << 10).unwrap())
            .pack_size(1 << 20)
            .label("golden@admin");
        let repo = Repository::init(store, ADMIN, opts).await.unwrap();
        let opts = BackupOptions::default().host("golden").tag("epoch0");
        let paths = [src.path().join("before")];
        backup(&repo, &paths, &opts, Arc::new(NoProgress))
            .await
            .unwrap();
        repo.rotate_keys(&RotateOptions::default()).await.unwrap();
        let new = NewKey::backup()
            .kdf(KdfParams::insecure_for_tests())
            .label("golden@backup");
        repo.add_key_with(BACKUP, &new).await.unwrap();
        let opts = BackupOptions::default().host("golden").tag("epoch1");
        let paths = [src.path().join("after")];
        backup(&repo, &paths, &opts, Arc::new(NoProgress))
            .await
            .unwrap();
    });
}

/// The content of the one file under the snapshot tagged `tag`.
async fn only_file(repo: &Repository, tag: &str) -> Vec<u8> {
    let snaps = repo.snapshots().await.unwrap();
    let (_, snap) = snaps
        .iter()
        .find(|(_, s)| s.tags == [tag.to_owned()])
        .unwrap();
    let mut tree = repo.load_tree(&snap.tree).await.unwrap();
    loop {
        let node = tree.nodes[0].clone();
        match node.kind {
            NodeKind::Dir { subtree } => tree = repo.load_tree(&subtree).await.unwrap(),
            NodeKind::File { chunks } => {
                let mut out = Vec::new();
                for c in chunks {
                    out.extend(repo.read_blob(&c).await.unwrap());
                }
                return out;
            }
            NodeKind::Symlink { .. } => panic!("unexpected symlink"),
        }
    }
}

#[test]
fn epoch_1_repository_still_reads_back() {
    if std::env::var_os("CAIRN_BLESS_FIXTURES").is_some() {
        bless();
    }
    futures::executor::block_on(async {
        let store: Arc<dyn Backend> = Arc::new(LocalBackend::new(fixture_dir()).unwrap());
        // The frozen bytes: the epoch object's magic and version, version 3
        // key files, and epoch-1 sealed messages in packs.
        let epoch = store.get("epochs/0000000001").await.unwrap();
        assert_eq!(&epoch[..5], b"CREP\x01");
        let listed: Vec<_> = store.list("").try_collect().await.unwrap();
        let grants: Vec<_> = listed
            .iter()
            .filter(|m| m.key.starts_with("grants/0000000001/"))
            .collect();
        assert_eq!(grants.len(), 1);
        assert_eq!(&store.get(&grants[0].key).await.unwrap()[..5], b"CRGT\x01");
        let mut versions = Vec::new();
        for m in listed.iter().filter(|m| m.key.starts_with("keys/")) {
            versions.push(store.get(&m.key).await.unwrap()[8]);
        }
        assert_eq!(versions, [3, 3]);

        for pw in [ADMIN, BACKUP] {
            let repo = Repository::open(store.clone(), pw).await.unwrap();
            assert_eq!(repo.keys().epoch(), 1);
            assert!(
                repo.open_warnings().is_empty(),
                "{:?}",
                repo.open_warnings()
            );
            assert_eq!(only_file(&repo, "epoch0").await, b"written under epoch 0\n");
            assert_eq!(only_file(&repo, "epoch1").await, b"written under epoch 1\n");
            let usage = repo.epoch_usage().await.unwrap();
            let epochs: Vec<(u32, u64, u64)> = usage
                .epochs
                .iter()
                .map(|u| (u.epoch, u.packs, u.snapshots))
                .collect();
            // Epoch 0: a data and a tree pack, one snapshot; the same in 1.
            assert_eq!(epochs, [(0, 2, 1), (1, 2, 1)]);
        }
    });
}
