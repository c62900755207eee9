//! `cairn restore` into a populated (or hostile) target: `--overwrite`,
//! `--delete`, `--dry-run`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;

use common::{success_stdout, temp_root, under};

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Env {
    fn new() -> Env {
        let (tmp, root) = temp_root();
        Env { _tmp: tmp, root }
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = common::cairn(self.root.join("repo"), "pw", args)
            .output()
            .unwrap();
        success_stdout(args, out)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(out.lines().last().unwrap()).unwrap()
    }
}

fn set_mtime(p: &Path, secs: i64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// Every entry below `root`: (kind and mode, mtime, contents, inode).
fn state(root: &Path) -> BTreeMap<PathBuf, (u32, i64, Vec<u8>, u64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let body = if m.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            Vec::new()
        } else {
            std::fs::read(&p).unwrap_or_default()
        };
        let mtime = if m.is_dir() { 0 } else { m.mtime() };
        let entry = (m.mode(), mtime, body, m.ino());
        out.insert(p.strip_prefix(root).unwrap().to_owned(), entry);
    }
    out
}

/// Files in the snapshot (all with mtime 1 700 000 000).
const FILES: [(&str, &[u8]); 6] = [
    ("equal.txt", b"same in both"),
    ("newer.txt", b"snapshot version"),
    ("older.txt", b"snapshot version"),
    ("different.txt", b"snapshot bytes!!"),
    ("missing.txt", b"only in the snapshot"),
    ("d/nested.txt", b"nested"),
];

/// A repository with one snapshot of FILES, and a target holding: the equal
/// file, one newer and one older than the snapshot's, one with other bytes
/// and the same mtime, an extra file, and no `missing.txt`.
fn populated(env: &Env) -> (PathBuf, PathBuf) {
    let src = env.root.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    for (name, body) in FILES {
        std::fs::write(src.join(name), body).unwrap();
        set_mtime(&src.join(name), 1_700_000_000);
    }
    env.ok(&["init"]);
    env.ok(&["backup", src.to_str().unwrap()]);
    let target = env.root.join("target");
    let base = under(&target, &src);
    std::fs::create_dir_all(base.join("d")).unwrap();
    let put = |name: &str, body: &[u8], mtime: i64| {
        std::fs::write(base.join(name), body).unwrap();
        set_mtime(&base.join(name), mtime);
    };
    put("equal.txt", b"same in both", 1_700_000_000);
    put("newer.txt", b"edited after the backup", 1_800_000_000);
    put("older.txt", b"an old version", 1_600_000_000);
    put("different.txt", b"other bytes here", 1_700_000_000);
    put("d/nested.txt", b"nested", 1_700_000_000);
    put("extra.txt", b"not in the snapshot", 1_700_000_000);
    (src, base)
}

fn read(base: &Path, name: &str) -> Option<Vec<u8>> {
    std::fs::read(base.join(name)).ok()
}

fn snapshot_body(name: &str) -> Vec<u8> {
    FILES.iter().find(|(n, _)| *n == name).unwrap().1.to_vec()
}

