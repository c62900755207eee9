//! Roles that survive a compromised backup host (issue 14, borg #1689).
//!
//! A backup host holds a `backup` key and writes through an append-only
//! store. Compromised, it knows the master key, so it can forge anything
//! sealed — but not the admin authority's signature. An admin's automated
//! prune must then delete nothing the host "removed".
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_testkit::snapshot_files;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use cairn::cas::prune::{forget, prune, prune_plan, PruneOptions, SnapshotFilter};
use cairn::cas::retention::{KeepPolicy, PlanOptions};
use cairn::cas::{
    backup, BackupOptions, Error, InitOptions, NewKey, NoProgress, Repository, Role, SnapshotId,
};
use cairn_backends::{AppendOnly, Backend, MemoryBackend, PutMode};
use cairn_crypto::{ChunkId, KdfParams};
use futures::TryStreamExt;

mod support;

fn kdf() -> KdfParams {
    KdfParams::insecure_for_tests()
}

async fn names(store: &dyn Backend, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = store
        .list(prefix)
        .map_ok(|m| m.key)
        .try_collect()
        .await
        .unwrap();
    v.sort();
    v
}

async fn back_up(repo: &Repository, dir: &Path, content: &[u8]) -> (SnapshotId, ChunkId) {
    std::fs::write(dir.join("data.bin"), content).unwrap();
    let done = backup(
        repo,
        &[dir.to_owned()],
        &BackupOptions::default().host("web1"),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    (done.snapshot_id.unwrap(), done.snapshot.tree.chunk_id())
}

fn content(seed: u8) -> Vec<u8> {
    (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed)
        .collect()
}

/// Set up: an admin creates the repository and a backup key; the backup
/// host opens it through an append-only store.
async fn setup() -> (Arc<MemoryBackend>, Repository, Repository) {
    let store = Arc::new(MemoryBackend::new());
    let opts = InitOptions::default().kdf(kdf()).pack_size(1 << 20);
    let admin = Repository::init(store.clone(), b"admin", opts)
        .await
        .unwrap();
    admin
        .add_key_with(b"backup", &NewKey::backup().kdf(kdf()).label("root@web1"))
        .await
        .unwrap();
    let host_store: Arc<dyn Backend> = Arc::new(AppendOnly::new(store.clone()));
    let host = Repository::open(host_store, b"backup").await.unwrap();
    assert_eq!(host.role(), Role::Backup);
    (store, admin, host)
}

#[test]
fn a_backup_key_over_append_only_backs_up_but_cannot_delete_anything() {
    futures::executor::block_on(async {
        let (store, admin, host) = setup().await;
        let dir = tempfile::tempdir().unwrap();
        let (a, root_a) = back_up(&host, dir.path(), &content(1)).await;
        let (b, _) = back_up(&host, dir.path(), &content(2)).await;
        assert_ne!(a, b);
        // Both backups refreshed and ended their sessions with create-only
        // objects: an end marker each, no live lease.
        let sessions = names(&*store, "sessions/").await;
        assert_eq!(
            sessions.iter().filter(|k| k.ends_with(".end")).count(),
            2,
            "{sessions:?}"
        );

        // Not one object can be deleted or overwritten by the host.
        let before = names(&*store, "").await;
        for key in &before {
            let e = host.backend().delete(key).await.unwrap_err();
            assert!(e.is_not_permitted(), "{key}: {e}");
            let e = host
                .backend()
                .put(key, Bytes::from_static(b"x"), PutMode::Overwrite)
                .await
                .unwrap_err();
            assert!(e.is_not_permitted(), "{key}: {e}");
        }
        assert_eq!(names(&*store, "").await, before);

        // The library refuses the host's deletions with a typed error too.
        let all = PlanOptions::default().allow_remove_all(true);
        let refused = forget(
            &host,
            &KeepPolicy::default(),
            &all,
            &SnapshotFilter::default(),
            false,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                refused,
                Error::NotAdmin {
                    role: Role::Backup,
                    ..
                }
            ),
            "{refused}"
        );
        let refused = prune_plan(&host, &PruneOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(refused, Error::NotAdmin { .. }), "{refused}");

        // The admin's prune (full access) deletes the ended sessions'
        // objects, and the snapshots read back.
        let plan = prune_plan(&admin, &PruneOptions::default()).await.unwrap();
        let report = prune(&admin, &PruneOptions::default(), plan).await.unwrap();
        assert_eq!(report.leases_cleaned, sessions.len(), "{report:?}");
        assert!(names(&*store, "sessions/").await.is_empty());
        let reader = Repository::open(store.clone(), b"admin").await.unwrap();
        assert_eq!(reader.snapshots().await.unwrap().len(), 2);
        assert_eq!(
            snapshot_files(&reader, root_a).await[&b"data.bin"[..]],
            content(1)
        );
    })
}

/// Issue #20 item 10: a checkpoint deletes journal entries, so a backup
/// key (even over storage that lets it delete) is refused by role.
#[test]
fn a_backup_key_cannot_checkpoint_the_journal() {
    futures::executor::block_on(async {
        let (store, _admin, _) = setup().await;
        let host = Repository::open(store.clone(), b"backup").await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        for i in 0..3 {
            back_up(&host, dir.path(), &content(i)).await;
        }
        let before = names(&*store, "journal/").await;
        assert!(before.len() >= 3, "{before:?}");
        let refused = cairn::cas::journal::checkpoint(&host, 1).await.unwrap_err();
        assert!(
            matches!(
                refused,
                Error::NotAdmin {
                    operation: "audit checkpoint",
                    role: Role::Backup,
                }
            ),
            "{refused}"
        );
        assert!(
            refused.to_string().contains("needs an admin key"),
            "{refused}"
        );
        assert_eq!(names(&*store, "journal/").await, before);
    })
}

