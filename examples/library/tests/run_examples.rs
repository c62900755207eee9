//! Runs the example programs as a user would, and checks what they did.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

fn source(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), b"alpha").unwrap();
    std::fs::write(src.join("sub/b.bin"), vec![7u8; 300_000]).unwrap();
    src
}

fn run(exe: &str, args: &[&Path]) -> String {
    let out = Command::new(exe)
        .args(args)
        .env("CAIRN_PASSWORD", "example test")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{exe}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn restored(target: &Path, src: &Path) -> std::path::PathBuf {
    target.join(src.strip_prefix("/").unwrap())
}

#[test]
fn backup_restore_then_restore_with_plan() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let (repo, t1, t2) = (
        dir.path().join("repo"),
        dir.path().join("t1"),
        dir.path().join("t2"),
    );
    let out = run(env!("CARGO_BIN_EXE_backup_restore"), &[&src, &repo, &t1]);
    assert!(out.contains("restored to"), "{out}");
    assert_eq!(
        std::fs::read(restored(&t1, &src).join("sub/b.bin")).unwrap(),
        vec![7u8; 300_000]
    );
    let out = run(env!("CARGO_BIN_EXE_restore_with_plan"), &[&repo, &t2]);
    assert!(out.contains("fetching"), "{out}");
    assert_eq!(
        std::fs::read(restored(&t2, &src).join("a.txt")).unwrap(),
        b"alpha"
    );
}

#[test]
fn erasure_from_code_survives_two_lost_disks() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let work = dir.path().join("work");
    let out = run(env!("CARGO_BIN_EXE_erasure_from_code"), &[&src, &work]);
    assert!(out.contains("identical = true"), "{out}");
    assert_eq!(out.matches("LOST").count(), 2, "{out}");
}

#[test]
fn s3_example_backs_up_twice_into_one_repository() {
    let Some(server) = cairn::backends::testing::s3_test_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let url = format!("s3:{}/{}/example-{nanos}", server.endpoint, server.bucket);
    let url = Path::new(&url);
    let first = run(env!("CARGO_BIN_EXE_s3"), &[url, &src]);
    let second = run(env!("CARGO_BIN_EXE_s3"), &[url, &src]);
    assert!(first.contains("snapshot"), "{first}");
    // The second run opened the repository the first created, and found
    // every file already stored (only the directory trees above the source
    // may change: /tmp's mtime moves with other processes).
    assert!(second.contains(": 0 files,"), "{second}");
    let stored: u64 = second
        .rsplit(", ")
        .next()
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(stored < 4096, "{second}");
}

/// The service example: scheduled backups, and a scrape of `/metrics` and
/// `/health` while it runs.
#[test]
fn service_serves_metrics_and_health_between_backups() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let repo = dir.path().join("repo");
    let mut child = Command::new(env!("CARGO_BIN_EXE_service"))
        .args([src.as_os_str(), repo.as_os_str()])
        .args(["1", "0", "2"])
        .env("CAIRN_PASSWORD", "example test")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.strip_prefix("listening on ").unwrap().to_owned();
    let backup = lines.next().unwrap().unwrap();
    assert!(backup.starts_with("backup 1 ok"), "{backup}");
    let get = |path: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let health = get("/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let metrics = get("/metrics");
    for name in [
        "cairn_backup_bytes_read_total",
        "cairn_backend_requests_total",
        "cairn_last_success_timestamp_seconds{operation=\"backup\"}",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
    let backup = lines.next().unwrap().unwrap();
    assert!(backup.starts_with("backup 2 ok"), "{backup}");
    assert!(child.wait().unwrap().success());
}
