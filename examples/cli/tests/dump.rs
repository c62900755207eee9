//! `cairn dump`: a file to standard output is byte-identical (`| cmp`), a
//! directory as tar piped to `tar -x` equals the source (`diff -r`), with
//! modes, times, symlinks and hard links.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;

use common::{assert_success, noise, temp_root};

const PW: &str = "pw";

fn ok(repo: &Path, args: &[&str]) {
    let out = common::cairn(repo, PW, args).output().unwrap();
    assert_success(args, &out);
}

/// `cairn dump ARGS | sink`: both must succeed.
fn dump_into(repo: &Path, args: &[&str], sink: &mut Command) {
    let mut dump = common::cairn(repo, PW, args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let status = sink.stdin(dump.stdout.take().unwrap()).status().unwrap();
    assert!(dump.wait().unwrap().success(), "cairn {args:?} failed");
    assert!(status.success(), "{sink:?} failed after cairn {args:?}");
}

fn set_mtime(p: &Path, secs: u64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    std::fs::File::open(p).unwrap().set_modified(t).unwrap();
}

/// A tree with a multi-chunk file, small and empty files, odd modes and
/// times, a nested and an empty directory, a symlink and a hard link.
fn make_tree(src: &Path) {
    std::fs::create_dir_all(src.join("d/nested")).unwrap();
    std::fs::create_dir_all(src.join("empty")).unwrap();
    std::fs::write(src.join("big.bin"), noise(1, 5 << 20)).unwrap();
    std::fs::write(src.join("d/small.txt"), b"hello\n").unwrap();
    std::fs::write(src.join("d/nested/empty-file"), b"").unwrap();
    std::fs::write(src.join("d/script.sh"), b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(src.join("d/script.sh"), PermissionsExt::from_mode(0o750)).unwrap();
    std::fs::hard_link(src.join("d/small.txt"), src.join("d/small-link.txt")).unwrap();
    std::os::unix::fs::symlink("d/small.txt", src.join("to-small")).unwrap();
    set_mtime(&src.join("big.bin"), 1_600_000_000);
    set_mtime(&src.join("d/script.sh"), 1_500_000_000);
}

/// A repository (`root/repo`) holding one backup of a [`make_tree`] at
/// `root/src`: (guard, root, repo, src).
fn backed_up() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let (tmp, root) = temp_root();
    let repo = root.join("repo");
    let src = root.join("src");
    make_tree(&src);
    ok(&repo, &["init"]);
    ok(&repo, &["backup", "-q", src.to_str().unwrap()]);
    (tmp, root, repo, src)
}

#[test]
fn dump_of_a_file_is_identical_and_of_a_directory_extracts_to_the_source() {
    let (_tmp, root, repo, src) = backed_up();

    // One file, straight to `cmp`.
    for f in ["big.bin", "d/small.txt", "d/nested/empty-file"] {
        let path = src.join(f);
        let p = path.to_str().unwrap();
        dump_into(
            &repo,
            &["dump", "latest", p],
            Command::new("cmp").args(["-", p]),
        );
    }

    // The directory, through tar.
    let out = root.join("out");
    std::fs::create_dir(&out).unwrap();
    dump_into(
        &repo,
        &["dump", "latest", src.to_str().unwrap(), "--archive", "tar"],
        Command::new("tar").arg("-x").arg("-C").arg(&out),
    );
    let diff = Command::new("diff")
        .args(["-r", "--no-dereference"])
        .arg(&src)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        diff.status.success(),
        "{}",
        String::from_utf8_lossy(&diff.stdout)
    );
    for f in ["big.bin", "d/script.sh", "d/small.txt", "d"] {
        let (a, b) = (
            std::fs::symlink_metadata(src.join(f)).unwrap(),
            std::fs::symlink_metadata(out.join(f)).unwrap(),
        );
        assert_eq!(a.mode(), b.mode(), "mode of {f}");
        if f != "d" {
            // tar sets a directory's time before filling it only with
            // --delay-directory-restore on some versions: files only.
            assert_eq!(a.mtime(), b.mtime(), "mtime of {f}");
        }
    }
    assert_eq!(
        std::fs::read_link(out.join("to-small")).unwrap(),
        Path::new("d/small.txt")
    );
    let (a, b) = (
        std::fs::metadata(out.join("d/small.txt")).unwrap(),
        std::fs::metadata(out.join("d/small-link.txt")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino(), "the hard link is a link again");
}

#[test]
fn dump_of_a_missing_path_or_a_symlink_fails_naming_it() {
    let (_tmp, _, repo, src) = backed_up();
    for (p, says) in [
        (src.join("nope"), "is not in the snapshot"),
        (src.join("to-small"), "is a symlink"),
    ] {
        let out = common::cairn(&repo, PW, &["dump", "latest", p.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(says) && err.contains(p.to_str().unwrap()),
            "{err}"
        );
    }
}

/// `dump --archive zip` to a pipe: every entry of the source with its bytes,
/// permissions, time and symlink target, read back with the `zip` crate and
/// checked by an independent reader (Python's `zipfile`) where there is one.
#[test]
fn dump_of_a_directory_as_zip_holds_the_source() {
    use std::io::Read;
    let (_tmp, root, repo, src) = backed_up();
    let archive = root.join("out.zip");
    let file = std::fs::File::create(&archive).unwrap();
    dump_into(
        &repo,
        &["dump", "latest", src.to_str().unwrap(), "--archive", "zip"],
        Command::new("dd").arg("status=none").stdout(file),
    );

    let mut zip = zip::ZipArchive::new(std::fs::File::open(&archive).unwrap()).unwrap();
    let mut seen = Vec::new();
    for i in 0..zip.len() {
        let mut e = zip.by_index(i).unwrap();
        let name = e.name().unwrap().trim_end_matches('/').to_owned();
        let meta = std::fs::symlink_metadata(src.join(&name)).unwrap();
        let mode = e.unix_mode().unwrap();
        assert_eq!(mode & 0o7777, meta.mode() & 0o7777, "mode of {name}");
        let mut body = Vec::new();
        e.read_to_end(&mut body).unwrap();
        if meta.file_type().is_symlink() {
            assert!(e.is_symlink(), "{name}");
            let target = std::fs::read_link(src.join(&name)).unwrap();
            assert_eq!(Path::new(std::str::from_utf8(&body).unwrap()), target);
        } else if meta.is_dir() {
            assert!(e.is_dir(), "{name}");
        } else {
            assert_eq!(body, std::fs::read(src.join(&name)).unwrap(), "{name}");
            let t = e.last_modified().unwrap();
            let utc = cairn::jiff::Timestamp::from_second(meta.mtime())
                .unwrap()
                .to_zoned_datetime(cairn::jiff::tz::TimeZone::UTC);
            // DOS times count two seconds; the source's are even.
            let got = (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
            );
            let want = (
                utc.year() as u16,
                utc.month() as u8,
                utc.day() as u8,
                utc.hour() as u8,
                utc.minute() as u8,
                utc.second() as u8 & !1,
            );
            assert_eq!(got, want, "time of {name}");
        }
        seen.push(name);
    }
    seen.sort();
    let want = [
        "big.bin",
        "d",
        "d/nested",
        "d/nested/empty-file",
        "d/script.sh",
        "d/small-link.txt",
        "d/small.txt",
        "empty",
        "to-small",
    ];
    assert_eq!(seen, want);
    if let Ok(out) = Command::new("python3")
        .args(["-m", "zipfile", "-t"])
        .arg(&archive)
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
