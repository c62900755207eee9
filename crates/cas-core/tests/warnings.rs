//! Entries that cannot be read are reported as warnings and skipped; the
//! backup itself succeeds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use cairn::cas::{
    backup, BackupOptions, BackupProgress, InitOptions, NodeKind, Repository, Snapshot, Tree,
    Warning,
};
use cairn_backends::MemoryBackend;
use cairn_crypto::KdfParams;

async fn repo() -> Repository {
    let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
    Repository::init(Arc::new(MemoryBackend::new()), b"pw", opts)
        .await
        .unwrap()
}

/// The tree of the snapshot directory `dir` (an absolute path).
async fn tree_at(repo: &Repository, snap: &Snapshot, dir: &Path) -> Tree {
    let mut tree = repo.load_tree(&snap.tree.chunk_id()).await.unwrap();
    for c in dir.components() {
        let Component::Normal(name) = c else { continue };
        let node = tree
            .find(name.as_bytes())
            .unwrap_or_else(|| panic!("{name:?}"));
        let NodeKind::Dir { subtree } = node.kind else {
            panic!("{name:?} is not a directory")
        };
        tree = repo.load_tree(&subtree).await.unwrap();
    }
    tree
}

fn names(tree: &Tree) -> Vec<String> {
    tree.nodes
        .iter()
        .map(|n| String::from_utf8_lossy(&n.name).into_owned())
        .collect()
}

/// Deletes a file just before the archiver opens it, and records warnings.
#[derive(Default)]
struct Vanisher {
    victim: PathBuf,
    warned: Mutex<Vec<Warning>>,
}

impl BackupProgress for Vanisher {
    fn file(&self, path: &Path, _size: u64) {
        if path == self.victim {
            std::fs::remove_file(path).unwrap();
        }
    }
    fn warning(&self, w: &Warning) {
        self.warned.lock().unwrap().push(w.clone());
    }
}

#[test]
fn vanished_file_is_a_warning_and_skipped() {
    let src = tempfile::tempdir().unwrap();
    let victim = src.path().join("vanishing");
    std::fs::write(&victim, b"here a moment ago").unwrap();
    std::fs::write(src.path().join("stays"), b"stays").unwrap();
    let progress = Arc::new(Vanisher {
        victim: victim.clone(),
        ..Default::default()
    });
    futures::executor::block_on(async {
        let repo = repo().await;
        let done = backup(
            &repo,
            &[src.path().to_owned()],
            &BackupOptions::default(),
            progress.clone(),
        )
        .await
        .unwrap();
        assert_eq!(done.warnings.len(), 1, "{:?}", done.warnings);
        assert_eq!(done.warnings[0].path, victim);
        assert_eq!(*progress.warned.lock().unwrap(), done.warnings);
        let s = &done.snapshot.summary;
        assert_eq!((s.errors, s.files_new), (1, 1), "{s:?}");
        let tree = tree_at(&repo, &done.snapshot, src.path()).await;
        assert_eq!(names(&tree), vec!["stays"]);
    });
}

/// Whether permissions stop this process reading `path` (not as root).
fn unreadable(path: &Path) -> bool {
    std::fs::File::open(path).is_err()
}

#[test]
fn unreadable_entries_and_missing_paths_are_warnings() {
    let src = tempfile::tempdir().unwrap();
    let root = src.path();
    std::fs::write(root.join("ok"), b"fine").unwrap();
    let secret = root.join("secret");
    std::fs::write(&secret, b"no peeking").unwrap();
    std::fs::set_permissions(&secret, PermissionsExt::from_mode(0o000)).unwrap();
    let locked = root.join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::write(locked.join("inside"), b"x").unwrap();
    std::fs::set_permissions(&locked, PermissionsExt::from_mode(0o000)).unwrap();
    // A socket: a special file, skipped with a warning.
    let socket = root.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    // Outside `root` (a path below another one given is already covered).
    let missing = root.with_file_name(format!(
        "{}-does-not-exist",
        root.file_name().unwrap().to_string_lossy()
    ));
    // Root reads through mode 000: those two cases cannot be provoked then.
    let enforced = unreadable(&secret);

    let result = futures::executor::block_on(async {
        let repo = repo().await;
        let done = backup(
            &repo,
            &[root.to_owned(), missing.clone()],
            &BackupOptions::default(),
            Arc::new(cairn::cas::NoProgress),
        )
        .await
        .unwrap();
        let tree = tree_at(&repo, &done.snapshot, root).await;
        (done, names(&tree))
    });
    // Restore permissions so the temp dir can be removed.
    std::fs::set_permissions(&locked, PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&secret, PermissionsExt::from_mode(0o644)).unwrap();
    let (done, listed) = result;

    let warned: Vec<&Path> = done.warnings.iter().map(|w| w.path.as_path()).collect();
    assert!(warned.contains(&socket.as_path()), "{:?}", done.warnings);
    assert!(warned.contains(&missing.as_path()), "{:?}", done.warnings);
    if enforced {
        assert!(warned.contains(&secret.as_path()), "{:?}", done.warnings);
        assert!(warned.contains(&locked.as_path()), "{:?}", done.warnings);
        assert_eq!(done.warnings.len(), 4, "{:?}", done.warnings);
        // The unlistable directory is kept (empty); the unreadable file is not.
        assert_eq!(listed, vec!["locked", "ok"]);
        assert_eq!(done.snapshot.summary.files_new, 1);
    } else {
        assert_eq!(done.warnings.len(), 2, "{:?}", done.warnings);
        assert_eq!(listed, vec!["locked", "ok", "secret"]);
    }
    assert_eq!(done.snapshot.summary.errors, done.warnings.len() as u64);
}
