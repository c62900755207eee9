//! A source that changes under the walker: a file swapped for a link (to a
//! file the user could not otherwise read) or for a FIFO between the stat and
//! the open, a FIFO in the tree, a file growing while it is read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn::cas::{
    backup, BackupOptions, BackupProgress, BackupResult, InitOptions, NodeKind, Repository,
    Snapshot, Tree, Warning, WarningKind,
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
        let NodeKind::Dir { subtree } = tree.find(name.as_bytes()).unwrap().kind else {
            panic!("{name:?} is not a directory")
        };
        tree = repo.load_tree(&subtree).await.unwrap();
    }
    tree
}

/// What to do to the source at the walker's two hook points.
enum Attack {
    /// Just before `victim` is opened: replace it with a symlink to `to`.
    Symlink { victim: PathBuf, to: PathBuf },
    /// Just before `victim` is opened: replace it with a FIFO.
    Fifo { victim: PathBuf },
    /// After the first bytes of `victim` are read: append to it.
    Grow { victim: PathBuf },
}

struct Hook {
    attack: Attack,
    reading: Mutex<Option<PathBuf>>,
    fired: Mutex<bool>,
    warned: Mutex<Vec<Warning>>,
}

fn mkfifo(p: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(p)
        .status()
        .unwrap();
    assert!(ok.success());
}

impl BackupProgress for Hook {
    fn file(&self, path: &Path, _size: u64) {
        *self.reading.lock().unwrap() = Some(path.to_owned());
        match &self.attack {
            Attack::Symlink { victim, to } if path == victim => {
                std::fs::remove_file(path).unwrap();
                std::os::unix::fs::symlink(to, path).unwrap();
            }
            Attack::Fifo { victim } if path == victim => {
                std::fs::remove_file(path).unwrap();
                mkfifo(path);
            }
            _ => {}
        }
    }
    fn bytes(&self, _n: u64) {
        let Attack::Grow { victim } = &self.attack else {
            return;
        };
        let mut fired = self.fired.lock().unwrap();
        if !*fired && self.reading.lock().unwrap().as_ref() == Some(victim) {
            *fired = true;
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(victim)
                .unwrap();
            f.write_all(&[7u8; 5000]).unwrap();
        }
    }
    fn warning(&self, w: &Warning) {
        self.warned.lock().unwrap().push(w.clone());
    }
}

/// Backs `src` up under `attack` on a thread of its own: a hang (a FIFO
/// opened for reading blocks until a writer comes) fails the test instead of
/// stalling it.
fn backup_under(src: PathBuf, attack: Attack) -> (BackupResult, Repository, Vec<Warning>) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        futures::executor::block_on(async {
            let repo = repo().await;
            let hook = Arc::new(Hook {
                attack,
                reading: Mutex::default(),
                fired: Mutex::default(),
                warned: Mutex::default(),
            });
            let done = backup(&repo, &[src], &BackupOptions::default(), hook.clone())
                .await
                .unwrap();
            let warned = hook.warned.lock().unwrap().clone();
            let _ = tx.send((done, repo, warned));
        })
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("the backup hung")
}

fn source() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.txt"), b"before").unwrap();
    std::fs::write(src.join("victim.txt"), b"the user's own file").unwrap();
    std::fs::write(src.join("z.bin"), vec![1u8; 3 << 20]).unwrap();
    let shadow = dir.path().join("shadow");
    std::fs::write(&shadow, b"root:$6$secret-hash:19000:0:99999:7:::").unwrap();
    (dir, src, shadow)
}

#[test]
fn a_file_swapped_for_a_symlink_before_the_open_is_not_followed() {
    let (_dir, src, shadow) = source();
    let victim = src.join("victim.txt");
    let attack = Attack::Symlink {
        victim: victim.clone(),
        to: shadow,
    };
    let (done, repo, warned) = backup_under(src.clone(), attack);
    futures::executor::block_on(async {
        let tree = tree_at(&repo, &done.snapshot, &src).await;
        // Not stored as a file at all (what was stat'ed is gone), and never
        // the contents of the link's target.
        let node = tree.find(b"victim.txt");
        assert!(node.is_none(), "{node:?}");
        assert!(tree.find(b"a.txt").is_some() && tree.find(b"z.bin").is_some());
    });
    let w: Vec<_> = warned.iter().filter(|w| w.path == victim).collect();
    assert_eq!(w.len(), 1, "{warned:?}");
    assert_eq!(w[0].kind, WarningKind::Skipped);
    assert!(w[0].message.contains("symlink"), "{}", w[0].message);
    assert_eq!(done.warnings, warned);
}

#[test]
fn a_file_swapped_for_a_fifo_before_the_open_does_not_hang() {
    let (_dir, src, _) = source();
    let victim = src.join("victim.txt");
    let (done, _repo, warned) = backup_under(
        src.clone(),
        Attack::Fifo {
            victim: victim.clone(),
        },
    );
    assert!(
        warned
            .iter()
            .any(|w| w.path == victim && w.kind == WarningKind::Skipped),
        "{warned:?}"
    );
    assert_eq!(done.snapshot.summary.files_new, 2);
}

#[test]
fn a_fifo_in_the_source_is_skipped() {
    let (_dir, src, _) = source();
    mkfifo(&src.join("pipe"));
    let (done, _repo, warned) = backup_under(
        src.clone(),
        Attack::Fifo {
            victim: PathBuf::new(),
        },
    );
    assert!(
        warned.iter().any(|w| w.path == src.join("pipe")),
        "{warned:?}"
    );
    assert_eq!(done.snapshot.summary.files_new, 3);
}

#[test]
fn a_file_growing_while_read_is_stored_with_a_warning() {
    let (_dir, src, _) = source();
    let victim = src.join("z.bin");
    let (done, repo, warned) = backup_under(
        src.clone(),
        Attack::Grow {
            victim: victim.clone(),
        },
    );
    let w: Vec<_> = warned.iter().filter(|w| w.path == victim).collect();
    assert_eq!(w.len(), 1, "{warned:?}");
    assert_eq!(w[0].kind, WarningKind::ChangedWhileRead);
    // Stored, and not counted as an error.
    assert_eq!(done.snapshot.summary.errors, 0);
    futures::executor::block_on(async {
        let tree = tree_at(&repo, &done.snapshot, &src).await;
        assert!(matches!(
            tree.find(b"z.bin").unwrap().kind,
            NodeKind::File { .. }
        ));
    });
    // Files that did not change raise nothing.
    assert!(warned.iter().all(|w| w.path == victim), "{warned:?}");
}
