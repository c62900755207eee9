//! Restore priorities (given paths first) and per-file progress.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cairn::cas::BackupOptions;
use cairn_backends::MemoryBackend;
use cairn_recovery::{
    plan_restore, restore, restore_owned, Overwrite, RestoreOptions, RestoreProgress,
};
use common::*;

/// Records every completed file, in order.
#[derive(Default)]
struct Recorder(Mutex<Vec<PathBuf>>);

impl RestoreProgress for Recorder {
    fn file_done(&self, path: &Path) {
        self.0.lock().unwrap().push(path.to_owned());
    }
}

/// Two directories of six 400 kB files; `b/` is planned (and, without
/// priorities, fetched) before `a/`, so the test gives `a/` priority.
fn make_source(dir: &Path) {
    for sub in ["a", "b"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for i in 0..6u64 {
            let seed = i + if sub == "a" { 0 } else { 100 };
            let data = random_bytes(seed, 400_000);
            std::fs::write(dir.join(sub).join(format!("f{i}")), data).unwrap();
        }
    }
    std::fs::write(dir.join("a/empty"), b"").unwrap();
    std::fs::hard_link(dir.join("a/f0"), dir.join("a/f0-link")).unwrap();
}

#[test]
fn priority_paths_are_restored_first_and_every_file_is_reported_once() {
    futures::executor::block_on(async {
        let src_dir = tempfile::tempdir().unwrap();
        let src = src_dir.path().join("src");
        make_source(&src);
        let repo = init(Arc::new(MemoryBackend::new())).await;
        let snap = backup_dir(&repo, &src, &BackupOptions::default())
            .await
            .snapshot;
        let target = tempfile::tempdir().unwrap();
        // `b` names the priority directory throughout.
        let b = src.join("a");
        let b_target = restored(target.path(), &b);
        let opts = RestoreOptions::new(target.path())
            .concurrency(1)
            .priority(&b);

        let plan = plan_restore(&repo, &snap, &opts).await.unwrap();
        // The plan: every pack serving a file of b/ before any pack that
        // serves none.
        let serves_b: Vec<bool> = plan
            .packs
            .iter()
            .map(|p| {
                p.blobs
                    .iter()
                    .flat_map(|bl| &bl.targets)
                    .any(|&(n, _)| plan.files[n].path.starts_with(&b_target))
            })
            .collect();
        let first_other = serves_b.iter().position(|s| !s).unwrap();
        assert!(
            serves_b[first_other..].iter().all(|s| !s),
            "packs of b/ after others: {serves_b:?}"
        );
        // Without the priority the order differs: the option changed it.
        let plain = plan_restore(&repo, &snap, &RestoreOptions::new(target.path()))
            .await
            .unwrap();
        assert_ne!(
            plain.packs.iter().map(|p| p.pack).collect::<Vec<_>>(),
            plan.packs.iter().map(|p| p.pack).collect::<Vec<_>>()
        );

        // Other files that share no pack with the priority ones complete only
        // after every priority file (one pack at a time).
        let mut shares_b: HashSet<usize> = HashSet::new();
        for (p, s) in plan.packs.iter().zip(&serves_b) {
            if *s {
                shares_b.extend(p.blobs.iter().flat_map(|bl| &bl.targets).map(|t| t.0));
            }
        }
        let a_only: HashSet<PathBuf> = plan
            .files
            .iter()
            .enumerate()
            .filter(|(n, f)| !f.path.starts_with(&b_target) && !shares_b.contains(n))
            .filter(|(_, f)| f.node.size > 0 && f.link_to.is_none())
            .map(|(_, f)| f.path.clone())
            .collect();
        assert!(!a_only.is_empty());
        let all: BTreeSet<PathBuf> = plan.files.iter().map(|f| f.path.clone()).collect();
        // Hard links are made after every pack: not part of the order.
        let links: HashSet<PathBuf> = plan
            .files
            .iter()
            .filter(|f| f.link_to.is_some())
            .map(|f| f.path.clone())
            .collect();
        let rec = Arc::new(Recorder::default());
        let summary = restore_owned(&repo, plan, &opts, rec.clone())
            .await
            .unwrap();
        assert_eq!(summary.hardlinks, 1);
        let done = rec.0.lock().unwrap().clone();
        let last_b = done
            .iter()
            .rposition(|p| p.starts_with(&b_target) && !links.contains(p))
            .unwrap();
        let first_a = done.iter().position(|p| a_only.contains(p)).unwrap();
        assert!(last_b < first_a, "order: {done:?}");
        // Every file (the empty one and the hard link too) exactly once.
        assert_eq!(done.len(), all.len(), "{done:?}");
        assert_eq!(done.iter().cloned().collect::<BTreeSet<_>>(), all);
        assert_same_tree(&src, &restored(target.path(), &src));

        // A second run that finds everything in place reports each file too.
        let again = RestoreOptions::new(target.path()).overwrite(Overwrite::IfChanged);
        let plan = plan_restore(&repo, &snap, &again).await.unwrap();
        let rec = Arc::new(Recorder::default());
        let s = restore(&repo, &plan, &again, rec.clone()).await.unwrap();
        // (The two hard-linked names are replaced, not compared: a target
        // file with several links may be linked from outside.)
        assert_eq!(s.files_unchanged, all.len() as u64 - 2);
        let done: BTreeSet<PathBuf> = rec.0.lock().unwrap().iter().cloned().collect();
        assert_eq!(done, all);
    });
}
