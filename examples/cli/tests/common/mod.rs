//! Scaffolding shared by the CLI integration tests: running the built `cairn`
//! binary hermetically, checking its exit status, temporary directories and
//! deterministic test data.
//!
//! Every test binary compiles this module on its own (`mod common;`) and uses
//! only part of it, hence `#[allow(dead_code)]` on every item but [`cairn`],
//! which all of them use.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The password most tests give their repositories.
#[allow(dead_code)]
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// `cairn -r REPO ARGS` with `password`, the cheap test KDF, and no
/// inherited `CAIRN_REPOSITORY` or `CAIRN_PASSWORD_FILE`, which would
/// otherwise let the caller's environment choose the repository or password.
/// The metadata cache goes under cargo's scratch directory for tests, not
/// the user's home. Callers add or remove further variables before running it.
pub(crate) fn cairn(repo: impl AsRef<OsStr>, password: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
    c.arg("-r")
        .arg(repo)
        .args(args)
        .env("CAIRN_PASSWORD", password)
        .env("CAIRN_INSECURE_TEST_KDF", "1")
        .env_remove("CAIRN_REPOSITORY")
        .env_remove("CAIRN_PASSWORD_FILE")
        .env_remove("CAIRN_NO_CACHE")
        .env(
            "CAIRN_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/cli-cache"),
        );
    c
}

/// Standard output and standard error, lossily decoded.
#[allow(dead_code)]
pub(crate) fn texts(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Panics, showing the exit status and both outputs, unless `cairn ARGS`
/// (which produced `out`) succeeded.
#[allow(dead_code)]
pub(crate) fn assert_success(args: &[&str], out: &Output) {
    let (stdout, stderr) = texts(out);
    assert!(
        out.status.success(),
        "cairn {args:?} failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
}

/// [`assert_success`], then the standard output, which must be UTF-8.
#[allow(dead_code)]
pub(crate) fn success_stdout(args: &[&str], out: Output) -> String {
    assert_success(args, &out);
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh temporary directory and its canonical path. Canonical because
/// snapshots record absolute paths and the tests compare them; the
/// [`tempfile::TempDir`] must be kept alive for as long as the path is used.
#[allow(dead_code)]
pub(crate) fn temp_root() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    (tmp, root)
}

/// Where the absolute snapshot path `p` lands when restored under `target`.
#[allow(dead_code)]
pub(crate) fn under(target: &Path, p: &Path) -> PathBuf {
    target.join(p.strip_prefix("/").unwrap())
}

/// Deterministic incompressible bytes (xorshift), different per `seed`.
#[allow(dead_code)]
pub(crate) fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Every file (not directory) below `dir`, recursively, sorted.
#[allow(dead_code)]
pub(crate) fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Parses `text` as a JSON array (`snapshots --json`, `key list --json`…).
#[allow(dead_code)]
pub(crate) fn json_array(text: &str) -> Vec<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}