#[test]
fn each_overwrite_mode_and_delete_on_a_populated_target() {
    // (mode, delete, files expected to hold the snapshot's bytes, kept as they were)
    let cases: [(&str, bool, &[&str], &[&str]); 5] = [
        (
            "always",
            false,
            &[
                "equal.txt",
                "newer.txt",
                "older.txt",
                "different.txt",
                "missing.txt",
            ],
            &[],
        ),
        (
            "if-changed",
            false,
            &[
                "equal.txt",
                "newer.txt",
                "older.txt",
                "different.txt",
                "missing.txt",
            ],
            &[],
        ),
        (
            "if-newer",
            false,
            &["equal.txt", "older.txt", "missing.txt"],
            &["newer.txt", "different.txt"],
        ),
        (
            "never",
            false,
            &["equal.txt", "missing.txt"],
            &["newer.txt", "older.txt", "different.txt"],
        ),
        (
            "if-changed",
            true,
            &[
                "equal.txt",
                "newer.txt",
                "older.txt",
                "different.txt",
                "missing.txt",
            ],
            &[],
        ),
    ];
    for (mode, delete, restored, kept) in cases {
        let env = Env::new();
        let (_src, base) = populated(&env);
        let before = state(&base);
        let target = env.root.join("target");
        let mut args = vec![
            "restore",
            "latest",
            "--target",
            target.to_str().unwrap(),
            "--overwrite",
            mode,
        ];
        if delete {
            args.push("--delete");
        }
        let summary = env.json(&args);
        for name in restored {
            assert_eq!(
                read(&base, name),
                Some(snapshot_body(name)),
                "{mode}: {name}"
            );
        }
        for name in kept {
            let name = PathBuf::from(name);
            assert_eq!(
                state(&base).get(&name),
                before.get(&name),
                "{mode}: {name:?} was touched"
            );
        }
        assert_eq!(
            read(&base, "extra.txt").is_some(),
            !delete,
            "{mode} delete={delete}"
        );
        assert_eq!(summary["entries_deleted"], u64::from(delete), "{summary}");
        if mode == "if-changed" {
            // The equal files were compared, not rewritten; the rest was
            // fetched: only the blobs of the files that differed.
            assert_eq!(summary["files_unchanged"], 2, "{summary}");
            assert_eq!(summary["files_restored"], 4, "{summary}");
        }
    }
}

#[test]
fn dry_run_changes_nothing_and_says_what_the_run_does() {
    for mode in ["always", "if-changed", "if-newer", "never"] {
        let env = Env::new();
        let (_src, base) = populated(&env);
        let target = env.root.join("target");
        let t = target.to_str().unwrap();
        let before = state(&target);
        let plan = env.json(&[
            "restore",
            "latest",
            "--target",
            t,
            "--overwrite",
            mode,
            "--delete",
            "--dry-run",
        ]);
        assert_eq!(
            before,
            state(&target),
            "{mode}: --dry-run changed the target"
        );
        assert_eq!(plan["message_type"], "dry_run");

        let run = env.json(&[
            "restore",
            "latest",
            "--target",
            t,
            "--overwrite",
            mode,
            "--delete",
        ]);
        assert_eq!(
            plan["bytes_to_fetch"], run["bytes_fetched"],
            "{mode}: {plan} vs {run}"
        );
        assert_eq!(plan["deleted"], run["entries_deleted"], "{mode}");
        assert_eq!(plan["kept"], run["entries_kept"], "{mode}");
        // Each file the plan said it would write (and only those) now differs
        // from before or is new; each it called unchanged or kept is as it was.
        let after = state(&target);
        for e in plan["entries"].as_array().unwrap() {
            let path = PathBuf::from(e["path"].as_str().unwrap());
            let rel = path.strip_prefix(&target).unwrap().to_owned();
            if e["action"] == "delete" {
                assert!(
                    before.contains_key(&rel) && !path.exists(),
                    "{mode}: {rel:?}"
                );
                continue;
            }
            let meta = std::fs::symlink_metadata(&path);
            assert!(
                meta.is_ok(),
                "{mode}: {path:?} missing after the run; plan {plan}"
            );
            if meta.unwrap().is_dir() {
                continue;
            }
            let (b, a) = (before.get(&rel), after.get(&rel));
            match e["action"].as_str().unwrap() {
                "new" => assert!(b.is_none() && a.is_some(), "{mode}: {rel:?}"),
                "replace" => assert_ne!(b.map(|x| x.3), a.map(|x| x.3), "{mode}: {rel:?}"),
                "update" => assert_ne!(b.map(|x| &x.2), a.map(|x| &x.2), "{mode}: {rel:?}"),
                "unchanged" => {
                    assert_eq!(
                        b.map(|x| (&x.2, x.3)),
                        a.map(|x| (&x.2, x.3)),
                        "{mode}: {rel:?}"
                    )
                }
                "keep" => assert_eq!(b, a, "{mode}: {rel:?}"),
                other => panic!("{other}"),
            }
        }
        let files_written = plan["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                matches!(e["action"].as_str(), Some("new" | "replace" | "update"))
                    && Path::new(e["path"].as_str().unwrap()).is_file()
            })
            .count();
        assert_eq!(
            run["files_restored"], files_written as u64,
            "{mode}: {plan}"
        );
        assert!(!base.join("extra.txt").exists(), "{mode}");
        // A second dry run in if-changed mode has nothing left to do.
        if mode == "if-changed" {
            let again = env.json(&[
                "restore",
                "latest",
                "--target",
                t,
                "--overwrite",
                mode,
                "--dry-run",
            ]);
            assert_eq!(
                (
                    again["new"].clone(),
                    again["changed"].clone(),
                    again["bytes_to_fetch"].clone()
                ),
                (0.into(), 0.into(), 0.into()),
                "{again}"
            );
        }
    }
}

