//! Property test: any tree of files, directories and symlinks survives a
//! backup and a restore byte for byte, with modes and mtimes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn::cas::BackupOptions;
use cairn_backends::MemoryBackend;
use cairn_recovery::{verify, RestoreOptions};
use filetime::FileTime;
use proptest::prelude::*;

use common::*;

const FILE_MODES: [u32; 4] = [0o644, 0o755, 0o600, 0o444];
// Directories stay writable by their owner so the temp dirs can be removed.
const DIR_MODES: [u32; 3] = [0o755, 0o700, 0o750];

#[derive(Debug, Clone)]
struct FileSpec {
    dir: usize,
    size_class: u8,
    seed: u64,
    mode: usize,
    mtime: (i64, u32),
}

#[derive(Debug, Clone)]
struct Spec {
    names: Vec<String>,
    subdirs: usize,
    depth: usize,
    files: Vec<FileSpec>,
    big_len: usize,
    dir_modes: Vec<usize>,
    dir_mtimes: Vec<(i64, u32)>,
    link_mtimes: Vec<(i64, u32)>,
}

fn mtime() -> impl Strategy<Value = (i64, u32)> {
    (0i64..(1 << 31) - 1, 0u32..1_000_000_000)
}

fn spec() -> impl Strategy<Value = Spec> {
    let name = "[a-z0-9 _éüßñ日本語中文🎉🦀-]{1,10}";
    let file = (0usize..64, 0u8..3, any::<u64>(), 0usize..4, mtime()).prop_map(
        |(dir, size_class, seed, mode, mtime)| FileSpec {
            dir,
            size_class,
            seed,
            mode,
            mtime,
        },
    );
    (
        prop::collection::vec(name, 24),
        1usize..4,
        8usize..12,
        prop::collection::vec(file, 4..16),
        (1usize << 20)..(3 << 20),
        prop::collection::vec(0usize..3, 20),
        prop::collection::vec(mtime(), 20),
        prop::collection::vec(mtime(), 6),
    )
        .prop_map(
            |(names, subdirs, depth, files, big_len, dir_modes, dir_mtimes, link_mtimes)| Spec {
                // Unique within any directory: the index comes first.
                names: names
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| format!("{i}{n}"))
                    .collect(),
                subdirs,
                depth,
                files,
                big_len,
                dir_modes,
                dir_mtimes,
                link_mtimes,
            },
        )
}

fn ft((sec, nsec): (i64, u32)) -> FileTime {
    FileTime::from_unix_time(sec, nsec)
}

/// Builds the tree `spec` describes under `root`.
fn build(root: &Path, spec: &Spec) {
    // Directories: root, a few subdirectories, and a deep chain.
    let mut dirs: Vec<PathBuf> = vec![root.to_owned()];
    for i in 0..spec.subdirs {
        dirs.push(root.join(format!("sub-{}", spec.names[i])));
    }
    let mut deep = root.join("deep");
    for level in 0..spec.depth {
        deep = deep.join(format!("{level}-{}", spec.names[level % spec.names.len()]));
        dirs.push(deep.clone());
    }
    for d in &dirs {
        std::fs::create_dir_all(d).unwrap();
    }

    // Files: empty, small, medium (some sharing contents), one big one, and
    // one whose name is not UTF-8.
    let mut first_file = None;
    for (i, f) in spec.files.iter().enumerate() {
        let len = match f.size_class {
            0 => 0,
            1 => (f.seed % 4096) as usize + 1,
            _ => (f.seed % 200_000) as usize + 4096,
        };
        // Every third file repeats the first one's seed: shared chunks.
        let seed = if i % 3 == 2 {
            spec.files[0].seed
        } else {
            f.seed
        };
        let path = dirs[f.dir % dirs.len()].join(format!("f{i}-{}", spec.names[i % 24]));
        std::fs::write(&path, random_bytes(seed, len)).unwrap();
        std::fs::set_permissions(&path, PermissionsExt::from_mode(FILE_MODES[f.mode])).unwrap();
        filetime::set_file_mtime(&path, ft(f.mtime)).unwrap();
        first_file.get_or_insert(path);
    }
    let big = root.join("big.bin");
    std::fs::write(&big, random_bytes(spec.files[0].seed ^ 0xb16, spec.big_len)).unwrap();
    filetime::set_file_mtime(&big, ft(spec.link_mtimes[0])).unwrap();
    let raw = root.join(OsStr::from_bytes(b"raw-\xff\xfe-name"));
    std::fs::write(&raw, b"not utf-8").unwrap();
    filetime::set_file_mtime(&raw, ft(spec.link_mtimes[1])).unwrap();

    // Symlinks: relative to a file, relative to a directory, dangling,
    // absolute, and one at the bottom of the deep chain.
    let first = first_file.unwrap();
    let rel_file = Path::new("..").join(first.strip_prefix(root).unwrap());
    let links: [(PathBuf, PathBuf); 5] = [
        (dirs[1].join("to-file"), rel_file),
        (root.join("to-dir"), PathBuf::from("deep")),
        (root.join("dangling"), PathBuf::from("no/such/target 日本")),
        (dirs[1].join("absolute"), PathBuf::from("/nonexistent/abs")),
        (deep.join("up-link"), PathBuf::from("../../..")),
    ];
    for (i, (link, target)) in links.iter().enumerate() {
        std::os::unix::fs::symlink(target, link).unwrap();
        let t = ft(spec.link_mtimes[i + 1]);
        filetime::set_symlink_file_times(link, t, t).unwrap();
    }

    // Directory modes and times last, deepest first (writing into a
    // directory changes its mtime).
    let mut ordered = dirs.clone();
    ordered.push(root.join("deep"));
    ordered.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for (i, d) in ordered.iter().enumerate() {
        let mode = DIR_MODES[spec.dir_modes[i % spec.dir_modes.len()]];
        std::fs::set_permissions(d, PermissionsExt::from_mode(mode)).unwrap();
        filetime::set_file_mtime(d, ft(spec.dir_mtimes[i % spec.dir_mtimes.len()])).unwrap();
    }
}

fn round_trip(spec: &Spec) {
    let src = tempfile::tempdir().unwrap();
    let root = src.path().join("root");
    std::fs::create_dir(&root).unwrap();
    build(&root, spec);
    let target = tempfile::tempdir().unwrap();

    futures::executor::block_on(async {
        let repo = init(Arc::new(MemoryBackend::new())).await;
        let done = backup_dir(&repo, &root, &BackupOptions::default()).await;
        assert!(done.warnings.is_empty(), "{:?}", done.warnings);
        assert_eq!(done.snapshot.summary.errors, 0);
        assert_eq!(done.snapshot.summary.symlinks, 5);

        let ropts = RestoreOptions::new(target.path());
        let summary = restore_to(&repo, &done.snapshot, &ropts).await.unwrap();
        assert_eq!(summary.symlinks, 5);
        assert_eq!(summary.files, spec.files.len() as u64 + 2);

        let report = verify(&repo, &done.snapshot, target.path(), &[])
            .await
            .unwrap();
        assert!(report.is_ok(), "{:?}", report.mismatches);
        assert_eq!(report.files_checked, spec.files.len() as u64 + 2);
    });
    assert_same_tree(&root, &restored(target.path(), &root));
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 12,
        max_shrink_iters: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_tree_round_trips_with_contents_modes_and_mtimes(spec in spec()) {
        round_trip(&spec);
    }
}
