//! `cairn mount DIR`: `diff -r` between the source and
//! `mnt/snapshots/latest/…` finds nothing, a read in the middle of a large
//! file is the source's bytes, and SIGTERM unmounts cleanly.
//!
//! Skipped (with a message) where `/dev/fuse` cannot be opened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{assert_success, noise, temp_root};

const PW: &str = "pw";

fn ok(repo: &Path, args: &[&str]) {
    let out = common::cairn(repo, PW, args).output().unwrap();
    assert_success(args, &out);
}

fn mounted(dir: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.to_str().unwrap();
    info.lines().any(|l| l.split(' ').nth(4) == Some(dir))
}

fn fuse_usable() -> bool {
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
    {
        Ok(_) => true,
        Err(e) => {
            eprintln!("SKIPPED: /dev/fuse cannot be opened ({e}): no FUSE here");
            false
        }
    }
}

#[test]
fn mount_shows_the_source_and_unmounts_on_sigterm() {
    if !fuse_usable() {
        return;
    }
    let (_tmp, root) = temp_root();
    let repo = root.join("repo");
    let src = root.join("src");
    std::fs::create_dir_all(src.join("d/nested")).unwrap();
    std::fs::create_dir_all(src.join("empty")).unwrap();
    // A large file: zeros with noise at its start, middle and end.
    let mut large = vec![0u8; 48 << 20];
    for at in [0, 24 << 20, (48 << 20) - (1 << 20)] {
        large[at..at + (1 << 20)].copy_from_slice(&noise(at as u64, 1 << 20));
    }
    std::fs::write(src.join("large.bin"), &large).unwrap();
    std::fs::write(src.join("d/small.txt"), b"hello\n").unwrap();
    std::fs::write(src.join("d/nested/empty-file"), b"").unwrap();
    std::fs::write(src.join("d/script.sh"), b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(src.join("d/script.sh"), PermissionsExt::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("d/small.txt", src.join("to-small")).unwrap();
    ok(&repo, &["init"]);
    ok(
        &repo,
        &["backup", "-q", "--tag", "t1", src.to_str().unwrap()],
    );

    let mnt = root.join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mut child = common::cairn(&repo, PW, &["mount", mnt.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Polls for the mount (the bound only guards against a hang).
    let deadline = Instant::now() + Duration::from_secs(120);
    while !mounted(&mnt) {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("cairn mount exited ({status}) before mounting: {err}");
        }
        assert!(Instant::now() < deadline, "timed out waiting for the mount");
        std::thread::sleep(Duration::from_millis(20));
    }

    let inside = mnt
        .join("snapshots/latest")
        .join(src.strip_prefix("/").unwrap());
    let diff = Command::new("diff")
        .arg("-r")
        .arg(&src)
        .arg(&inside)
        .output()
        .unwrap();
    assert!(
        diff.status.success(),
        "diff -r: {}{}",
        String::from_utf8_lossy(&diff.stdout),
        String::from_utf8_lossy(&diff.stderr)
    );
    // The same snapshot under its host and tag.
    for group in ["tags/t1/latest", "hosts"] {
        assert!(mnt.join(group).exists(), "{group}");
    }
    let by_tag = mnt
        .join("tags/t1/latest")
        .join(src.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read(by_tag.join("d/small.txt")).unwrap(),
        b"hello\n"
    );
    assert_eq!(
        std::fs::read_link(inside.join("to-small")).unwrap(),
        Path::new("d/small.txt")
    );
    let mode = std::fs::metadata(inside.join("d/script.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o750);

    // 4 KiB in the middle of the large file.
    let mut f = std::fs::File::open(inside.join("large.bin")).unwrap();
    let at = (24 << 20) + 12_345;
    f.seek(SeekFrom::Start(at as u64)).unwrap();
    let mut buf = vec![0; 4096];
    f.read_exact(&mut buf).unwrap();
    assert_eq!(buf, large[at..at + 4096]);
    drop(f);
    // Read-only.
    assert!(std::fs::write(inside.join("d/small.txt"), b"x").is_err());

    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cairn mount after SIGTERM: {err}");
    assert!(err.contains("unmounted"), "{err}");
    assert!(!mounted(&mnt), "the mount is gone");
    assert_eq!(
        std::fs::read_dir(&mnt).unwrap().count(),
        0,
        "the mount point is empty again"
    );
}
