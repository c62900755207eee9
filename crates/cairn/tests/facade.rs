//! The facade as an embedder uses it: locations opened by the library,
//! nothing created on open, missing layout children reported, one backup at
//! a time per handle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_testkit::facade_backup;
use std::path::Path;
use std::sync::Arc;

use cairn::{
    BackupOptions, Error, InitOptions, KdfParams, Location, LocationWarning, NoProgress,
    Repository, RestoreOptions,
};
use futures::executor::block_on;

const PW: &[u8] = b"facade test";

fn init_opts() -> InitOptions {
    InitOptions::default().kdf(KdfParams::insecure_for_tests())
}

fn loc(p: &Path) -> Location {
    p.to_str().unwrap().parse().unwrap()
}

fn source(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), b"alpha").unwrap();
    let big: Vec<u8> = (0..400_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(src.join("sub/big.bin"), big).unwrap();
    src
}

#[test]
fn locations_parse_into_the_three_kinds() {
    assert_eq!(
        Location::parse("/srv/repo").unwrap(),
        Location::Local("/srv/repo".into())
    );
    assert_eq!(
        Location::parse("s3:http://h:1/b/p").unwrap(),
        Location::S3("s3:http://h:1/b/p".into())
    );
    assert_eq!(
        Location::parse("layout.toml").unwrap(),
        Location::Erasure("layout.toml".into())
    );
    assert!(matches!(
        Location::parse(""),
        Err(Error::InvalidLocation { .. })
    ));
}

#[test]
fn open_creates_nothing_and_init_does() {
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("not/there");
    block_on(async {
        let err = Repository::open(&loc(&repo_dir), PW).await.unwrap_err();
        assert!(matches!(err, Error::MissingDirectory { .. }), "{err}");
        assert!(!dir.path().join("not").exists());
        Repository::init(&loc(&repo_dir), PW, init_opts())
            .await
            .unwrap();
        assert!(repo_dir.join("config").is_file());
        Repository::open(&loc(&repo_dir), PW).await.unwrap();
    });
}

fn layout(dir: &Path, k: usize, m: usize) -> std::path::PathBuf {
    let mut text = format!("[erasure]\ndata = {k}\nparity = {m}\n");
    for i in 0..k + m {
        text.push_str(&format!("[[backends]]\nlocation = \"disk{i}\"\n"));
    }
    let path = dir.join("layout.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A missing layout child directory is never created by open: it is a lost
/// backend, named in the warnings, and every snapshot still restores.
#[test]
fn a_missing_layout_child_is_reported_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let layout = layout(dir.path(), 4, 2);
    block_on(async {
        let repo = Repository::init(&loc(&layout), PW, init_opts())
            .await
            .unwrap();
        assert!(repo.warnings().is_empty());
        let done = facade_backup(&repo, &src).await;
        drop(repo);
        std::fs::remove_dir_all(dir.path().join("disk3")).unwrap();

        let repo = Repository::open(&loc(&layout), PW).await.unwrap();
        assert!(
            !dir.path().join("disk3").exists(),
            "open must not create it"
        );
        assert!(
            matches!(
                repo.warnings(),
                [LocationWarning::MissingChild { path, .. }] if path.ends_with("disk3")
            ),
            "{:?}",
            repo.warnings()
        );
        assert!(repo.warnings()[0].to_string().contains("LOST"));
        let target = dir.path().join("out");
        let opts = RestoreOptions::new(&target);
        let plan = repo.plan_restore(&done.snapshot, &opts).await.unwrap();
        repo.restore(&plan, &opts, Arc::new(NoProgress))
            .await
            .unwrap();
        assert!(repo.verify(&done.snapshot, &target).await.unwrap().is_ok());
    });
}

#[test]
fn one_backup_at_a_time_per_handle() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    block_on(async {
        let repo = Repository::init(&loc(&dir.path().join("repo")), PW, init_opts())
            .await
            .unwrap();
        let paths = [src.clone()];
        let opts = BackupOptions::default();
        let (a, b) = futures::join!(
            repo.backup(&paths, &opts, Arc::new(NoProgress)),
            repo.backup(&paths, &opts, Arc::new(NoProgress)),
        );
        assert!(a.is_ok(), "{a:?}");
        assert!(matches!(b, Err(Error::BackupRunning)), "{b:?}");
        // Free again once the first has finished.
        repo.backup(&paths, &opts, Arc::new(NoProgress))
            .await
            .unwrap();
    });
}

/// Issue 10: a failed restore's error keeps the erasure layer's typed
/// error; an embedder downcasts it through the public error type.
#[test]
fn not_enough_shards_downcasts_from_a_failed_restore() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let layout = layout(dir.path(), 2, 1);
    block_on(async {
        let repo = Repository::init(&loc(&layout), PW, init_opts())
            .await
            .unwrap();
        let done = facade_backup(&repo, &src).await;
        // Two of three children lose their data shards; trees and index are
        // read before, so empty the packs only.
        for d in ["disk0", "disk1"] {
            let data = dir.path().join(d).join("data");
            std::fs::remove_dir_all(&data).unwrap();
            std::fs::create_dir(&data).unwrap();
        }
        let target = dir.path().join("out");
        let opts = RestoreOptions::new(&target);
        let err = match repo.plan_restore(&done.snapshot, &opts).await {
            Ok(plan) => repo
                .restore(&plan, &opts, Arc::new(NoProgress))
                .await
                .expect_err("two of three shards lost"),
            Err(e) => e,
        };
        let typed = err.find::<cairn::erasure::Error>();
        assert!(
            matches!(
                typed,
                Some(cairn::erasure::Error::NotEnoughShards {
                    have: 1,
                    need: 2,
                    ..
                })
            ),
            "{err:?}"
        );
    });
}

/// Issue 13: a handle opened with the metadata cache reads trees from it,
/// but `check` judges the storage: a tree pack lost from the repository
/// is reported even though the cache still holds a copy.
#[test]
fn check_reads_past_the_metadata_cache() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let repo_dir = dir.path().join("repo");
    let cache_dir = dir.path().join("cache");
    block_on(async {
        let repo = Repository::init(&loc(&repo_dir), PW, init_opts())
            .await
            .unwrap();
        repo.backup(&[src], &BackupOptions::default(), Arc::new(NoProgress))
            .await
            .unwrap();
        let opts =
            cairn::OpenOptions::default().cache(cairn::CacheOptions::default().dir(&cache_dir));
        let cached = Repository::open_with(&loc(&repo_dir), PW, opts.clone())
            .await
            .unwrap();
        let (_, snap) = cached
            .inner()
            .find_snapshot(&cairn::SnapshotQuery::latest())
            .await
            .unwrap();
        cached.inner().load_tree(&snap.tree).await.unwrap();
        let cache = cached.inner().cache().unwrap().dir().join("data");
        let fan = std::fs::read_dir(&cache).unwrap().next().unwrap().unwrap();
        let pack = std::fs::read_dir(fan.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let stored = repo_dir
            .join("data")
            .join(fan.file_name())
            .join(pack.file_name());
        std::fs::remove_file(&stored).unwrap();

        // Reads through the cache still see the tree...
        let again = Repository::open_with(&loc(&repo_dir), PW, opts)
            .await
            .unwrap();
        again.inner().load_tree(&snap.tree).await.unwrap();
        // ...but `check` reports the lost pack.
        let report = again.check(&cairn::CheckOptions::default()).await.unwrap();
        assert!(!report.errors.is_empty(), "{report:?}");
    });
}
