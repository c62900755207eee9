//! `list`: a snapshot's entries in path order (a directory right before its
//! contents), as deep as asked, streamed tree by tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn::cas::{BackupOptions, Repository, Snapshot};
use cairn_backends::testing::Counting;
use cairn_backends::{Backend, MemoryBackend};
use cairn_recovery::{list, Depth, Error};
use futures::executor::block_on;
use futures::{StreamExt, TryStreamExt};

use common::{backup_dir, init, listing};

/// Names whose byte order differs from path order (`a.b` < `a/x` as
/// strings, but `/a` and its contents come first as paths), nested four
/// deep, 40 directories in all.
fn tricky_tree(root: &Path) {
    for top in ["a", "a.b", "a-c", "ab"] {
        for mid in 0..3 {
            let dir = root.join(top).join(format!("m{mid}")).join("leaf");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("f"), top).unwrap();
            std::fs::write(root.join(top).join(format!("m{mid}.txt")), "t").unwrap();
        }
    }
}

/// A repository on `store` holding one snapshot of a [`tricky_tree`].
async fn backed_up(store: Arc<dyn Backend>) -> (tempfile::TempDir, Repository, Snapshot) {
    let dir = tempfile::tempdir().unwrap();
    tricky_tree(dir.path());
    let repo = init(store).await;
    let snap = backup_dir(&repo, dir.path(), &BackupOptions::default())
        .await
        .snapshot;
    (dir, repo, snap)
}

async fn paths(repo: &Repository, snap: &Snapshot, at: &Path, d: Depth) -> Vec<PathBuf> {
    list(repo, snap, at, d)
        .await
        .unwrap()
        .map_ok(|(p, _)| p)
        .try_collect()
        .await
        .unwrap()
}

#[test]
fn a_listing_is_in_path_order_and_as_deep_as_asked() {
    block_on(async {
        let (dir, repo, snap) = backed_up(Arc::new(MemoryBackend::new())).await;
        // The source's own listing, sorted as paths (BTreeMap of PathBuf).
        let want: Vec<PathBuf> = listing(dir.path())
            .into_keys()
            .map(|rel| dir.path().join(rel))
            .map(|p| p.components().collect())
            .collect();
        assert_eq!(paths(&repo, &snap, dir.path(), Depth::All).await, want);

        // From the root: every ancestor of the source first, then the same.
        let from_root = paths(&repo, &snap, Path::new("/"), Depth::All).await;
        let ancestors = dir.path().ancestors().count() - 2;
        assert_eq!(from_root[ancestors..], want[..]);

        // Children: the entry, then what is directly in it.
        let a = dir.path().join("a");
        let children = paths(&repo, &snap, &a, Depth::Children).await;
        let names = ["", "m0", "m0.txt", "m1", "m1.txt", "m2", "m2.txt"];
        let want: Vec<PathBuf> = names
            .iter()
            .map(|n| a.join(n).components().collect())
            .collect();
        assert_eq!(children, want);
        // A file: itself alone, at any depth.
        let f = a.join("m0/leaf/f");
        assert_eq!(paths(&repo, &snap, &f, Depth::All).await, [f]);
    });
}

#[test]
fn a_missing_path_fails_before_the_stream_starts() {
    block_on(async {
        let (dir, repo, snap) = backed_up(Arc::new(MemoryBackend::new())).await;
        for bad in ["a/nope", "a/m0.txt/below", "a/../a"] {
            let p = dir.path().join(bad);
            match list(&repo, &snap, &p, Depth::All).await {
                Err(Error::NotInSnapshot { path }) => assert_eq!(path, p),
                Err(e) => panic!("{bad}: {e}"),
                Ok(_) => panic!("{bad}: listed"),
            }
        }
    });
}

/// The first entries come after loading only the trees on the way to them,
/// not the 40 directories of the snapshot: the listing streams.
#[test]
fn a_listing_loads_trees_as_it_goes() {
    block_on(async {
        let counting = Arc::new(Counting::new(MemoryBackend::new()));
        let (dir, _, snap) = backed_up(counting.clone()).await;
        // Reopened: no tree is in a cache yet.
        let repo = Repository::open(counting.clone(), common::PW)
            .await
            .unwrap();
        counting.reset();
        let entries = list(&repo, &snap, dir.path(), Depth::All).await.unwrap();
        let first: Vec<_> = entries.take(4).try_collect().await.unwrap();
        assert_eq!(first.len(), 4);
        let c = counting.snapshot();
        let reads = c.gets + c.get_ranges;
        // The source's path from the root (one tree per component), plus
        // `a` and `a/m0`.
        let on_the_way = dir.path().components().count() as u64 + 2;
        assert!(
            reads <= on_the_way,
            "{reads} reads for the first 4 entries ({on_the_way} trees on the way)"
        );
    });
}
