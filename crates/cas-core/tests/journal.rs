//! The audit journal under attack: deleting, altering, reordering or
//! re-parenting entries, and rolling the journal back, are detected and the
//! entry named. (Operations, concurrency and retention: `journal_ops.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod journal_support;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use cairn::cas::journal::{
    entry_key, journal_heads, load_journal, record_restore, verify, JournalIssue,
};
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_cas_core::Repository;
use futures::TryStreamExt;

use journal_support::*;

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
            vec![JournalIssue::UnjournaledSnapshot { snapshot: s2 }]
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

/// A handle reads each journal entry once: later operations fetch only the
/// entries written since (by it or by another process).
#[test]
fn a_handle_reads_each_entry_once() {
    block_on(async {
        let src = tempfile::tempdir().unwrap();
        let store = Arc::new(cairn_backends::testing::Counting::new(MemoryBackend::new()));
        let repo = init(store.clone()).await;
        for i in 0..5u8 {
            backup_with(&repo, src.path(), &[i; 10]).await;
        }
        // Appending lists the journal and reads no entry it has seen,
        // including those this handle wrote.
        store.reset();
        record_restore(&repo, "s", 1, 1).await.unwrap();
        let c = store.snapshot();
        assert_eq!((c.lists, c.gets + c.get_ranges, c.puts), (1, 0, 1), "{c:?}");
        // Another handle (another process) appends an entry: one GET.
        let other = Repository::open(store.clone(), PW).await.unwrap();
        backup_with(&other, src.path(), b"from elsewhere").await;
        store.reset();
        record_restore(&repo, "s", 1, 1).await.unwrap();
        assert_eq!(store.snapshot().get_ranges, 1);
        // Verification reads everything from storage, memo or not.
        store.reset();
        assert_eq!(load_journal(&repo).await.unwrap().entries.len(), 9);
        assert_eq!(store.snapshot().get_ranges, 9);
        assert_eq!(journal_heads(&repo).await.unwrap().len(), 1);
        clean(&repo).await;
    });
}
