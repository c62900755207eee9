//! The lifecycle, key, inspection and dependency promises of the facade:
//! forget and prune through `cairn::Repository` reclaim space and leave
//! what is kept restorable; keys are added and listed; diff and find; and
//! the reference CLI needs no lower cairn crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn::{
    BackupOptions, Change, InitOptions, KdfParams, KeepPolicy, Location, NewKey, NoProgress,
    Patterns, PlanOptions, PruneOptions, Repository, RestoreOptions, Role, SnapshotQuery,
};
use futures::executor::block_on;

const PW: &[u8] = b"workflow test";

fn init_opts() -> InitOptions {
    InitOptions::default().kdf(KdfParams::insecure_for_tests())
}

fn loc(p: &Path) -> Location {
    p.to_str().unwrap().parse().unwrap()
}

/// Bytes that do not deduplicate against another seed's.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Total size of the files below `dir`.
fn disk_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let md = e.metadata().unwrap();
        total += match md.is_dir() {
            true => disk_bytes(&e.path()),
            false => md.len(),
        };
    }
    total
}

/// Every file below `dir`, by path relative to it, with its contents.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().into(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

async fn back_up(repo: &Repository, src: &Path) -> cairn::BackupResult {
    repo.backup(
        &[src.to_path_buf()],
        &BackupOptions::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap()
}

#[test]
fn forget_and_prune_through_the_facade_reclaim_space_and_keep_the_rest_restorable() {
    let dir = tempfile::tempdir().unwrap();
    let (repo_dir, src) = (dir.path().join("repo"), dir.path().join("src"));
    std::fs::create_dir_all(src.join("d")).unwrap();
    block_on(async {
        let repo = Repository::init(&loc(&repo_dir), PW, init_opts())
            .await
            .unwrap();
        std::fs::write(src.join("d/old.bin"), noise(1, 3 << 20)).unwrap();
        std::fs::write(src.join("kept.txt"), b"in both snapshots").unwrap();
        let first = back_up(&repo, &src).await;
        std::fs::remove_file(src.join("d/old.bin")).unwrap();
        std::fs::write(src.join("d/new.bin"), noise(2, 1 << 20)).unwrap();
        let second = back_up(&repo, &src).await;

        let report = repo
            .forget(
                &KeepPolicy::default().last(1),
                &PlanOptions::default(),
                &SnapshotQuery::latest(),
                false,
            )
            .await
            .unwrap();
        assert_eq!(report.removed, vec![first.snapshot_id.unwrap()]);
        let (left, bad) = repo.snapshots(&SnapshotQuery::latest()).await.unwrap();
        assert!(bad.is_empty());
        assert_eq!(
            left.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            vec![second.snapshot_id.unwrap()]
        );

        let before = disk_bytes(&repo_dir);
        let opts = PruneOptions::default();
        let plan = repo.prune_plan(&opts).await.unwrap();
        assert!(plan.bytes_freed >= 2 << 20, "{plan:?}");
        let done = repo.prune(&opts, plan).await.unwrap();
        assert!(done.packs_deleted > 0, "{done:?}");
        let after = disk_bytes(&repo_dir);
        assert!(
            before - after >= 2 << 20,
            "prune freed only {} bytes",
            before - after
        );

        let target = dir.path().join("out");
        let summary = repo
            .restore_snapshot(
                &second.snapshot,
                &RestoreOptions::new(&target),
                Arc::new(NoProgress),
            )
            .await
            .unwrap();
        assert_eq!(summary.files, 2);
        let restored = target.join(src.strip_prefix("/").unwrap());
        assert_eq!(files(&restored), files(&src));
        let check = repo.check(&Default::default()).await.unwrap();
        assert!(check.is_ok(), "{:?}", check.errors);
    });
}

#[test]
fn keys_added_through_the_facade_are_listed_and_open_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("repo");
    block_on(async {
        let repo = Repository::init(&loc(&repo_dir), PW, init_opts())
            .await
            .unwrap();
        let spec = NewKey::new(Role::Backup)
            .label("host-a")
            .kdf(KdfParams::insecure_for_tests());
        let name = repo.add_key(b"second password", &spec).await.unwrap();
        let keys = repo.list_keys().await.unwrap();
        assert_eq!(keys.len(), 2, "{keys:?}");
        let added = keys
            .iter()
            .find(|k| name.ends_with(&k.id))
            .expect("the new key is listed");
        assert_eq!(added.role, Some(Role::Backup));
        assert_eq!(added.label.as_deref(), Some("host-a"));
        assert!(!added.current);
        assert!(keys.iter().any(|k| k.current));

        let mut other = Repository::open(&loc(&repo_dir), b"second password")
            .await
            .unwrap();
        assert!(other.authority().is_some());
        // A backup key cannot change its own password (an admin replaces it).
        assert!(other
            .change_password(b"third", KdfParams::insecure_for_tests())
            .await
            .is_err());
        let mut admin = repo;
        let renamed = admin
            .change_password(b"new admin password", KdfParams::insecure_for_tests())
            .await
            .unwrap();
        assert!(Repository::open(&loc(&repo_dir), PW).await.is_err());
        Repository::open(&loc(&repo_dir), b"new admin password")
            .await
            .unwrap();
        assert_ne!(renamed, name);
    });
}

