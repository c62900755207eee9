//! `delete` never crosses a mount point inside the target (issue #20 item
//! 10): an extraneous directory that is a mount point, or holds one, is not
//! emptied, and nothing on a file system other than the target's is
//! deleted; each is reported as a warning naming it. Needs root (to mount a
//! tmpfs); skipped with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use cairn::cas::BackupOptions;
use cairn_backends::MemoryBackend;
use cairn_recovery::RestoreOptions;
use common::{backup_dir, init, restore_to, restored};

/// A tmpfs mounted for the test's length (lazily unmounted on drop, also
/// when the test fails).
struct Mount(PathBuf);

impl Mount {
    fn at(dir: &Path) -> Option<Mount> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Mount(dir.to_owned())),
            Ok(o) => {
                let why = String::from_utf8_lossy(&o.stderr);
                eprintln!("skipped: cannot mount a tmpfs (run as root): {why}");
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount: {e}");
                None
            }
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn delete_leaves_what_is_mounted_inside_the_target() {
    futures::executor::block_on(async {
        let repo = init(Arc::new(MemoryBackend::new())).await;
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir(src.path().join("sub")).unwrap();
        std::fs::write(src.path().join("f"), b"file").unwrap();
        std::fs::write(src.path().join("sub/g"), b"in sub").unwrap();
        let snap = backup_dir(&repo, src.path(), &BackupOptions::default())
            .await
            .snapshot;
        let target = tempfile::tempdir().unwrap();
        let opts = RestoreOptions::new(target.path());
        restore_to(&repo, &snap, &opts).await.unwrap();
        let base = restored(target.path(), src.path());

        // An extraneous mount point; one deeper inside an extraneous
        // directory; the snapshot's own `sub` mounted over.
        let Some(m1) = Mount::at(&base.join("mnt")) else {
            return;
        };
        let m2 = Mount::at(&base.join("extra/inner")).unwrap();
        let m3 = Mount::at(&base.join("sub")).unwrap();
        for m in [&m1, &m2, &m3] {
            std::fs::write(m.0.join("precious"), b"not the restore's").unwrap();
        }
        std::fs::write(base.join("extra/plain"), b"extraneous").unwrap();
        std::fs::write(base.join("loose"), b"extraneous").unwrap();

        let summary = restore_to(&repo, &snap, &opts.clone().delete(true))
            .await
            .unwrap();
        for m in [&m1, &m2, &m3] {
            let p = m.0.join("precious");
            assert!(p.exists(), "{} was deleted across a mount", p.display());
        }
        // On the target's own file system, extraneous entries still go.
        assert!(!base.join("loose").exists());
        assert!(!base.join("extra/plain").exists());
        assert_eq!(std::fs::read(base.join("sub/g")).unwrap(), b"in sub");
        assert_eq!(std::fs::read(base.join("f")).unwrap(), b"file");
        // Each mount left in place is reported by name.
        let said = |what: &str| {
            summary
                .warnings
                .iter()
                .any(|w| w.message.contains("another file system") && w.to_string().contains(what))
        };
        assert!(said("mnt"), "{:?}", summary.warnings);
        assert!(said("extra/inner"), "{:?}", summary.warnings);
        assert!(said("sub/precious"), "{:?}", summary.warnings);
        drop((m1, m2, m3));
    });
}
