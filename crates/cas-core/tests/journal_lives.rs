//! Issue 20 item 9: the journal notices a deleted snapshot. A snapshot a
//! `backup` entry added and no `forget` removed must still have its record;
//! a forgotten snapshot brought back (tombstone deleted, record stored
//! again) is caught because the journal says it was forgotten. Both hold
//! after a checkpoint covered the entries that said so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod journal_support;

use std::sync::Arc;

use bytes::Bytes;
use cairn::cas::journal::{checkpoint, verify, JournalIssue, Operation};
use cairn::cas::prune::{forget, prune, prune_plan, PruneOptions, SnapshotFilter};
use cairn::cas::retention::{KeepPolicy, PlanOptions};
use cairn::cas::{snapshot_key, Repository, SnapshotId};
use cairn_backends::{Backend, MemoryBackend, PutMode};

use journal_support::*;

/// The id of the (only) entry whose operation `pick` selects.
async fn entry_of(repo: &Repository, pick: impl Fn(&Operation) -> bool) -> String {
    let found: Vec<String> = entries(repo)
        .await
        .into_iter()
        .filter(|(_, e)| pick(&e.op))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

async fn forget_all_but_last(repo: &Repository) {
    let f = forget(
        repo,
        &KeepPolicy::default().last(1),
        &PlanOptions::default(),
        &SnapshotFilter::default(),
        false,
    )
    .await
    .unwrap();
    assert_eq!(f.removed.len(), 1);
    let plan = prune_plan(repo, &PruneOptions::default()).await.unwrap();
    prune(repo, &PruneOptions::default(), plan).await.unwrap();
}

/// Stores `s`'s record again from `bytes` and deletes its tombstone.
async fn bring_back(store: &MemoryBackend, s: &SnapshotId, bytes: Bytes) {
    store
        .put(&snapshot_key(s), bytes, PutMode::CreateOnly)
        .await
        .unwrap();
    store.delete(&format!("tombstones/{s}")).await.unwrap();
}

#[test]
fn a_snapshot_deleted_without_a_forget_is_named() {
    block_on(async {
        let src = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryBackend::new());
        let (repo, s1, _) = three_entries(store.clone(), src.path()).await;
        clean(&repo).await;
        store.delete(&snapshot_key(&s1)).await.unwrap();
        let added = entry_of(
            &repo,
            |op| matches!(op, Operation::Backup { snapshot } if snapshot.as_str() == s1.as_str()),
        )
        .await;
        let r = verify(&repo, &[]).await.unwrap();
        assert_eq!(
            r.issues,
            vec![JournalIssue::DeletedSnapshot {
                snapshot: s1,
                entry: added
            }]
        );
        assert!(r.issues[0].to_string().contains(&s1.to_string()));
    })
}

#[test]
fn a_forgotten_snapshot_brought_back_is_named() {
    block_on(async {
        let src = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryBackend::new());
        let (repo, s1, _) = three_entries(store.clone(), src.path()).await;
        let record = store.get(&snapshot_key(&s1)).await.unwrap();
        forget_all_but_last(&repo).await;
        assert!(store.get(&snapshot_key(&s1)).await.is_err(), "pruned");
        clean(&repo).await;
        let forgot = entry_of(&repo, |op| matches!(op, Operation::Forget { .. })).await;
        bring_back(&store, &s1, record).await;
        assert!(
            repo.snapshot_ids().await.unwrap().contains(&s1),
            "live again"
        );
        let r = verify(&repo, &[]).await.unwrap();
        assert_eq!(
            r.issues,
            vec![JournalIssue::ForgottenSnapshotBack {
                snapshot: s1,
                entry: forgot
            }]
        );
    })
}

#[test]
fn a_checkpoint_keeps_what_was_added_and_what_was_forgotten() {
    block_on(async {
        let src = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryBackend::new());
        let (repo, s1, s2) = three_entries(store.clone(), src.path()).await;
        let record = store.get(&snapshot_key(&s1)).await.unwrap();
        forget_all_but_last(&repo).await;
        backup_with(&repo, src.path(), b"three").await;
        // Covers init, both backups, the forget and the prune.
        let cp = checkpoint(&repo, 1).await.unwrap();
        let cp = cp.entry.unwrap();
        let kept = entries(&repo).await;
        assert!(kept
            .iter()
            .all(|(_, e)| !matches!(e.op, Operation::Forget { .. })));
        clean(&repo).await;
        // s1's record comes back, s2's goes: the checkpoint says both.
        bring_back(&store, &s1, record).await;
        store.delete(&snapshot_key(&s2)).await.unwrap();
        let mut r = verify(&repo, &[]).await.unwrap().issues;
        r.sort_by(|a, b| a.subject().cmp(b.subject()));
        let mut want = vec![
            JournalIssue::ForgottenSnapshotBack {
                snapshot: s1,
                entry: cp.clone(),
            },
            JournalIssue::DeletedSnapshot {
                snapshot: s2,
                entry: cp,
            },
        ];
        want.sort_by(|a, b| a.subject().cmp(b.subject()));
        assert_eq!(r, want);
    })
}
