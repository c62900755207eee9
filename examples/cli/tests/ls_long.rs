//! `cairn ls --long`: `ls -l`'s columns for each entry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

mod common;

use common::{success_stdout, temp_root};

fn ok(repo: &Path, args: &[&str]) -> String {
    let out = common::cairn(repo, "pw", args).output().unwrap();
    success_stdout(args, out)
}

#[test]
fn ls_long_shows_mode_owner_size_and_time() {
    let (_tmp, root) = temp_root();
    let repo = root.join("repo");
    let src = root.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let f = src.join("sub/run.sh");
    std::fs::write(&f, b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&f, PermissionsExt::from_mode(0o4750)).unwrap();
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    std::fs::File::open(&f).unwrap().set_modified(t).unwrap();
    std::os::unix::fs::symlink("sub/run.sh", src.join("link")).unwrap();
    ok(&repo, &["init"]);
    ok(&repo, &["backup", "-q", src.to_str().unwrap()]);

    let text = ok(
        &repo,
        &["ls", "--long", "-R", "latest", src.to_str().unwrap()],
    );
    let line = |suffix: &str| {
        text.lines()
            .find(|l| l.ends_with(suffix))
            .unwrap_or_else(|| panic!("no line ending {suffix:?} in {text}"))
            .to_owned()
    };
    let (uid, gid) = {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&f).unwrap();
        (m.uid(), m.gid())
    };
    let file = line(f.to_str().unwrap());
    let cols: Vec<&str> = file.split_whitespace().collect();
    assert_eq!(cols[0], "-rwsr-x---", "{file}");
    assert_eq!(
        cols[1..4],
        [uid.to_string(), gid.to_string(), "10".into()],
        "{file}"
    );
    assert_eq!(cols[4..6], ["2020-09-13", "12:26:40"], "{file}");
    assert!(
        line(src.join("sub").to_str().unwrap()).starts_with("drwx"),
        "{text}"
    );
    assert!(line("-> sub/run.sh").starts_with("lrwx"), "{text}");
    // Without --long, just the paths.
    let short = ok(
        &repo,
        &["ls", "--recursive", "latest", src.to_str().unwrap()],
    );
    assert!(short.lines().any(|l| l == f.to_str().unwrap()), "{short}");
}
