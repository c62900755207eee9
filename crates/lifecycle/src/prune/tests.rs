//! The writer side of the protocol, step by step: a backup that started
//! before a prune condemned the packs it deduplicated against.

use std::sync::Arc;

use cairn_backends::MemoryBackend;
use cairn_crypto::KdfParams;
use futures::TryStreamExt;

use super::records::condemned_packs;
use super::session::{revalidate, writer_start};
use super::{forget, prune, prune_plan, PruneOptions, SnapshotFilter};
use crate::retention::{KeepPolicy, PlanOptions};
use crate::tree::NodeKind;
use crate::Repository;
use cairn_archiver::{backup, BackupOptions, NoProgress};
use cairn_cas_core::InitOptions;

async fn count(repo: &Repository, prefix: &str) -> usize {
    let v: Vec<_> = repo.backend().list(prefix).try_collect().await.unwrap();
    v.len()
}

/// Reads every blob of the snapshot's tree (each verified against its id).
async fn read_all(repo: &Repository, root: cairn_crypto::ChunkId) {
    let mut stack = vec![root];
    while let Some(t) = stack.pop() {
        for node in repo.load_tree(&t).await.unwrap().nodes {
            match node.kind {
                NodeKind::Dir { subtree } => stack.push(subtree),
                NodeKind::File { chunks } => {
                    for c in chunks {
                        repo.read_blob(&c).await.unwrap();
                    }
                }
                NodeKind::Symlink { .. } => {}
            }
        }
    }
}

#[test]
fn a_writer_that_deduplicated_against_condemned_packs_stores_them_again_at_commit() {
    futures::executor::block_on(async {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), vec![7u8; 300_000]).unwrap();
        let store = Arc::new(MemoryBackend::new());
        let opts = InitOptions::default()
            .kdf(KdfParams::insecure_for_tests())
            .pack_size(1 << 20);
        let repo = Repository::init(store.clone(), b"pw", opts).await.unwrap();
        let first = backup(
            &repo,
            &[dir.path().to_owned()],
            &BackupOptions::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        let root = first.snapshot.tree.chunk_id();

        // A second writer starts: it sees no condemned pack and keeps every
        // blob of the first snapshot in its index (it will deduplicate).
        let writer = Repository::open(store.clone(), b"pw").await.unwrap();
        let start = writer_start(&writer, false).await.unwrap();
        let (session, known) = (start.session, start.condemned);
        assert!(known.is_empty());

        // Meanwhile: the first snapshot is forgotten, and a prune condemns
        // its packs. The writer's lease is visible: nothing is deleted.
        let all = SnapshotFilter::default();
        let keep_none = PlanOptions::default().allow_remove_all(true);
        forget(&repo, &KeepPolicy::default(), &keep_none, &all, false)
            .await
            .unwrap();
        let plan = prune_plan(&repo, &PruneOptions::default()).await.unwrap();
        let condemned_now = plan.packs_to_delete.len();
        assert!(condemned_now >= 2, "{plan:?}");
        let report = prune(&repo, &PruneOptions::default(), plan).await.unwrap();
        assert_eq!(report.packs_deleted, 0, "{report:?}");
        assert_eq!(report.still_pending, 1);

        // The writer commits the same tree: re-validation finds its blobs
        // in condemned packs and stores them again, in new packs.
        let stored = revalidate(&writer, &session, root, &known).await.unwrap();
        assert!(stored >= 2, "{stored} blobs stored again");
        let condemned = condemned_packs(&writer).await.unwrap();
        for l in writer.index().iter() {
            assert!(
                !condemned.contains(&l.pack),
                "index still points at a condemned pack"
            );
        }
        let mut snap = first.snapshot.clone();
        snap.tags.push("second".into());
        let id = writer.save_snapshot(&snap).await.unwrap();
        assert!(!session.killed(&writer).await.unwrap());
        session.end(&writer).await.unwrap();

        // The next prune deletes the condemned packs; the new snapshot
        // reads back whole from the new packs.
        let plan = prune_plan(&repo, &PruneOptions::default()).await.unwrap();
        let report = prune(&repo, &PruneOptions::default(), plan).await.unwrap();
        assert_eq!(report.packs_deleted, condemned_now, "{report:?}");
        assert_eq!(count(&repo, "condemned/").await, 0);
        let reader = Repository::open(store.clone(), b"pw").await.unwrap();
        assert_eq!(reader.snapshots().await.unwrap()[0].0, id);
        read_all(&reader, root).await;
    });
}