/// borg #1689: a compromised backup host marks every snapshot deleted; an
/// automated admin prune runs; nothing is lost.
#[test]
fn borg_1689_forged_removals_do_not_make_an_admin_prune_delete_history() {
    futures::executor::block_on(async {
        let (store, admin, host) = setup().await;
        let dir = tempfile::tempdir().unwrap();
        let (a, root_a) = back_up(&host, dir.path(), &content(1)).await;
        let (b, root_b) = back_up(&host, dir.path(), &content(2)).await;
        let (c, root_c) = back_up(&host, dir.path(), &content(3)).await;
        let packs_before = names(&*store, "data/").await;

        // The attack. (1) An admin key file under an authority of its own
        // (the host knows the master key from its own key file), and a
        // forget through it: the library takes the forged "admin" at its
        // word, signs tombstones for `a` and `b` with the forged authority,
        // and over the append-only store leaves the records in place.
        let planted = support::planted_admin(&store, b"backup").await;
        let host_store: Arc<dyn Backend> = Arc::new(AppendOnly::new(store.clone()));
        let forged = Repository::open(host_store, b"evil").await.unwrap();
        assert_eq!(forged.role(), Role::Admin);
        let keep_one = KeepPolicy::default().last(1);
        let report = forget(
            &forged,
            &keep_one,
            &PlanOptions::default(),
            &SnapshotFilter::default(),
            false,
        )
        .await
        .unwrap();
        assert_eq!(report.removed.len(), 2);
        assert_eq!(forged.snapshots().await.unwrap().len(), 1);
        // (2) An unsigned tombstone for `c`: it can seal, not sign.
        host.backend()
            .put(
                &format!("tombstones/{c}"),
                Bytes::from_static(b"CRNT\x01 not signed"),
                PutMode::CreateOnly,
            )
            .await
            .unwrap();
        // (3) It cannot delete the records themselves.
        let e = host
            .backend()
            .delete(&format!("snapshots/{a}"))
            .await
            .unwrap_err();
        assert!(e.is_not_permitted());

        // The automated admin prune: it ignores every forged removal.
        let reader = Repository::open(store.clone(), b"admin").await.unwrap();
        let plan = prune_plan(&reader, &PruneOptions::default()).await.unwrap();
        assert_eq!(plan.snapshots, 3, "{plan:?}");
        let mut forged_names: Vec<String> = [&a, &b, &c]
            .iter()
            .map(|id| format!("tombstones/{id}"))
            .collect();
        forged_names.sort();
        assert_eq!(plan.ignored_tombstones, forged_names);
        assert!(plan.packs_to_delete.is_empty(), "{plan:?}");
        let report = prune(&reader, &PruneOptions::default(), plan)
            .await
            .unwrap();
        assert_eq!(
            (report.packs_deleted, report.records_deleted),
            (0, 0),
            "{report:?}"
        );
        assert_eq!(names(&*store, "data/").await, packs_before);
        let ids: Vec<SnapshotId> = reader
            .snapshots()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.0)
            .collect();
        assert!(ids.contains(&a) && ids.contains(&b) && ids.contains(&c));
        assert_eq!(
            snapshot_files(&reader, root_a).await[&b"data.bin"[..]],
            content(1)
        );
        assert_eq!(
            snapshot_files(&reader, root_b).await[&b"data.bin"[..]],
            content(2)
        );
        assert_eq!(
            snapshot_files(&reader, root_c).await[&b"data.bin"[..]],
            content(3)
        );
        // The admin sees the planted key for what it is.
        let k = reader.find_key(&planted).await.unwrap();
        assert_eq!((k.role, k.endorsed), (Some(Role::Admin), Some(false)));

        // A real admin forget of `a` replaces the forged tombstone, and its
        // prune reclaims `a`'s data only; `b` and `c` still restore.
        let keep_two = KeepPolicy::default().last(2);
        let report = forget(
            &admin,
            &keep_two,
            &PlanOptions::default(),
            &SnapshotFilter::default(),
            false,
        )
        .await
        .unwrap();
        assert_eq!(report.removed, vec![a]);
        let plan = prune_plan(&admin, &PruneOptions::default()).await.unwrap();
        assert_eq!(plan.ignored_tombstones.len(), 2);
        let report = prune(&admin, &PruneOptions::default(), plan).await.unwrap();
        assert!(report.packs_deleted > 0, "{report:?}");
        let reader = Repository::open(store.clone(), b"admin").await.unwrap();
        let left: Vec<SnapshotId> = reader
            .snapshots()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.0)
            .collect();
        assert_eq!(left, vec![b, c]);
        assert_eq!(
            snapshot_files(&reader, root_b).await[&b"data.bin"[..]],
            content(2)
        );
        assert_eq!(
            snapshot_files(&reader, root_c).await[&b"data.bin"[..]],
            content(3)
        );
        // The host's own listing agrees (it verifies with the authority
        // its key file names).
        let host_ids: Vec<SnapshotId> = host
            .snapshots()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.0)
            .collect();
        assert_eq!(host_ids, vec![b, c]);
    })
}
