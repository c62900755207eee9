//! The audit journal: every operation that changes the repository leaves an
//! entry; deleting, altering, reordering or re-parenting entries, and
//! rolling the journal back, are detected and named; concurrent writers
//! leave a journal that verifies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use cairn_backends::{Backend, LocalBackend, MemoryBackend, PutMode};
use cairn_cas_core::copy::{copy, CopyOptions};
use cairn_cas_core::journal::{
    entry_key, journal_heads, load_journal, verify, Entry, JournalIssue, JOURNAL_PREFIX,
};
use cairn_cas_core::prune::{forget, prune, prune_plan, PruneOptions, SnapshotFilter};
use cairn_cas_core::repair::{
    rebuild_index, repair_snapshots, RepairIndexOptions, RepairSnapshotsOptions,
};
use cairn_cas_core::retention::{KeepPolicy, PlanOptions};
use cairn_cas_core::{backup, BackupOptions, InitOptions, NoProgress, Repository};
use cairn_crypto::KdfParams;
use futures::TryStreamExt;

const PW: &[u8] = b"pw";

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

fn kdf() -> KdfParams {
    KdfParams::insecure_for_tests()
}

async fn init(store: Arc<dyn Backend>) -> Repository {
    let opts = InitOptions::default().kdf(kdf());
    Repository::init(store, PW, opts).await.unwrap()
}

/// Backs up `dir` after writing `content` into it; returns the snapshot id.
async fn backup_with(repo: &Repository, dir: &Path, content: &[u8]) -> String {
    std::fs::write(dir.join("f"), content).unwrap();
    let r = backup(
        repo,
        &[dir.to_owned()],
        &BackupOptions::default().host("h"),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    assert!(matches!(&r.journal, Some(Ok(_))), "{:?}", r.journal);
    r.snapshot_id
}

/// The entries by `seq`, as (id, kind).
async fn entries(repo: &Repository) -> Vec<(String, Entry)> {
    let j = load_journal(repo).await.unwrap();
    assert!(j.unreadable.is_empty(), "{:?}", j.unreadable);
    let mut all: Vec<(String, Entry)> = j.entries.into_iter().collect();
    all.sort_by_key(|(id, e)| (e.seq, id.clone()));
    all
}

fn kinds(all: &[(String, Entry)]) -> Vec<&'static str> {
    all.iter().map(|(_, e)| e.op.kind()).collect()
}

async fn clean(repo: &Repository) -> cairn_cas_core::journal::JournalReport {
    let r = verify(repo, &[]).await.unwrap();
    assert!(r.is_clean(), "{:#?}", r.issues);
    r
}

/// A repository with init, two backups (ids returned) and nothing else.
async fn three_entries(store: Arc<MemoryBackend>, dir: &Path) -> (Repository, String, String) {
    let repo = init(store).await;
    let s1 = backup_with(&repo, dir, b"one").await;
    let s2 = backup_with(&repo, dir, b"two").await;
    (repo, s1, s2)
}

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
        assert_eq!(f.removed, vec![s1.clone()]);
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
        let repaired = fixed.repaired[0].repaired.clone().unwrap();
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
        assert!(ops[1].contains(&s1) && ops[2].contains(&s2), "{ops:?}");
        assert!(ops[3].contains(&added));
        assert!(ops[4].contains(&old_key) && ops[4].contains(&new_key));
        assert!(ops[5].contains(&s1));
        assert!(ops[8].contains(&repaired));
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
        let (_, copied_snap) = target.find_snapshot("latest").await.unwrap();
        assert_eq!(copied_snap.journal, vec![t[0].0.clone()]);
        clean(&target).await;
    })
}

#[test]
fn a_deleted_entry_is_named() {
    block_on(async {
        let src = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryBackend::new());
        let (repo, _, _) = three_entries(store.clone(), src.path()).await;
        let all = entries(&repo).await;
        let middle = &all[1].0;
        store.delete(&entry_key(middle)).await.unwrap();
        let r = verify(&repo, &[]).await.unwrap();
        assert!(r.issues.contains(&JournalIssue::MissingParent {
            entry: all[2].0.clone(),
            parent: middle.clone(),
        }));
        // The second snapshot saw it as the head, too.
        assert!(r.issues.iter().any(
            |i| matches!(i, JournalIssue::MissingSnapshotHead { entry, .. } if entry == middle)
        ));
        assert!(r
            .issues
            .iter()
            .all(|i| i.to_string().contains(middle.as_str())
                || matches!(i, JournalIssue::UnjournaledSnapshot { .. })));
    })
}

#[test]
fn an_altered_entry_is_named() {
    block_on(async {
        let src = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryBackend::new());
        let (repo, s1, _) = three_entries(store.clone(), src.path()).await;
        let all = entries(&repo).await;
        let victim = entry_key(&all[1].0);
        let mut bytes = store.get(&victim).await.unwrap().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        store
            .put(&victim, Bytes::from(bytes), PutMode::Overwrite)
            .await
            .unwrap();
        let r = verify(&repo, &[]).await.unwrap();
        let altered: Vec<&JournalIssue> = r
            .issues
            .iter()
            .filter(|i| matches!(i, JournalIssue::Altered { .. }))
            .collect();
        assert_eq!(altered.len(), 1, "{:#?}", r.issues);
        assert_eq!(altered[0].subject(), all[1].0);
        assert!(altered[0].to_string().contains(&all[1].0));
        // What it recorded (the first backup) is no longer vouched for.
        assert!(r
            .issues
            .contains(&JournalIssue::UnjournaledSnapshot { snapshot: s1 }));
        assert_eq!(r.issues.len(), 2, "{:#?}", r.issues);
    })
}

