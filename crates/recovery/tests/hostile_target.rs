//! A restore into a target someone else has prepared (or is changing while
//! the restore runs): links planted where the snapshot has directories and
//! files, hard links to outside files, kinds swapped. Nothing outside the
//! target may be created, written, chmod'ed, chown'ed or have its times
//! changed, in any overwrite mode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cairn::cas::{BackupOptions, Repository, Snapshot};
use cairn_backends::MemoryBackend;
use cairn_recovery::{plan_restore, restore, Overwrite, RestoreOptions, RestoreProgress};
use common::{assert_same_tree, backup_dir, init, random_bytes, restored};

const MODES: [Overwrite; 4] = [
    Overwrite::Always,
    Overwrite::IfChanged,
    Overwrite::IfNewer,
    Overwrite::Never,
];

/// What an outside tree looks like, to the byte: kind, mode, owner, mtime and
/// contents of every entry (links not followed).
/// (mode, uid, gid, mtime seconds, mtime nanoseconds, contents or link).
type Print = (u32, u32, u32, i64, i64, Vec<u8>);

fn fingerprint(root: &Path) -> BTreeMap<PathBuf, Print> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let body = if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
            Vec::new()
        } else if m.file_type().is_symlink() {
            std::fs::read_link(&p)
                .unwrap()
                .into_os_string()
                .into_encoded_bytes()
        } else {
            std::fs::read(&p).unwrap()
        };
        out.insert(
            p,
            (m.mode(), m.uid(), m.gid(), m.mtime(), m.mtime_nsec(), body),
        );
    }
    out
}

