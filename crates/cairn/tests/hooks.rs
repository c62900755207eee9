//! Application hooks: freeze before a backup, thaw after it whatever
//! happened, validate after a restore; a refusing hook stops what it guards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_testkit::facade_backup;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cairn::{
    BackupOptions, BackupOutcome, Error, HookError, Hooks, InitOptions, KdfParams, NoProgress,
    Repository, RestoreOptions, RestoreSummary,
};
use futures::executor::block_on;

const PW: &[u8] = b"hooks test";

/// Records every call; refuses where told to.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    refuse_before: bool,
    refuse_after_restore: bool,
}

#[async_trait]
impl Hooks for Recorder {
    async fn before_backup(&self, paths: &[PathBuf]) -> Result<(), HookError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("freeze {}", paths.len()));
        match self.refuse_before {
            true => Err("database would not freeze".into()),
            false => Ok(()),
        }
    }
    async fn after_backup(
        &self,
        _: &[PathBuf],
        outcome: BackupOutcome<'_>,
    ) -> Result<(), HookError> {
        let what = match outcome {
            BackupOutcome::Stored(done) => {
                format!("thaw stored {}", done.snapshot.summary.files_new)
            }
            BackupOutcome::Failed(_) => "thaw failed".to_owned(),
            _ => "thaw ?".to_owned(),
        };
        self.calls.lock().unwrap().push(what);
        Ok(())
    }
    async fn after_restore(&self, target: &Path, s: &RestoreSummary) -> Result<(), HookError> {
        let ok = find(target, "a.txt").is_some_and(|p| std::fs::read(p).unwrap() == b"alpha");
        self.calls
            .lock()
            .unwrap()
            .push(format!("validate {ok} {}", s.files));
        match self.refuse_after_restore {
            true => Err("restored tree failed validation".into()),
            false => Ok(()),
        }
    }
}

/// The first file called `name` under `dir` (a restore recreates the
/// backed-up absolute path under its target).
fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir() {
            if let Some(hit) = find(&path, name) {
                return Some(hit);
            }
        }
    }
    None
}

fn setup(dir: &Path) -> (Repository, PathBuf) {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.txt"), b"alpha").unwrap();
    let location = dir.join("repo").to_str().unwrap().parse().unwrap();
    let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
    (
        block_on(Repository::init(&location, PW, opts)).unwrap(),
        src,
    )
}

#[test]
fn backup_is_wrapped_in_freeze_and_thaw_and_a_restore_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, src) = setup(dir.path());
    let hooks = Arc::new(Recorder::default());
    repo.set_hooks(hooks.clone());
    block_on(async {
        let done = facade_backup(&repo, &src).await;
        // A backup that fails (its parent snapshot does not exist) is
        // thawed too.
        let bad_parent =
            BackupOptions::default().parent("0123456789abcdef".parse::<cairn::IdPrefix>().unwrap());
        assert!(repo
            .backup(
                std::slice::from_ref(&src),
                &bad_parent,
                Arc::new(NoProgress)
            )
            .await
            .is_err());
        let opts = RestoreOptions::new(dir.path().join("out"));
        let plan = repo.plan_restore(&done.snapshot, &opts).await.unwrap();
        repo.restore(&plan, &opts, Arc::new(NoProgress))
            .await
            .unwrap();
    });
    assert_eq!(
        *hooks.calls.lock().unwrap(),
        [
            "freeze 1",
            "thaw stored 1",
            "freeze 1",
            "thaw failed",
            "validate true 1"
        ]
    );
}

#[test]
fn a_refusing_before_hook_stops_the_backup_and_a_failed_validation_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, src) = setup(dir.path());
    let stored = block_on(repo.backup(
        std::slice::from_ref(&src),
        &BackupOptions::default(),
        Arc::new(NoProgress),
    ))
    .unwrap();
    let hooks = Arc::new(Recorder {
        refuse_before: true,
        refuse_after_restore: true,
        ..Recorder::default()
    });
    repo.set_hooks(hooks.clone());
    block_on(async {
        let e = repo
            .backup(
                std::slice::from_ref(&src),
                &BackupOptions::default(),
                Arc::new(NoProgress),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Hook {
                    stage: "before backup",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("would not freeze"), "{e}");
        // No snapshot was made: still only the one from before the hooks.
        assert_eq!(
            repo.snapshots(&Default::default()).await.unwrap().0.len(),
            1
        );
        let opts = RestoreOptions::new(dir.path().join("out"));
        let plan = repo.plan_restore(&stored.snapshot, &opts).await.unwrap();
        let e = repo
            .restore(&plan, &opts, Arc::new(NoProgress))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Hook {
                    stage: "after restore",
                    ..
                }
            ),
            "{e}"
        );
    });
    // Refused before: no thaw; the restore ran and was validated (and refused).
    assert_eq!(
        *hooks.calls.lock().unwrap(),
        ["freeze 1", "validate true 1"]
    );
}
