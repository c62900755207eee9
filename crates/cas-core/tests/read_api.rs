//! The read API recovery is built on: verified blobs of a pack, a pack read
//! back whole, chunk locations and the tree walk — and a tampered blob
//! refused with a typed error naming its pack.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_testkit::backup_dir;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cairn::cas::{BackupOptions, Error, InitOptions, NodeKind, PackEntry, Repository, Snapshot};
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_crypto::{ChunkId, KdfParams};
use futures::TryStreamExt;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// Seeded bytes that do not compress (so chunks are many and distinct).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A repository holding one snapshot of `big` (several chunks) and `small`.
async fn setup() -> (Arc<MemoryBackend>, Repository, Snapshot, tempfile::TempDir) {
    let store = Arc::new(MemoryBackend::new());
    let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
    let repo = Repository::init(store.clone(), b"pw", opts).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big"), noise(6 << 20, 7)).unwrap();
    std::fs::write(dir.path().join("small"), b"a small file").unwrap();
    let done = backup_dir(&repo, dir.path(), &BackupOptions::default()).await;
    (store, repo, done.snapshot, dir)
}

/// Every node of the snapshot by path, through `walk_nodes`.
async fn nodes(repo: &Repository, snap: &Snapshot) -> BTreeMap<PathBuf, NodeKind> {
    repo.walk_nodes(snap.tree)
        .map_ok(|(p, n)| (p, n.kind))
        .try_collect()
        .await
        .unwrap()
}

fn chunks_of(nodes: &BTreeMap<PathBuf, NodeKind>, path: &std::path::Path) -> Vec<ChunkId> {
    match &nodes[path] {
        NodeKind::File { chunks } => chunks.clone(),
        k => panic!("{k:?}"),
    }
}

/// The entries of `ids` in their (single) pack, sorted by offset.
fn run_of(repo: &Repository, ids: &[ChunkId]) -> (cairn::cas::PackId, Vec<PackEntry>) {
    let locs: Vec<_> = repo.locate(ids).into_iter().map(Option::unwrap).collect();
    let pack = locs[0].pack;
    assert!(locs.iter().all(|l| l.pack == pack), "one pack expected");
    let mut run: Vec<PackEntry> = locs.iter().map(|l| l.entry).collect();
    run.sort_by_key(|e| e.offset);
    (pack, run)
}

#[test]
fn read_blobs_hands_out_each_blob_verified_in_order() {
    block_on(async {
        let (_store, repo, snap, dir) = setup().await;
        let all = nodes(&repo, &snap).await;
        let big_path = dir.path().join("big");
        let ids = chunks_of(&all, &big_path);
        assert!(
            ids.len() > 2,
            "the test needs several chunks: {}",
            ids.len()
        );
        let (pack, run) = run_of(&repo, &ids);
        let span = {
            let (f, l) = (run[0], run[run.len() - 1]);
            u64::from(l.offset + l.length - f.offset)
        };

        let got: Arc<Mutex<BTreeMap<u32, Vec<u8>>>> = Arc::default();
        let sink = got.clone();
        let fetched = repo
            .read_blobs(pack, run.clone(), move |e: &PackEntry, plain| {
                sink.lock().unwrap().insert(e.offset, plain.to_vec());
                Ok::<_, Error>(())
            })
            .await
            .unwrap();
        assert_eq!(fetched, span);
        // The plaintexts, in the file's chunk order, are the file.
        let by_id: BTreeMap<ChunkId, Vec<u8>> = run
            .iter()
            .map(|e| (e.id, got.lock().unwrap()[&e.offset].clone()))
            .collect();
        let rebuilt: Vec<u8> = ids.iter().flat_map(|id| by_id[id].clone()).collect();
        assert_eq!(rebuilt, std::fs::read(&big_path).unwrap());
        let hasher = repo.chunk_hasher();
        assert!(ids.iter().all(|id| hasher.id(&by_id[id]) == *id));
    })
}