#[test]
fn reordered_entries_are_named() {
    block_on(async {
        let src = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryBackend::new());
        let (repo, _, _) = three_entries(store.clone(), src.path()).await;
        let all = entries(&repo).await;
        // Swap the second and third entries' objects: each name now holds
        // the other's (authentic) bytes.
        let (a, b) = (entry_key(&all[1].0), entry_key(&all[2].0));
        let (ba, bb) = (store.get(&a).await.unwrap(), store.get(&b).await.unwrap());
        store.put(&a, bb, PutMode::Overwrite).await.unwrap();
        store.put(&b, ba, PutMode::Overwrite).await.unwrap();
        let r = verify(&repo, &[]).await.unwrap();
        let mut altered: Vec<&str> = r
            .issues
            .iter()
            .filter(|i| matches!(i, JournalIssue::Altered { .. }))
            .map(|i| i.subject())
            .collect();
        altered.sort();
        let mut want = [all[1].0.as_str(), all[2].0.as_str()];
        want.sort();
        assert_eq!(altered, want, "{:#?}", r.issues);
    })
}

#[test]
fn a_re_parented_entry_is_named() {
    block_on(async {
        let src = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryBackend::new());
        let (repo, _, _) = three_entries(store.clone(), src.path()).await;
        let all = entries(&repo).await;
        // Someone holding the key rewrites the last entry so that it
        // skips the middle one (its parent becomes the root), keeps its
        // seq, stores it under its new hash and removes the original.
        let mut forged = all[2].1.clone();
        forged.parents = vec![all[0].0.clone()];
        let json = serde_json::to_vec(&forged).unwrap();
        let mut bytes = b"CRNJ\x01".to_vec();
        let sealed = repo.keys().journal_key().seal(&json, b"CRNJ\x01").unwrap();
        bytes.extend(sealed);
        let id = blake3::hash(&bytes).to_hex().to_string();
        store
            .put(&entry_key(&id), Bytes::from(bytes), PutMode::CreateOnly)
            .await
            .unwrap();
        store.delete(&entry_key(&all[2].0)).await.unwrap();
        let r = verify(&repo, &[]).await.unwrap();
        assert_eq!(
            r.issues,
            vec![JournalIssue::BadSequence {
                entry: id.clone(),
                seq: 2,
                expected: 1
            }],
        );
        assert!(r.issues[0].to_string().contains(&id));
    })
}

/// Every object and its bytes.
async fn image(store: &MemoryBackend) -> BTreeMap<String, Bytes> {
    let keys: Vec<String> = store
        .list("")
        .map_ok(|m| m.key)
        .try_collect()
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for k in keys {
        out.insert(k.clone(), store.get(&k).await.unwrap());
    }
    out
}

async fn restore_image(store: &MemoryBackend, saved: &BTreeMap<String, Bytes>) {
    for (k, _) in image(store).await {
        if !saved.contains_key(&k) {
            store.delete(&k).await.unwrap();
        }
    }
    for (k, v) in saved {
        store.put(k, v.clone(), PutMode::Overwrite).await.unwrap();
    }
}

#[test]
fn a_rollback_is_detected_with_a_pin() {
    block_on(async {
        let src = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryBackend::new());
        let repo = init(store.clone()).await;
        backup_with(&repo, src.path(), b"one").await;
        let old = image(&store).await;
        backup_with(&repo, src.path(), b"two").await;
        // The client pins the heads it last saw.
        let pin = clean(&repo).await.heads;
        // The whole repository goes back to an older copy: consistent in
        // itself, so only the pin shows it.
        restore_image(&store, &old).await;
        let repo = Repository::open(store.clone(), PW).await.unwrap();
        assert!(verify(&repo, &[]).await.unwrap().is_clean());
        let r = verify(&repo, &pin).await.unwrap();
        assert_eq!(
            r.issues,
            vec![JournalIssue::PinMissing {
                entry: pin[0].clone()
            }]
        );
        assert!(r.issues[0].to_string().contains(&pin[0]));
    })
}

#[test]
fn deleting_the_newest_entries_is_detected_without_a_pin() {
    block_on(async {
        let src = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryBackend::new());
        let (repo, _, s2) = three_entries(store.clone(), src.path()).await;
        let all = entries(&repo).await;
        // The newest entry (the second backup's) has no child: deleting it
        // leaves the second snapshot unjournaled.
        store.delete(&entry_key(&all[2].0)).await.unwrap();
        let r = verify(&repo, &[]).await.unwrap();
        assert_eq!(
            r.issues,
            vec![JournalIssue::UnjournaledSnapshot {
                snapshot: s2.clone()
            }]
        );
        // Deleting the one before too: the snapshot saw it as the head.
        store.delete(&entry_key(&all[1].0)).await.unwrap();
        let r = verify(&repo, &[]).await.unwrap();
        assert!(r.issues.contains(&JournalIssue::MissingSnapshotHead {
            snapshot: s2,
            entry: all[1].0.clone()
        }));
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
    let ids: Vec<String> = writers
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
    use cairn_cas_core::journal::checkpoint;
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
        repo.load_snapshot(&r.snapshot_id).await.unwrap();
        let report = verify(&repo, &[]).await.unwrap();
        assert_eq!(
            report.issues,
            vec![JournalIssue::UnjournaledSnapshot {
                snapshot: r.snapshot_id.clone()
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
            matches!(&err, cairn_cas_core::Error::JournalWrite { operation, .. } if operation == "key_add"),
            "{err:?}"
        );
    })
}
