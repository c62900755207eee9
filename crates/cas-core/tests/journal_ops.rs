//! The audit journal in use: every operation that changes the repository
//! leaves an entry; concurrent writers leave a journal that verifies;
//! checkpoints bound it; a journal-write failure is handled as documented.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod journal_support;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use cairn::cas::copy::{copy, CopyOptions};
use cairn::cas::journal::{entry_key, journal_heads, verify, JournalIssue, JOURNAL_PREFIX};
use cairn::cas::prune::{forget, prune, prune_plan, PruneOptions, SnapshotFilter};
use cairn::cas::repair::{
    rebuild_index, repair_snapshots, RepairIndexOptions, RepairSnapshotsOptions,
};
use cairn::cas::retention::{KeepPolicy, PlanOptions};
use cairn::cas::{backup, BackupOptions, NoProgress, Repository, SnapshotQuery};
use cairn_backends::{Backend, LocalBackend, MemoryBackend, PutMode};
use futures::TryStreamExt;

use journal_support::*;

#[test]
fn every_operation_leaves_an_entry_and_the_journal_verifies() {
    block_on(async {
        let src = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryBackend::new());
        let mut repo = init(store.clone()).await;
        let s1 = backup_with(&repo, src.path(), b"version one").await;
        let s2 = backup_with(&repo, src.path(), b"version two").await;
        let added = repo.add_key(b"second", kdf()).await.unwrap();
        let old_key = repo.key_name().to_owned();
        let new_key = repo.change_password(b"pw2", kdf()).await.unwrap();
        let policy = KeepPolicy::default().last(1);
        let f = forget(
            &repo,
            &policy,
            &PlanOptions::default(),
            &SnapshotFilter::default(),
            false,
        )
        .await
        .unwrap();
        assert_eq!(f.removed, vec![s1]);
        let plan = prune_plan(&repo, &PruneOptions::default()).await.unwrap();
        let pruned = prune(&repo, &PruneOptions::default(), plan).await.unwrap();
        assert!(pruned.journal_entry.is_some());
        // Lose a pack: repair index drops it, repair snapshots rewrites s2.
        let pack: Vec<String> = store
            .list("data/")
            .map_ok(|m| m.key)
            .try_collect()
            .await
            .unwrap();
        for p in &pack {
            store.delete(p).await.unwrap();
        }
        rebuild_index(&repo, &RepairIndexOptions::default())
            .await
            .unwrap();
        let fixed = repair_snapshots(&repo, &RepairSnapshotsOptions::default().forget(true))
            .await
            .unwrap();
        let repaired = fixed.repaired[0].repaired.unwrap();
        // Copy into another repository: the entry is in the target.
        let target = init(Arc::new(MemoryBackend::new())).await;
        let copied = copy(&repo, &target, &CopyOptions::new()).await.unwrap();
        assert_eq!(copied.copied.len(), 1);

        let all = entries(&repo).await;
        assert_eq!(
            kinds(&all),
            [
                "init",
                "backup",
                "backup",
                "key_add",
                "key_passwd",
                "forget",
                "prune",
                "repair_index",
                "repair_snapshots"
            ]
        );
        // A chain (one writer): each entry's parent is the one before it.
        for (i, (_, e)) in all.iter().enumerate() {
            assert_eq!(e.seq, i as u64);
            if i > 0 {
                assert_eq!(e.parents, vec![all[i - 1].0.clone()]);
            }
            assert_eq!(e.repo, repo.config().id);
        }
        let ops: Vec<String> = all
            .iter()
            .map(|(_, e)| serde_json::to_string(&e.op).unwrap())
            .collect();
        assert!(
            ops[1].contains(s1.as_str()) && ops[2].contains(s2.as_str()),
            "{ops:?}"
        );
        assert!(ops[3].contains(&added));
        assert!(ops[4].contains(&old_key) && ops[4].contains(&new_key));
        assert!(ops[5].contains(s1.as_str()));
        assert!(ops[8].contains(repaired.as_str()));
        // Who: the key file that opened the repository at the time.
        assert_eq!(all[3].1.who.key, old_key);
        assert_eq!(all[5].1.who.key, new_key);
        assert_eq!(all[2].1.added.get("snapshots"), Some(&1));
        assert_eq!(all[5].1.removed.get("snapshots"), Some(&1));
        // Snapshots name the heads they saw.
        let snap2 = repo.load_snapshot(&repaired).await.unwrap();
        assert_eq!(snap2.journal, vec![all[1].0.clone()]);
        let report = clean(&repo).await;
        assert_eq!(report.entries, 9);
        assert_eq!(report.heads, vec![all[8].0.clone()]);
        assert_eq!(report.roots, vec![all[0].0.clone()]);

        let t = entries(&target).await;
        assert_eq!(kinds(&t), ["init", "copy"]);
        // The copy names the target's heads, not the source's.
        let (_, copied_snap) = target
            .find_snapshot(&SnapshotQuery::latest())
            .await
            .unwrap();
        assert_eq!(copied_snap.journal, vec![t[0].0.clone()]);
        clean(&target).await;
    })
}

