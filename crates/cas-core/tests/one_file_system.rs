//! `one_file_system`: a directory on another file system below the backed-up
//! path is left out. Needs a mount: runs as root (a tmpfs is mounted in a
//! temporary directory and unmounted after), and is skipped otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use cairn::cas::{
    backup, BackupOptions, Filter, InitOptions, NoProgress, NodeKind, Repository, Snapshot, Tree,
};
use cairn_backends::MemoryBackend;
use cairn_crypto::KdfParams;

/// Unmounts on drop, also when the test fails.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path) -> Option<Mount> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "cairn-test", at.to_str()?])
            .status()
            .ok()?
            .success();
        ok.then(|| Mount(at.to_owned()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

async fn tree_at(repo: &Repository, snap: &Snapshot, dir: &Path) -> Tree {
    let mut tree = repo.load_tree(&snap.tree.chunk_id()).await.unwrap();
    for c in dir.components() {
        let Component::Normal(name) = c else { continue };
        let NodeKind::Dir { subtree } = tree.find(name.as_bytes()).unwrap().kind else {
            panic!("{name:?} is not a directory")
        };
        tree = repo.load_tree(&subtree).await.unwrap();
    }
    tree
}

#[test]
fn another_file_system_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("mnt")).unwrap();
    std::fs::write(src.join("here.txt"), b"on the source's file system").unwrap();
    let Some(_mount) = Mount::tmpfs(&src.join("mnt")) else {
        eprintln!("cannot mount a tmpfs here (not root?): skipped");
        return;
    };
    std::fs::write(src.join("mnt/there.txt"), b"on another file system").unwrap();
    futures::executor::block_on(async {
        let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
        let repo = Repository::init(Arc::new(MemoryBackend::new()), b"pw", opts)
            .await
            .unwrap();
        for (stay, want_mnt) in [(false, true), (true, false)] {
            let opts = BackupOptions::default().filter(Filter::default().one_file_system(stay));
            let done = backup(
                &repo,
                std::slice::from_ref(&src),
                &opts,
                Arc::new(NoProgress),
            )
            .await
            .unwrap();
            let tree = tree_at(&repo, &done.snapshot, &src).await;
            assert!(tree.find(b"here.txt").is_some());
            assert_eq!(
                tree.find(b"mnt").is_some(),
                want_mnt,
                "one_file_system={stay}"
            );
        }
    });
}
