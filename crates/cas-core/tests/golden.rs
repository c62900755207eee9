//! Golden fixtures: a whole repository written by version 1 of every format
//! (config, key file, packs, index, trees, snapshot record) is committed under
//! `tests/fixtures/repo-v1`. It must keep opening and reading back exactly.
//!
//! Regenerate only after a deliberate format change (and a version bump):
//! `CAIRN_BLESS_FIXTURES=1 cargo test -p cairn-cas-core --test golden`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn::cas::{
    backup, BackupOptions, InitOptions, NoProgress, NodeKind, Repository, SnapshotQuery, Tree,
};
use cairn_backends::{Backend, LocalBackend};
use cairn_chunking::ChunkerConfig;
use cairn_crypto::KdfParams;

const PASSWORD: &[u8] = b"golden fixture";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repo-v1")
}

fn big_file() -> Vec<u8> {
    // Deterministic, mildly compressible, several chunks at the fixture's sizes.
    (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 & 0x3f)
        .collect()
}

fn bless() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a.txt"), b"hello golden\n").unwrap();
    std::fs::create_dir(src.path().join("dir")).unwrap();
    std::fs::write(src.path().join("dir/b.bin"), big_file()).unwrap();
    std::os::unix::fs::symlink("a.txt", src.path().join("link")).unwrap();
    let dir = fixture_dir();
    let _ = std::fs::remove_dir_all(&dir);
    futures::executor::block_on(async {
        let store = Arc::new(LocalBackend::new(&dir).unwrap());
        let opts = InitOptions::default()
            .kdf(KdfParams::insecure_for_tests())
            .chunker(ChunkerConfig::new(16 << 10, 64 << 10, 256 << 10).unwrap())
            .pack_size(1 << 20);
        let repo = Repository::init(store, PASSWORD, opts).await.unwrap();
        let opts = BackupOptions::default().host("golden").tag("fixture");
        backup(&repo, &[src.path().to_owned()], &opts, Arc::new(NoProgress))
            .await
            .unwrap();
    });
}

fn child(tree: &Tree, name: &str) -> cairn::cas::Node {
    tree.find(name.as_bytes())
        .unwrap_or_else(|| panic!("{name} missing"))
        .clone()
}

async fn file_bytes(repo: &Repository, node: &cairn::cas::Node) -> Vec<u8> {
    let NodeKind::File { chunks } = &node.kind else {
        panic!("not a file")
    };
    let mut out = Vec::new();
    for c in chunks {
        out.extend(repo.read_blob(c).await.unwrap());
    }
    out
}

#[test]
fn version_1_repository_still_reads_back() {
    if std::env::var_os("CAIRN_BLESS_FIXTURES").is_some() {
        bless();
    }
    futures::executor::block_on(async {
        let store: Arc<dyn Backend> = Arc::new(LocalBackend::new(fixture_dir()).unwrap());
        let repo = Repository::open(store, PASSWORD).await.unwrap();
        assert_eq!(repo.config().chunk_avg, 64 << 10);
        let (_, snap) = repo.find_snapshot(&SnapshotQuery::latest()).await.unwrap();
        assert_eq!(snap.hostname, "golden");
        assert_eq!(snap.tags, vec!["fixture".to_owned()]);
        assert_eq!(snap.summary.files_new, 2);

        // Walk from the root down the backed-up path to the source directory.
        let mut tree = repo.load_tree(&snap.tree.chunk_id()).await.unwrap();
        for part in Path::new(&snap.paths[0]).iter().skip(1) {
            let node = child(&tree, part.to_str().unwrap());
            let NodeKind::Dir { subtree } = node.kind else {
                panic!("not a dir")
            };
            tree = repo.load_tree(&subtree).await.unwrap();
        }
        let a = child(&tree, "a.txt");
        assert_eq!(file_bytes(&repo, &a).await, b"hello golden\n");
        let link = child(&tree, "link");
        assert_eq!(
            link.kind,
            NodeKind::Symlink {
                target: b"a.txt".to_vec()
            }
        );
        let dir = child(&tree, "dir");
        let NodeKind::Dir { subtree } = dir.kind else {
            panic!("not a dir")
        };
        let sub = repo.load_tree(&subtree).await.unwrap();
        let b = child(&sub, "b.bin");
        let NodeKind::File { chunks } = &b.kind else {
            panic!()
        };
        assert!(chunks.len() > 1, "the fixture should span several chunks");
        assert_eq!(file_bytes(&repo, &b).await, big_file());
    });
}

#[test]
fn wrong_password_is_refused_by_the_fixture() {
    futures::executor::block_on(async {
        let store: Arc<dyn Backend> = Arc::new(LocalBackend::new(fixture_dir()).unwrap());
        let err = Repository::open(store, b"not it").await.unwrap_err();
        assert!(matches!(err, cairn::cas::Error::WrongPassword), "{err}");
    });
}