#[test]
fn concurrent_writers_leave_a_journal_that_verifies() {
    let store = Arc::new(MemoryBackend::new());
    block_on(init(store.clone()));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                block_on(async {
                    let repo = Repository::open(store, PW).await.unwrap();
                    let src = tempfile::tempdir().unwrap();
                    let mut ids = Vec::new();
                    for v in 0..3 {
                        let content = format!("writer {w} version {v}");
                        ids.push(backup_with(&repo, src.path(), content.as_bytes()).await);
                    }
                    ids
                })
            })
        })
        .collect();
    let ids: Vec<_> = writers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    block_on(async {
        let repo = Repository::open(store.clone(), PW).await.unwrap();
        let r = clean(&repo).await;
        assert_eq!(r.entries, 1 + ids.len());
        assert_eq!(r.snapshots_checked, ids.len());
        assert_eq!(r.roots.len(), 1);
        // One more entry merges every head.
        repo.add_key(b"x", kdf()).await.unwrap();
        let heads = journal_heads(&repo).await.unwrap();
        assert_eq!(heads.len(), 1);
        clean(&repo).await;
    })
}

/// A repository written before the journal existed: no entries, snapshots
/// without journal links; it verifies, and the first journaled operation
/// starts the journal.
#[test]
fn a_repository_from_before_the_journal_verifies() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repo-v1");
    block_on(async {
        let store = Arc::new(LocalBackend::new(&fixture).unwrap());
        let repo = Repository::open(store, b"golden fixture").await.unwrap();
        let r = clean(&repo).await;
        assert_eq!((r.entries, r.snapshots_before_journal), (0, 1));
        // Copied to memory, it accepts a journaled backup.
        let mem = Arc::new(MemoryBackend::new());
        let fixture_store = LocalBackend::new(&fixture).unwrap();
        let keys: Vec<String> = fixture_store
            .list("")
            .map_ok(|m| m.key)
            .try_collect()
            .await
            .unwrap();
        assert!(!keys.iter().any(|k| k.starts_with(JOURNAL_PREFIX)));
        for k in keys {
            let v = fixture_store.get(&k).await.unwrap();
            mem.put(&k, v, PutMode::CreateOnly).await.unwrap();
        }
        let repo = Repository::open(mem, b"golden fixture").await.unwrap();
        let src = tempfile::tempdir().unwrap();
        backup_with(&repo, src.path(), b"new").await;
        let r = clean(&repo).await;
        assert_eq!((r.entries, r.roots.len()), (1, 1));
    })
}