/// The source: a snapshot with files, directories and a symlink at the names
/// the attacker will occupy.
fn make_source(src: &Path) {
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/passwd"), b"root:x:0:0:restored\n").unwrap();
    std::fs::create_dir_all(src.join("dir/sub")).unwrap();
    std::fs::write(src.join("dir/file.txt"), b"in dir").unwrap();
    std::fs::write(src.join("dir/sub/deep.txt"), random_bytes(1, 700_000)).unwrap();
    std::fs::write(src.join("plain.txt"), b"plain").unwrap();
    std::fs::write(src.join("secret"), b"top secret").unwrap();
    std::fs::set_permissions(src.join("secret"), PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(src.join("big.bin"), random_bytes(2, 3_000_000)).unwrap();
    std::os::unix::fs::symlink("etc/passwd", src.join("link")).unwrap();
    // Old enough that every planted entry is newer (if-newer keeps them).
    for p in [
        "etc/passwd",
        "dir/file.txt",
        "plain.txt",
        "secret",
        "big.bin",
    ] {
        let t = filetime::FileTime::from_unix_time(1_600_000_000, 0);
        filetime::set_file_mtime(src.join(p), t).unwrap();
    }
}

/// Files outside the target, owned by someone else with a mode no snapshot
/// entry has, so any chown, chmod or write shows.
fn make_outside(outside: &Path) {
    std::fs::create_dir_all(outside.join("dir")).unwrap();
    std::fs::write(outside.join("passwd"), b"ORIGINAL").unwrap();
    std::fs::write(outside.join("hardlinked"), b"HARD LINKED").unwrap();
    for p in ["passwd", "hardlinked", "dir", ""] {
        std::os::unix::fs::chown(outside.join(p), Some(4321), Some(4321)).unwrap();
        let mode = if p == "dir" || p.is_empty() {
            0o751
        } else {
            0o640
        };
        std::fs::set_permissions(outside.join(p), PermissionsExt::from_mode(mode)).unwrap();
    }
}

/// Occupies the snapshot's names in the target with links and wrong kinds.
fn plant(base: &Path, outside: &Path) {
    std::fs::create_dir_all(base).unwrap();
    let sym = |to: &Path, at: &str| std::os::unix::fs::symlink(to, base.join(at)).unwrap();
    sym(&outside.join("dir"), "etc"); // a directory's place: link to an outside dir
    sym(&outside.join("passwd"), "plain.txt"); // a file's place: link to an outside file
    sym(&outside.join("dir"), "link"); // a symlink's place
    std::fs::hard_link(outside.join("hardlinked"), base.join("secret")).unwrap();
    std::fs::write(base.join("dir"), b"a file where a directory goes").unwrap();
    std::fs::create_dir_all(base.join("big.bin/inner")).unwrap(); // a directory where a file goes
    std::fs::write(base.join("big.bin/inner/x"), b"x").unwrap();
}

async fn snapshot_of(src: &Path) -> (Repository, Snapshot) {
    let repo = init(Arc::new(MemoryBackend::new())).await;
    let done = backup_dir(&repo, src, &BackupOptions::default()).await;
    (repo, done.snapshot)
}

#[test]
fn planted_links_and_kinds_change_nothing_outside_in_every_mode() {
    futures::executor::block_on(async {
        let src_dir = tempfile::tempdir().unwrap();
        let src = src_dir.path().join("src");
        make_source(&src);
        let (repo, snap) = snapshot_of(&src).await;
        for mode in MODES {
            let outside = tempfile::tempdir().unwrap();
            make_outside(outside.path());
            let target = tempfile::tempdir().unwrap();
            let base = restored(target.path(), &src);
            plant(&base, outside.path());
            let before = fingerprint(outside.path());

            let opts = RestoreOptions::new(target.path()).overwrite(mode);
            let plan = plan_restore(&repo, &snap, &opts).await.unwrap();
            let summary = restore(&repo, &plan, &opts, Arc::new(cairn_recovery::NoProgress))
                .await
                .unwrap_or_else(|e| panic!("{mode:?}: {e}"));

            assert_eq!(
                before,
                fingerprint(outside.path()),
                "{mode:?} changed the outside"
            );
            assert!(!outside.path().join("dir/passwd").exists(), "{mode:?}");
            match mode {
                // Every planted entry differs from the snapshot: all replaced.
                Overwrite::Always | Overwrite::IfChanged => assert_same_tree(&src, &base),
                // Planted entries are newer, or must not be touched: all kept.
                _ => {
                    assert!(base.join("etc").is_symlink(), "{mode:?}");
                    assert!(base.join("plain.txt").is_symlink(), "{mode:?}");
                    assert!(base.join("big.bin/inner/x").is_file(), "{mode:?}");
                    assert_eq!(
                        std::fs::read(base.join("dir")).unwrap(),
                        b"a file where a directory goes"
                    );
                    assert!(summary.kept >= 5, "{mode:?}: {summary:?}");
                }
            }
        }
    });
}

/// After the first pack, swaps every file and directory of the restore for a
/// link to the outside (as a hostile user sharing the target would).
struct Swapper {
    base: PathBuf,
    outside: PathBuf,
    done: Mutex<bool>,
}

impl RestoreProgress for Swapper {
    fn pack_done(&self) {
        let mut done = self.done.lock().unwrap();
        if *done {
            return;
        }
        *done = true;
        for rel in [
            "dir/sub/deep.txt",
            "dir/file.txt",
            "big.bin",
            "secret",
            "plain.txt",
        ] {
            let p = self.base.join(rel);
            let _ = std::fs::remove_file(&p);
            let _ = std::os::unix::fs::symlink(self.outside.join("passwd"), &p);
        }
        // A directory moved away and replaced by a link to an outside one.
        let sub = self.base.join("dir/sub");
        std::fs::rename(&sub, self.base.join("moved-sub")).unwrap();
        std::os::unix::fs::symlink(self.outside.join("dir"), &sub).unwrap();
    }
}

#[test]
fn entries_swapped_for_links_mid_restore_are_not_followed() {
    futures::executor::block_on(async {
        let src_dir = tempfile::tempdir().unwrap();
        let src = src_dir.path().join("src");
        make_source(&src);
        // Enough packs for the swap to come before most writes.
        for i in 0..6 {
            std::fs::write(src.join(format!("fill-{i}")), random_bytes(10 + i, 900_000)).unwrap();
        }
        let (repo, snap) = snapshot_of(&src).await;
        for mode in [Overwrite::Always, Overwrite::IfChanged] {
            let outside = tempfile::tempdir().unwrap();
            make_outside(outside.path());
            let before = fingerprint(outside.path());
            let target = tempfile::tempdir().unwrap();
            let base = restored(target.path(), &src);
            let opts = RestoreOptions::new(target.path())
                .overwrite(mode)
                .concurrency(1);
            let plan = plan_restore(&repo, &snap, &opts).await.unwrap();
            assert!(plan.packs.len() >= 4, "{} packs", plan.packs.len());
            let swapper = Arc::new(Swapper {
                base: base.clone(),
                outside: outside.path().to_owned(),
                done: Mutex::new(false),
            });
            // Errors are allowed (a directory turned into a link cannot be
            // entered); following the link is not.
            let _ = restore(&repo, &plan, &opts, swapper).await;
            assert_eq!(
                before,
                fingerprint(outside.path()),
                "{mode:?} changed the outside"
            );
            assert!(!outside.path().join("dir/deep.txt").exists());
        }
    });
}

/// Watches every file in the target at each step of the restore.
struct Watcher {
    target: PathBuf,
    /// Final mode by file name.
    finals: BTreeMap<String, u32>,
    /// The contents of the file that was there before (allowed its old mode).
    old: Vec<u8>,
    violations: Mutex<Vec<String>>,
}

impl Watcher {
    fn look(&self) {
        let mut stack = vec![self.target.clone()];
        while let Some(p) = stack.pop() {
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if m.is_dir() {
                if let Ok(rd) = std::fs::read_dir(&p) {
                    stack.extend(rd.filter_map(|e| e.ok()).map(|e| e.path()));
                }
                continue;
            }
            if !m.is_file() {
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let mode = m.mode() & 0o7777;
            // Temporary files get the mode of nothing yet: private.
            let allowed = self.finals.get(&name).copied().unwrap_or(0o600);
            if mode & !allowed != 0 && std::fs::read(&p).ok().as_ref() != Some(&self.old) {
                self.violations
                    .lock()
                    .unwrap()
                    .push(format!("{} was {mode:o}, final {allowed:o}", p.display()));
            }
        }
    }
}

impl RestoreProgress for Watcher {
    fn pack_done(&self) {
        self.look();
    }
    fn file_done(&self, _: &Path) {
        self.look();
    }
    fn bytes(&self, _: u64) {
        self.look();
    }
}

#[test]
fn a_private_file_is_never_visible_with_a_wider_mode() {
    futures::executor::block_on(async {
        let src_dir = tempfile::tempdir().unwrap();
        let src = src_dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        let secret = random_bytes(3, 4_000_000);
        std::fs::write(src.join("secret.key"), &secret).unwrap();
        std::fs::set_permissions(src.join("secret.key"), PermissionsExt::from_mode(0o600)).unwrap();
        std::fs::write(src.join("public.txt"), random_bytes(4, 2_000_000)).unwrap();
        std::fs::set_permissions(src.join("public.txt"), PermissionsExt::from_mode(0o644)).unwrap();
        let (repo, snap) = snapshot_of(&src).await;
        let finals: BTreeMap<String, u32> = [
            ("secret.key".to_string(), 0o600),
            ("public.txt".to_string(), 0o644),
        ]
        .into();

        for mode in [Overwrite::Always, Overwrite::IfChanged] {
            let target = tempfile::tempdir().unwrap();
            let base = restored(target.path(), &src);
            // An older, world-readable version is there: half of it matches,
            // so if-changed updates it in place.
            std::fs::create_dir_all(&base).unwrap();
            let mut old = secret.clone();
            old[2_500_000..].iter_mut().for_each(|b| *b ^= 0xff);
            std::fs::write(base.join("secret.key"), &old).unwrap();
            std::fs::set_permissions(base.join("secret.key"), PermissionsExt::from_mode(0o644))
                .unwrap();
            let watcher = Arc::new(Watcher {
                target: target.path().to_owned(),
                finals: finals.clone(),
                old: old.clone(),
                violations: Mutex::default(),
            });
            let opts = RestoreOptions::new(target.path())
                .overwrite(mode)
                .concurrency(1);
            let plan = plan_restore(&repo, &snap, &opts).await.unwrap();
            if mode == Overwrite::IfChanged {
                let f = plan
                    .files
                    .iter()
                    .find(|f| f.path.ends_with("secret.key"))
                    .unwrap();
                assert!(
                    matches!(f.action, cairn_recovery::Action::Update { .. }),
                    "{:?}",
                    f.action
                );
            }
            restore(&repo, &plan, &opts, watcher.clone()).await.unwrap();
            assert_same_tree(&src, &base);
            let v = watcher.violations.lock().unwrap();
            assert!(v.is_empty(), "{mode:?}: {v:#?}");
        }
    });
}