#[test]
fn a_tampered_blob_is_refused_naming_its_pack() {
    block_on(async {
        let (store, repo, snap, dir) = setup().await;
        let all = nodes(&repo, &snap).await;
        let ids = chunks_of(&all, &dir.path().join("big"));
        let (pack, run) = run_of(&repo, &ids);
        assert!(repo.verify_pack(pack).await.is_ok());

        // Flip one byte inside the second blob of the run.
        let victim = run[1];
        let mut bytes = store.get(&pack.key()).await.unwrap().to_vec();
        bytes[victim.offset as usize + 5] ^= 0x40;
        store
            .put(&pack.key(), Bytes::from(bytes), PutMode::Overwrite)
            .await
            .unwrap();

        let seen: Arc<Mutex<Vec<ChunkId>>> = Arc::default();
        let sink = seen.clone();
        let err = repo
            .read_blobs(pack, run.clone(), move |e: &PackEntry, _| {
                sink.lock().unwrap().push(e.id);
                Ok::<_, Error>(())
            })
            .await
            .unwrap_err();
        match &err {
            Error::Authentication { object } => {
                assert!(object.contains(&pack.key()), "{object}");
                assert!(object.contains(&victim.id.to_hex()), "{object}");
            }
            e => panic!("expected an authentication error, got {e:?}"),
        }
        // The blob before it was handed out; the tampered one never was.
        assert_eq!(*seen.lock().unwrap(), vec![run[0].id]);

        // Read back whole, the pack no longer matches its name.
        match repo.verify_pack(pack).await.unwrap_err() {
            Error::Corrupt { object, reason } => {
                assert_eq!(object, pack.key());
                assert!(reason.contains("name"), "{reason}");
            }
            e => panic!("expected a corrupt pack, got {e:?}"),
        }
    })
}

#[test]
fn a_run_not_sorted_by_offset_is_a_typed_error_not_a_panic() {
    block_on(async {
        let (_store, repo, snap, dir) = setup().await;
        let all = nodes(&repo, &snap).await;
        let ids = chunks_of(&all, &dir.path().join("big"));
        let (pack, mut run) = run_of(&repo, &ids);
        run.reverse();
        let err = repo
            .read_blobs(pack, run, |_: &PackEntry, _| Ok::<_, Error>(()))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidOption { .. }), "{err:?}");
    })
}

#[test]
fn walks_list_every_path_and_descend_prunes_subtrees() {
    block_on(async {
        let (_store, repo, snap, dir) = setup().await;
        let all = nodes(&repo, &snap).await;
        assert!(all.contains_key(&dir.path().join("big")));
        assert!(all.contains_key(&dir.path().join("small")));
        let dirs = all
            .values()
            .filter(|k| matches!(k, NodeKind::Dir { .. }))
            .count();

        // Every directory once, and the root alone when nothing descends.
        let walked: Vec<PathBuf> =
            futures::StreamExt::collect::<Vec<_>>(repo.walk_trees(snap.tree, |_, _| true))
                .await
                .into_iter()
                .map(|d| {
                    d.tree.unwrap();
                    d.path
                })
                .collect();
        assert_eq!(walked.len(), dirs + 1);
        assert_eq!(walked.iter().collect::<HashSet<_>>().len(), walked.len());
        let root_only =
            futures::StreamExt::collect::<Vec<_>>(repo.walk_trees(snap.tree, |_, _| false)).await;
        assert_eq!(root_only.len(), 1);
        assert_eq!(root_only[0].path, PathBuf::from("/"));
    })
}

#[test]
fn a_tree_that_cannot_be_loaded_is_yielded_as_an_error_and_ends_walk_nodes() {
    block_on(async {
        let (store, repo, snap, _dir) = setup().await;
        // Lose the pack holding the root tree; read with a fresh handle (no
        // tree pack kept in memory).
        let root = repo.locate(&[snap.tree.chunk_id()])[0].unwrap();
        store.delete(&root.pack.key()).await.unwrap();
        let repo = Repository::open(store.clone(), b"pw").await.unwrap();

        let dirs =
            futures::StreamExt::collect::<Vec<_>>(repo.walk_trees(snap.tree, |_, _| true)).await;
        assert_eq!(dirs.len(), 1);
        assert_eq!(dirs[0].id, snap.tree);
        assert!(dirs[0].tree.is_err());

        let items = futures::StreamExt::collect::<Vec<_>>(repo.walk_nodes(snap.tree)).await;
        assert_eq!(items.len(), 1);
        assert!(items[0].is_err());
    })
}
