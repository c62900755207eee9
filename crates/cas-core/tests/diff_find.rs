//! `diff_snapshots` and `find`: what changed between two backups, and which
//! snapshots hold a path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn::cas::{
    backup, diff_snapshots, find, BackupOptions, BackupResult, Change, InitOptions, NoProgress,
    Patterns, Repository,
};
use cairn_backends::MemoryBackend;
use cairn_crypto::KdfParams;

async fn run(repo: &Repository, dir: &Path) -> BackupResult {
    backup(
        repo,
        &[dir.to_owned()],
        &BackupOptions::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap()
}

fn set_mtime(p: &Path, secs: u64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    std::fs::File::open(p).unwrap().set_modified(t).unwrap();
}

#[test]
fn diff_reports_added_removed_and_which_kind_of_modification() {
    let src = tempfile::tempdir().unwrap();
    let root = src.path().canonicalize().unwrap();
    let p = |s: &str| root.join(s);
    std::fs::create_dir_all(p("keep/sub")).unwrap();
    std::fs::create_dir_all(p("gone")).unwrap();
    for (f, body) in [
        ("keep/same", "same"),
        ("keep/content", "old bytes"),
        ("keep/meta", "meta"),
        ("keep/sub/x", "x"),
        ("gone/a", "a"),
        ("becomes_dir", "file"),
    ] {
        std::fs::write(p(f), body).unwrap();
        set_mtime(&p(f), 1_700_000_000);
    }
    futures::executor::block_on(async {
        let repo = Repository::init(
            Arc::new(MemoryBackend::new()),
            b"pw",
            InitOptions::default().kdf(KdfParams::insecure_for_tests()),
        )
        .await
        .unwrap();
        let first = run(&repo, &root).await;

        std::fs::write(p("keep/content"), "new bytes").unwrap();
        set_mtime(&p("keep/content"), 1_700_000_000);
        std::fs::set_permissions(p("keep/meta"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::remove_dir_all(p("gone")).unwrap();
        std::fs::remove_file(p("becomes_dir")).unwrap();
        std::fs::create_dir_all(p("becomes_dir/inner")).unwrap();
        std::fs::write(p("becomes_dir/inner/f"), "f").unwrap();
        std::fs::write(p("keep/sub/new"), "n").unwrap();
        let second = run(&repo, &root).await;

        let diff = diff_snapshots(&repo, &first.snapshot, &second.snapshot)
            .await
            .unwrap();
        let got: Vec<(PathBuf, Change)> = diff
            .entries
            .iter()
            .filter(|e| e.path.starts_with(&root))
            // Directory mtimes change with their listings; files are what we check.
            .filter(|e| {
                !(e.node.mode & 0o170000 == 0o040000 && matches!(e.change, Change::Modified { .. }))
            })
            .map(|e| (e.path.clone(), e.change))
            .collect();
        let modified = |content, metadata| Change::Modified { content, metadata };
        assert_eq!(
            got,
            vec![
                (p("becomes_dir"), Change::Removed),
                (p("becomes_dir"), Change::Added),
                (p("becomes_dir/inner"), Change::Added),
                (p("becomes_dir/inner/f"), Change::Added),
                (p("gone"), Change::Removed),
                (p("gone/a"), Change::Removed),
                (p("keep/content"), modified(true, false)),
                (p("keep/meta"), modified(false, true)),
                (p("keep/sub/new"), Change::Added),
            ]
        );
        // Same snapshot on both sides: nothing.
        let none = diff_snapshots(&repo, &second.snapshot, &second.snapshot)
            .await
            .unwrap();
        assert!(none.entries.is_empty());

        let pats = Patterns::new([("gone/a", false)]).unwrap();
        let hits = find(&repo, &pats).await.unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].snapshot_id, first.snapshot_id.unwrap());
        assert_eq!(hits[0].path, p("gone/a"));

        let pats = Patterns::new([("keep/*", false)]).unwrap();
        let hits = find(&repo, &pats).await.unwrap();
        let in_second: Vec<&PathBuf> = hits
            .iter()
            .filter(|m| m.snapshot_id == second.snapshot_id.unwrap())
            .map(|m| &m.path)
            .collect();
        assert_eq!(
            in_second,
            vec![
                &p("keep/content"),
                &p("keep/meta"),
                &p("keep/same"),
                &p("keep/sub")
            ]
        );
        // `*` does not cross `/`: keep/sub/x and keep/sub/new are not matched.
        assert_eq!(hits.len(), 8, "{hits:?}");
    });
}