/// The reproduction: `TARGET/<path>/etc` pre-created as a link to a
/// directory outside; the snapshot has `<path>/etc/passwd`.
#[test]
fn a_planted_symlink_in_the_target_is_not_followed() {
    let env = Env::new();
    let src = env.root.join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/passwd"), b"restored").unwrap();
    env.ok(&["init"]);
    env.ok(&["backup", src.to_str().unwrap()]);
    let outside = env.root.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let target = env.root.join("target");
    let base = under(&target, &src);
    std::fs::create_dir_all(&base).unwrap();
    std::os::unix::fs::symlink(&outside, base.join("etc")).unwrap();
    env.ok(&["restore", "latest", "--target", target.to_str().unwrap()]);
    assert!(
        !outside.join("passwd").exists(),
        "written through the planted link"
    );
    assert_eq!(std::fs::read(base.join("etc/passwd")).unwrap(), b"restored");
    assert!(!base.join("etc").is_symlink());
}

/// Relative paths of the files below `root`.
fn files_below(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = state(root)
        .into_iter()
        .filter(|(_, (mode, ..))| mode & 0o170000 == 0o100000)
        .map(|(p, _)| p.to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

#[test]
fn backup_filters_and_restore_excludes_on_a_real_tree() {
    let env = Env::new();
    let src = env.root.join("src");
    let put = |rel: &str, body: &[u8]| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    };
    put("keep.txt", b"keep");
    put("app.log", b"excluded by *.log");
    put("logs/important.log", b"re-included by !important.log");
    put("logs/debug.log", b"excluded");
    put("BUILD/out.o", b"excluded by --iexclude build/");
    put("node_modules/x.js", b"excluded by the exclude file");
    put(
        "cache/CACHEDIR.TAG",
        b"Signature: 8a477f597d28d172789f06886806bc55\n# a cache",
    );
    put("cache/blob", b"excluded with the cache");
    put("fake-cache/CACHEDIR.TAG", b"not a real signature");
    put("proj/.nobackup", b"");
    put("proj/file", b"excluded by --exclude-if-present");
    put("big.bin", &vec![1u8; 2 << 20]);
    put("small.bin", &[2u8; 1000]);
    put("docs/a.md", b"restored unless --exclude'd at restore");
    put("docs/B.MD", b"restored unless --iexclude'd at restore");
    let exclude_file = env.root.join("excludes");
    std::fs::write(&exclude_file, "# comment\n\nnode_modules/\n").unwrap();
    env.ok(&["init"]);
    env.ok(&[
        "backup",
        src.to_str().unwrap(),
        "--exclude",
        "*.log",
        "--exclude",
        "!important.log",
        "--iexclude",
        "build/",
        "--exclude-file",
        exclude_file.to_str().unwrap(),
        "--exclude-caches",
        "--exclude-if-present",
        ".nobackup",
        "--exclude-larger-than",
        "1M",
    ]);
    let target = env.root.join("t1");
    env.ok(&["restore", "latest", "--target", target.to_str().unwrap()]);
    let base = under(&target, &src);
    assert_eq!(
        files_below(&base),
        [
            "docs/B.MD",
            "docs/a.md",
            "fake-cache/CACHEDIR.TAG",
            "keep.txt",
            "logs/important.log",
            "small.bin",
        ]
    );
    // The same pattern language picks what a restore leaves out.
    let target = env.root.join("t2");
    let t = target.to_str().unwrap();
    env.ok(&[
        "restore",
        "latest",
        "--target",
        t,
        "--exclude",
        "*.md",
        "--iexclude",
        "/**/FAKE-CACHE",
    ]);
    let base = under(&target, &src);
    assert_eq!(
        files_below(&base),
        ["docs/B.MD", "keep.txt", "logs/important.log", "small.bin"]
    );
    // And what it picks: a case-insensitive pattern (a name anywhere), a
    // pattern naming a directory (all below it), and an exclusion inside
    // what was picked.
    let target = env.root.join("t3");
    let t = target.to_str().unwrap();
    env.ok(&[
        "restore",
        "latest",
        "--target",
        t,
        "--iinclude",
        "*.MD",
        "--include",
        "logs",
        "--exclude",
        "B.MD",
    ]);
    let base = under(&target, &src);
    assert_eq!(files_below(&base), ["docs/a.md", "logs/important.log"]);
    assert!(
        !base.join("fake-cache").exists(),
        "a directory with nothing picked is not created"
    );
}

#[test]
fn backup_files_from_a_list() {
    let env = Env::new();
    let src = env.root.join("src");
    for d in ["one", "two", "three"] {
        std::fs::create_dir_all(src.join(d)).unwrap();
        std::fs::write(src.join(d).join("f"), d).unwrap();
    }
    let list = env.root.join("list");
    let (one, three) = (src.join("one"), src.join("three"));
    std::fs::write(
        &list,
        format!("# what to keep\n{}\n\n{}\n", one.display(), three.display()),
    )
    .unwrap();
    env.ok(&["init"]);
    env.ok(&["backup", "--files-from", list.to_str().unwrap()]);
    let target = env.root.join("t");
    env.ok(&["restore", "latest", "--target", target.to_str().unwrap()]);
    let base = under(&target, &src);
    assert_eq!(files_below(&base), ["one/f", "three/f"]);
}

/// Root restoring a user's setuid-to-self program into that user's directory
/// (issue 20 item 6): by default, and with `--no-owners`, it comes back
/// owned by root without its set-id bit; `--owners` gives it back its owner
/// and its bit.
#[test]
fn root_never_restores_a_setuid_root_file_for_another_user() {
    use std::os::unix::fs::PermissionsExt;
    const OTHER: u32 = 4321;
    let env = Env::new();
    if std::fs::metadata(&env.root).unwrap().uid() != 0 {
        eprintln!("not root: skipped (needs to chown to another uid)");
        return;
    }
    let src = env.root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let prog = src.join("prog");
    std::fs::write(&prog, b"#!/bin/sh\nid\n").unwrap();
    std::os::unix::fs::chown(&prog, Some(OTHER), Some(OTHER)).unwrap();
    std::fs::set_permissions(&prog, PermissionsExt::from_mode(0o4755)).unwrap();
    env.ok(&["init"]);
    env.ok(&["backup", src.to_str().unwrap()]);
    for (flag, want) in [
        (None, (0, 0o755)),
        (Some("--no-owners"), (0, 0o755)),
        (Some("--owners"), (OTHER, 0o4755)),
    ] {
        let target = env.root.join(format!("home-{}", flag.unwrap_or("default")));
        std::fs::create_dir_all(&target).unwrap();
        std::os::unix::fs::chown(&target, Some(OTHER), Some(OTHER)).unwrap();
        let mut args = vec!["restore", "latest", "--target", target.to_str().unwrap()];
        args.extend(flag);
        env.ok(&args);
        let m = std::fs::metadata(under(&target, &prog)).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o7777), want, "{flag:?}");
    }
}