#[test]
fn diff_find_and_walk_through_the_facade() {
    let dir = tempfile::tempdir().unwrap();
    let (repo_dir, src) = (dir.path().join("repo"), dir.path().join("src"));
    std::fs::create_dir_all(src.join("etc")).unwrap();
    block_on(async {
        let repo = Repository::init(&loc(&repo_dir), PW, init_opts())
            .await
            .unwrap();
        std::fs::write(src.join("etc/app.conf"), b"v1").unwrap();
        std::fs::write(src.join("gone.txt"), b"bye").unwrap();
        let a = back_up(&repo, &src).await;
        std::fs::write(src.join("etc/app.conf"), b"version 2").unwrap();
        std::fs::remove_file(src.join("gone.txt")).unwrap();
        std::fs::write(src.join("etc/new.conf"), b"new").unwrap();
        let b = back_up(&repo, &src).await;

        let diff = repo.diff(&a.snapshot, &b.snapshot).await.unwrap();
        // The two directories changed too (their mtimes): metadata only.
        assert_eq!(diff.counts(), (1, 1, 3), "{diff:?}");
        for dir in ["src", "etc"] {
            let e = diff.entries.iter().find(|e| e.path.ends_with(dir)).unwrap();
            assert_eq!(
                e.change,
                Change::Modified {
                    content: false,
                    metadata: true
                }
            );
        }
        let change_of = |name: &str| {
            diff.entries
                .iter()
                .find(|e| e.path.ends_with(name))
                .map(|e| e.change)
        };
        assert_eq!(change_of("new.conf"), Some(Change::Added));
        assert_eq!(change_of("gone.txt"), Some(Change::Removed));
        assert!(matches!(
            change_of("app.conf"),
            Some(Change::Modified { content: true, .. })
        ));

        let pats = Patterns::new([("*.conf", false)]).unwrap();
        let hits = repo.find(&pats).await.unwrap();
        let mut found: Vec<(String, bool)> = hits
            .iter()
            .map(|m| {
                let name = m.path.file_name().unwrap().to_string_lossy().into_owned();
                (name, Some(&m.snapshot_id) == b.snapshot_id.as_ref())
            })
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                ("app.conf".to_owned(), false),
                ("app.conf".to_owned(), true),
                ("new.conf".to_owned(), true)
            ]
        );

        let mut walked = Vec::new();
        repo.walk(&b.snapshot, |p, _| walked.push(p.to_path_buf()))
            .await
            .unwrap();
        assert!(walked.iter().any(|p| p.ends_with("etc/new.conf")));
        assert!(!walked.iter().any(|p| p.ends_with("gone.txt")));
        let stats = repo.snapshot_stats(&b.snapshot).await.unwrap();
        assert_eq!((stats.files, stats.bytes), (2, 12));
    });
}

/// The reference CLI is glue over the facade: among the workspace's
/// crates it depends on `cairn` alone.
#[test]
fn the_cli_depends_on_no_lower_cairn_crate() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cli/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    let deps = doc["dependencies"].as_table().expect("[dependencies]");
    let cairn_deps: Vec<&String> = deps.keys().filter(|k| k.starts_with("cairn")).collect();
    assert_eq!(cairn_deps, ["cairn"], "{}", manifest.display());
}

/// Prune plans name packs by `PackId` and repair names unreadable records
/// by a typed reason: the ids are the stored objects' names.
#[test]
fn prune_and_repair_reports_hold_typed_ids() {
    let dir = tempfile::tempdir().unwrap();
    let (repo_dir, src) = (dir.path().join("repo"), dir.path().join("src"));
    std::fs::create_dir_all(&src).unwrap();
    block_on(async {
        let repo = Repository::init(&loc(&repo_dir), PW, init_opts())
            .await
            .unwrap();
        std::fs::write(src.join("a.bin"), noise(3, 1 << 20)).unwrap();
        back_up(&repo, &src).await;
        std::fs::write(src.join("a.bin"), noise(4, 1 << 20)).unwrap();
        let kept = back_up(&repo, &src).await;
        repo.forget(
            &KeepPolicy::default().last(1),
            &PlanOptions::default(),
            &SnapshotQuery::latest(),
            false,
        )
        .await
        .unwrap();
        let opts = PruneOptions::default();
        let plan = repo.prune_plan(&opts).await.unwrap();
        let doomed: Vec<cairn::PackId> = plan.packs_to_delete.clone();
        assert!(!doomed.is_empty());
        for p in &doomed {
            assert!(repo_dir.join(p.key()).is_file(), "{p}");
        }
        repo.prune(&opts, plan).await.unwrap();
        for p in &doomed {
            assert!(!repo_dir.join(p.key()).exists(), "{p}");
        }

        // A record whose bytes no longer match its name cannot be repaired.
        let id = kept.snapshot_id.unwrap();
        let record = repo_dir.join(format!("snapshots/{id}"));
        let mut bytes = std::fs::read(&record).unwrap();
        bytes[40] ^= 1;
        std::fs::write(&record, bytes).unwrap();
        let report = repo
            .repair_snapshots(&cairn::RepairSnapshotsOptions::default().dry_run(true))
            .await
            .unwrap();
        match report.unreadable.as_slice() {
            [cairn::Unrepairable::Damaged { object, .. }] => {
                assert_eq!(object, &format!("snapshots/{id}"))
            }
            other => panic!("{other:?}"),
        }
        assert!(report.unreadable[0].to_string().contains(id.as_str()));
    });
}