#[test]
fn without_commit_revalidation_a_prune_keeps_what_a_new_snapshot_needs() {
    // The second line of defence: a snapshot that references condemned
    // packs (here written without re-validation) makes phase 2 keep them.
    futures::executor::block_on(async {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), vec![9u8; 200_000]).unwrap();
        let store = Arc::new(MemoryBackend::new());
        let opts = InitOptions::default()
            .kdf(KdfParams::insecure_for_tests())
            .pack_size(1 << 20);
        let repo = Repository::init(store.clone(), b"pw", opts).await.unwrap();
        let first = backup(
            &repo,
            &[dir.path().to_owned()],
            &BackupOptions::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        let writer = Repository::open(store.clone(), b"pw").await.unwrap();
        let session = writer_start(&writer, false).await.unwrap().session;
        let keep_none = PlanOptions::default().allow_remove_all(true);
        forget(
            &repo,
            &KeepPolicy::default(),
            &keep_none,
            &SnapshotFilter::default(),
            false,
        )
        .await
        .unwrap();
        let plan = prune_plan(&repo, &PruneOptions::default()).await.unwrap();
        prune(&repo, &PruneOptions::default(), plan).await.unwrap();
        writer.save_snapshot(&first.snapshot).await.unwrap();
        session.end(&writer).await.unwrap();
        let plan = prune_plan(&repo, &PruneOptions::default()).await.unwrap();
        let report = prune(&repo, &PruneOptions::default(), plan).await.unwrap();
        assert_eq!(report.packs_deleted, 0, "{report:?}");
        assert!(report.packs_kept >= 2, "{report:?}");
        assert_eq!(
            count(&repo, "condemned/").await,
            0,
            "the record is finished"
        );
        let reader = Repository::open(store.clone(), b"pw").await.unwrap();
        read_all(&reader, first.snapshot.tree.chunk_id()).await;
    });
}

#[test]
fn a_kill_marker_stays_while_the_lease_does_and_goes_once_the_session_ended() {
    futures::executor::block_on(async {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), vec![5u8; 200_000]).unwrap();
        let store = Arc::new(MemoryBackend::new());
        let opts = InitOptions::default()
            .kdf(KdfParams::insecure_for_tests())
            .pack_size(1 << 20);
        let repo = Repository::init(store.clone(), b"pw", opts).await.unwrap();
        backup(
            &repo,
            &[dir.path().to_owned()],
            &BackupOptions::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        // A writer that stops moving (suspended, or crashed with its lease).
        let writer = Repository::open(store.clone(), b"pw").await.unwrap();
        let session = writer_start(&writer, false).await.unwrap().session;
        let keep_none = PlanOptions::default().allow_remove_all(true);
        forget(
            &repo,
            &KeepPolicy::default(),
            &keep_none,
            &SnapshotFilter::default(),
            false,
        )
        .await
        .unwrap();
        let prune_opts = PruneOptions::default().stale_after(std::time::Duration::ZERO);
        let mut killed = Vec::new();
        for _ in 0..4 {
            let plan = prune_plan(&repo, &prune_opts).await.unwrap();
            let r = prune(&repo, &prune_opts, plan).await.unwrap();
            killed.extend(r.sessions_killed.clone());
            assert_eq!(r.kill_markers_removed, 0, "the lease is still there: {r:?}");
        }
        assert_eq!(killed, vec![session.id().to_owned()]);
        assert_eq!(count(&repo, "condemned/").await, 0, "finished once killed");
        assert_eq!(count(&repo, "killed/").await, 1);
        // The writer wakes up: it learns it was declared dead, then ends.
        assert!(session.killed(&writer).await.unwrap());
        assert!(matches!(
            session.ensure_alive(&writer).await,
            Err(crate::Error::SessionExpired { .. })
        ));
        session.end(&writer).await.unwrap();
        let plan = prune_plan(&repo, &prune_opts).await.unwrap();
        let r = prune(&repo, &prune_opts, plan).await.unwrap();
        assert_eq!(r.kill_markers_removed, 1, "{r:?}");
        assert_eq!(count(&repo, "killed/").await, 0);
        assert_eq!(count(&repo, "sessions/").await, 0);
    });
}

/// On an append-only store a session refreshes and ends with create-only
/// objects that pruners read like a lease; an end marker it did not write
/// itself (planted) makes it fail its commit check, as a kill marker does.
#[test]
fn append_only_sessions_are_visible_to_pruners_and_planted_end_markers_kill() {
    use super::session::{live_sessions, Session};
    use bytes::Bytes;
    use cairn_backends::{AppendOnly, Backend, PutMode};
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
        let admin = Repository::init(store.clone(), b"pw", opts).await.unwrap();
        let host_store: Arc<dyn Backend> = Arc::new(AppendOnly::new(store.clone()));
        let host = Repository::open(host_store, b"pw").await.unwrap();

        let s = Session::begin(&host).await.unwrap();
        s.refresh(&host).await.unwrap();
        s.refresh(&host).await.unwrap();
        let live = live_sessions(&admin).await.unwrap();
        assert_eq!(live.get(s.id()), Some(&2), "{live:?}");
        assert!(!s.killed(&host).await.unwrap());
        let id = s.id().to_owned();
        s.end(&host).await.unwrap();
        assert!(!live_sessions(&admin).await.unwrap().contains_key(&id));
        assert_eq!(count(&admin, "sessions/").await, 4); // lease, .r1, .r2, .end

        // A marker planted for a running session: it no longer counts as
        // live for pruners, and it fails its own commit check.
        let victim = Session::begin(&admin).await.unwrap();
        store
            .put(
                &format!("sessions/{}.end", victim.id()),
                Bytes::from_static(b"planted"),
                PutMode::CreateOnly,
            )
            .await
            .unwrap();
        assert!(!live_sessions(&admin)
            .await
            .unwrap()
            .contains_key(victim.id()));
        assert!(victim.killed(&admin).await.unwrap());
    })
}