#[test]
fn a_checkpoint_bounds_the_journal_and_it_still_verifies() {
    use cairn::cas::journal::checkpoint;
    block_on(async {
        let src = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryBackend::new());
        let repo = init(store.clone()).await;
        let mut snaps = Vec::new();
        for v in 0..5 {
            snaps.push(backup_with(&repo, src.path(), format!("v{v}").as_bytes()).await);
        }
        let pin = clean(&repo).await.heads;
        let old_root = entries(&repo).await[0].0.clone();
        // Keep the newest 2 generations: init and backups 0..=2 are covered.
        let r = checkpoint(&repo, 2).await.unwrap();
        assert_eq!((r.covered, r.deleted), (4, 4));
        let cp = r.entry.unwrap();
        let left = entries(&repo).await;
        assert_eq!(kinds(&left), ["backup", "backup", "checkpoint"]);
        // Every snapshot is still journaled, old pins and the snapshots'
        // heads (now covered) are still accepted.
        let report = verify(&repo, &[pin[0].clone(), old_root.clone()])
            .await
            .unwrap();
        assert!(report.is_clean(), "{:#?}", report.issues);
        assert_eq!(report.snapshots_checked, 5);
        assert_eq!(report.covered, 4);
        // Nothing more to cover: no second checkpoint.
        assert!(checkpoint(&repo, 2).await.unwrap().entry.is_none());
        // More history, and a second checkpoint chained to the first.
        backup_with(&repo, src.path(), b"v5").await;
        backup_with(&repo, src.path(), b"v6").await;
        let r2 = checkpoint(&repo, 1).await.unwrap();
        let all = entries(&repo).await;
        let second = all
            .iter()
            .find(|(id, _)| Some(id) == r2.entry.as_ref())
            .unwrap();
        assert!(second.1.parents.contains(&cp), "{:?}", second.1.parents);
        assert!(verify(&repo, std::slice::from_ref(&old_root))
            .await
            .unwrap()
            .is_clean());
        // Deleting a checkpoint is named: the next one lists it as a parent.
        store.delete(&entry_key(&cp)).await.unwrap();
        let r = verify(&repo, &[]).await.unwrap();
        assert!(
            r.issues.iter().any(|i| matches!(i,
                JournalIssue::MissingParent { parent, .. } if *parent == cp)),
            "{:#?}",
            r.issues
        );
        // A checkpoint is refused over a journal that does not verify.
        assert!(checkpoint(&repo, 1).await.is_err());
    })
}

/// A store whose journal refuses new entries while `refuse` is set.
#[derive(Debug, Default)]
struct NoJournal {
    inner: MemoryBackend,
    refuse: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl Backend for NoJournal {
    async fn put(&self, key: &str, data: Bytes, mode: PutMode) -> cairn_backends::Result<()> {
        if key.starts_with(JOURNAL_PREFIX) && self.refuse.load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(cairn_backends::Error::Backend {
                key: key.to_owned(),
                message: "refused".into(),
                transient: false,
            });
        }
        self.inner.put(key, data, mode).await
    }
    async fn get(&self, key: &str) -> cairn_backends::Result<Bytes> {
        self.inner.get(key).await
    }
    async fn get_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> cairn_backends::Result<Bytes> {
        self.inner.get_range(key, range).await
    }
    async fn stat(&self, key: &str) -> cairn_backends::Result<cairn_backends::ObjectMeta> {
        self.inner.stat(key).await
    }
    fn list<'a>(
        &'a self,
        prefix: &'a str,
    ) -> futures::stream::BoxStream<'a, cairn_backends::Result<cairn_backends::ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn delete(&self, key: &str) -> cairn_backends::Result<()> {
        self.inner.delete(key).await
    }
}

/// The documented choice: a backup whose snapshot is stored succeeds even
/// if its entry cannot be written (and says so); a forget whose entry
/// cannot be written removes nothing.
#[test]
fn a_journal_failure_keeps_the_backup_and_stops_the_forget() {
    use std::sync::atomic::Ordering;
    block_on(async {
        let src = tempfile::tempdir().unwrap();
        let store = Arc::new(NoJournal::default());
        let repo = init(store.clone()).await;
        let s1 = backup_with(&repo, src.path(), b"one").await;
        store.refuse.store(true, Ordering::SeqCst);
        std::fs::write(src.path().join("f"), b"two").unwrap();
        let r = backup(
            &repo,
            &[src.path().to_owned()],
            &BackupOptions::default().host("h"),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        assert!(matches!(&r.journal, Some(Err(_))), "{:?}", r.journal);
        repo.load_snapshot(&r.snapshot_id.unwrap()).await.unwrap();
        let report = verify(&repo, &[]).await.unwrap();
        assert_eq!(
            report.issues,
            vec![JournalIssue::UnjournaledSnapshot {
                snapshot: r.snapshot_id.unwrap()
            }]
        );
        let err = forget(
            &repo,
            &KeepPolicy::default().last(1),
            &PlanOptions::default(),
            &SnapshotFilter::default(),
            false,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
        repo.load_snapshot(&s1).await.unwrap();
        // Other operations report that their effect stands, unrecorded.
        let err = repo.add_key(b"other", kdf()).await.unwrap_err();
        assert!(
            matches!(&err, cairn::cas::Error::JournalWrite { operation, .. } if operation == "key_add"),
            "{err:?}"
        );
    })
}
