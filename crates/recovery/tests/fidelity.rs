//! Fidelity: hard links come back as links, extended attributes come back,
//! and the version 1 golden repository (trees without either) still restores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use cairn::cas::{BackupOptions, Repository};
use cairn_backends::{Backend, LocalBackend, MemoryBackend};
use cairn_recovery::{plan_restore, restore, RestoreOptions};
use common::*;

fn set_xattr(p: &Path, name: &str, value: &[u8]) -> bool {
    let f = std::fs::File::open(p).unwrap();
    rustix::fs::fsetxattr(&f, name, value, rustix::fs::XattrFlags::empty()).is_ok()
}

fn get_xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let f = std::fs::File::open(p).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = rustix::fs::fgetxattr(&f, name, &mut buf[..]).ok()?;
    Some(buf[..n].to_vec())
}

#[test]
fn hard_links_and_extended_attributes_round_trip() {
    futures::executor::block_on(async {
        let src_dir = tempfile::tempdir().unwrap();
        let src = src_dir.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("a"), random_bytes(1, 500_000)).unwrap();
        std::fs::hard_link(src.join("a"), src.join("b")).unwrap();
        std::fs::hard_link(src.join("a"), src.join("sub/c")).unwrap();
        std::fs::write(src.join("d"), random_bytes(1, 500_000)).unwrap(); // same bytes, not a link
        let xattrs = set_xattr(&src.join("d"), "user.cairn", b"file attr")
            && set_xattr(&src.join("sub"), "user.cairn.dir", b"dir attr");
        let repo = init(Arc::new(MemoryBackend::new())).await;
        let snap = backup_dir(&repo, &src, &BackupOptions::default())
            .await
            .snapshot;

        let target = tempfile::tempdir().unwrap();
        let opts = RestoreOptions::new(target.path());
        let plan = plan_restore(&repo, &snap, &opts).await.unwrap();
        assert_eq!(plan.files.iter().filter(|f| f.link_to.is_some()).count(), 2);
        let summary = restore(&repo, &plan, &opts, Arc::new(cairn_recovery::NoProgress))
            .await
            .unwrap();
        assert_eq!(summary.hardlinks, 2, "{summary:?}");
        let base = restored(target.path(), &src);
        assert_same_tree(&src, &base);
        let ino = |p: &str| std::fs::metadata(base.join(p)).unwrap().ino();
        assert_eq!(ino("a"), ino("b"));
        assert_eq!(ino("a"), ino("sub/c"));
        assert_ne!(ino("a"), ino("d"));
        assert_eq!(std::fs::metadata(base.join("a")).unwrap().nlink(), 3);
        if xattrs {
            assert_eq!(
                get_xattr(&base.join("d"), "user.cairn").as_deref(),
                Some(&b"file attr"[..])
            );
            assert_eq!(
                get_xattr(&base.join("sub"), "user.cairn.dir").as_deref(),
                Some(&b"dir attr"[..])
            );
        } else {
            eprintln!("user extended attributes unsupported here: not checked");
        }
    });
}

/// The version 1 fixture of cas-core (written before trees had links and
/// attributes) restores exactly.
#[test]
fn the_version_1_golden_repository_still_restores() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cas-core/tests/fixtures/repo-v1");
    let copy = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(&fixture)
        .arg(copy.path().join("repo"))
        .status()
        .unwrap();
    assert!(status.success());
    futures::executor::block_on(async {
        let store: Arc<dyn Backend> =
            Arc::new(LocalBackend::new(copy.path().join("repo")).unwrap());
        let repo = Repository::open(store, b"golden fixture").await.unwrap();
        let (_, snap) = repo.find_snapshot(&Default::default()).await.unwrap();
        let target = tempfile::tempdir().unwrap();
        let opts = RestoreOptions::new(target.path());
        restore_to(&repo, &snap, &opts).await.unwrap();
        let base = target.path().join(snap.paths[0].trim_start_matches('/'));
        assert_eq!(
            std::fs::read(base.join("a.txt")).unwrap(),
            b"hello golden\n"
        );
        assert_eq!(
            std::fs::read_link(base.join("link")).unwrap(),
            Path::new("a.txt")
        );
        let big: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 & 0x3f)
            .collect();
        assert!(std::fs::read(base.join("dir/b.bin")).unwrap() == big);
        // And again in place, if-changed: everything is already there.
        let opts = opts.overwrite(cairn_recovery::Overwrite::IfChanged);
        let plan = plan_restore(&repo, &snap, &opts).await.unwrap();
        assert_eq!(plan.fetch_bytes(), 0);
    });
}
