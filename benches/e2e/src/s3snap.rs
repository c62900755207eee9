//! `run --s3-snapshots N`: the metadata cache's goal (issue 13): `cairn
//! snapshots` on SeaweedFS with N snapshots, with `--no-cache` and with a
//! warm cache, alternating, medians.
//!
//! The server is started as the tests start theirs (`scripts/s3-server
//! start`, which installs SeaweedFS with pip when missing), in a directory of
//! its own under the work directory, and stopped by its PID at the end. When
//! it cannot be had, or the `cairn` binary is not built next to this one, the
//! step is skipped with a message.
//!
//! Two repositories are filled, each by one child process through the
//! library (N backups of a 200-file tree, one file changed each time, so
//! every snapshot has its own index object and tree pack): one whose key
//! file has the default Argon2id parameters (what a user has: its ~0.15 s
//! is paid alike with and without the cache) and one with the minimal KDF
//! (so the ratio is the cache's own effect, as in the cache's test).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::orchestrate::log;
use crate::step::PASSWORD;

/// What the S3 step measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct S3Figures {
    pub(crate) snapshots: usize,
    pub(crate) runs: usize,
    pub(crate) server: String,
    /// Per repository (key-file KDF): the timings.
    pub(crate) rows: Vec<S3Row>,
}

/// `cairn snapshots` on one repository, both ways.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct S3Row {
    /// `default` (Argon2id 64 MiB, t=3) or `minimal` (8 KiB, t=1).
    pub(crate) kdf: String,
    /// Time to make the snapshots (one process, through the library).
    pub(crate) fill_secs: f64,
    pub(crate) no_cache_ms: f64,
    pub(crate) warm_ms: f64,
}

impl S3Row {
    /// Without the cache / with it.
    pub(crate) fn speedup(&self) -> f64 {
        self.no_cache_ms / self.warm_ms
    }
}

/// The running server; stopped (by its PID, through the script) on drop.
struct Server {
    /// The script's state directory (`CAIRN_S3_DIR`).
    dir: PathBuf,
    tmp: PathBuf,
    env: Vec<(String, String)>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/s3-server")
}

fn lookup<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

impl Server {
    /// Starts SeaweedFS in a fresh directory under `tmp` (its `TMPDIR`,
    /// so no other server's pointer file is touched).
    fn start(tmp: &Path) -> Result<Server> {
        std::fs::create_dir_all(tmp)?;
        let out = Command::new(script())
            .arg("start")
            .env("TMPDIR", tmp)
            .env_remove("CAIRN_S3_DIR")
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("run {}", script().display()))?;
        if !out.status.success() {
            bail!("`scripts/s3-server start` failed ({})", out.status);
        }
        let env: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches(['"', '\'']).to_owned()))
            .collect();
        let dir = lookup(&env, "CAIRN_S3_DIR").context("the script exported no CAIRN_S3_DIR")?;
        let server = Server {
            dir: PathBuf::from(dir),
            tmp: tmp.to_owned(),
            env,
        };
        for name in [
            "CAIRN_S3_ENDPOINT",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            if lookup(&server.env, name).is_none() {
                bail!("the script exported no {name}");
            }
        }
        Ok(server)
    }

    fn pid(&self) -> Option<String> {
        let pid = std::fs::read_to_string(self.dir.join("pid")).ok()?;
        Some(pid.trim().to_owned())
    }

    /// `s3:http://127.0.0.1:PORT/BUCKET/PREFIX`.
    fn location(&self, prefix: &str) -> String {
        let endpoint = lookup(&self.env, "CAIRN_S3_ENDPOINT").unwrap_or_default();
        let bucket = lookup(&self.env, "CAIRN_S3_BUCKET").unwrap_or("cairn-test");
        format!("s3:{endpoint}/{bucket}/{prefix}")
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env.iter().map(|(k, v)| (k, v)))
            .env_remove("CAIRN_REPOSITORY")
            .env_remove("CAIRN_PASSWORD_FILE")
            .env_remove("CAIRN_NO_CACHE")
            .env_remove("CAIRN_CACHE_DIR")
            .env("CAIRN_PASSWORD", PASSWORD)
            .stdin(Stdio::null());
        c
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.pid();
        // The script's `stop` sends SIGTERM to the PID in its directory
        // (SIGKILL after 10 s) and removes the directory.
        let _ = Command::new(script())
            .arg("stop")
            .env("CAIRN_S3_DIR", &self.dir)
            .env("TMPDIR", &self.tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        if let Some(pid) = pid {
            if Path::new("/proc").join(&pid).exists() {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
            log(&format!("SeaweedFS (PID {pid}) stopped"));
        }
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// The `cairn` CLI built next to this binary (`cargo build --release -p
/// cairn-cli`).
fn cairn_cli() -> Option<PathBuf> {
    let p = std::env::current_exe().ok()?.with_file_name("cairn");
    p.is_file().then_some(p)
}

/// Runs the step; when it cannot run here, why (also logged).
pub(crate) fn run(work: &Path, snapshots: usize, runs: usize) -> Result<S3Figures, String> {
    let skip = |why: String| {
        log(&format!("--s3-snapshots: {why}"));
        Err(why)
    };
    let Some(cli) = cairn_cli() else {
        return skip(
            "skipped: no `cairn` binary next to cairn-bench \
             (cargo build --release -p cairn-cli)"
                .into(),
        );
    };
    log("--s3-snapshots: starting SeaweedFS (scripts/s3-server start)");
    let server = match Server::start(&work.join("s3")) {
        Ok(s) => s,
        Err(e) => return skip(format!("skipped: SeaweedFS did not start: {e:#}")),
    };
    log(&format!(
        "SeaweedFS up (PID {})",
        server.pid().unwrap_or_default()
    ));
    measure(&server, &cli, work, snapshots, runs.max(1))
        .or_else(|e| skip(format!("failed, left out: {e:#}")))
}

fn measure(
    server: &Server,
    cli: &Path,
    work: &Path,
    snapshots: usize,
    runs: usize,
) -> Result<S3Figures> {
    let version = Command::new(server_program(server))
        .arg("version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .unwrap_or_default();
    let mut rows = Vec::new();
    for kdf in ["minimal", "default"] {
        let location = server.location(&format!("bench-{kdf}-{}", std::process::id()));
        let src = work.join(format!("s3-src-{kdf}"));
        log(&format!("--s3-snapshots: {snapshots} snapshots, {kdf} KDF"));
        let t = Instant::now();
        let mut fill = server.command(std::env::current_exe()?);
        fill.args(["step", "s3-fill", "--url", &location, "--src"])
            .arg(&src)
            .arg("--snapshots")
            .arg(snapshots.to_string());
        if kdf == "minimal" {
            fill.arg("--minimal-kdf");
        }
        let out = fill.output().context("run step s3-fill")?;
        if !out.status.success() {
            bail!("s3-fill: {}", String::from_utf8_lossy(&out.stderr));
        }
        let fill_secs = t.elapsed().as_secs_f64();
        let _ = std::fs::remove_dir_all(&src);
        let cache = work.join(format!("s3-cache-{kdf}"));
        let timed = |cached: bool| -> Result<f64> {
            let mut c = server.command(cli);
            c.arg("-r").arg(&location);
            if cached {
                c.arg("--cache-dir").arg(&cache);
            } else {
                c.arg("--no-cache");
            }
            c.arg("snapshots");
            let t = Instant::now();
            let out = c.output().context("run cairn snapshots")?;
            let secs = t.elapsed().as_secs_f64();
            let text = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() || text.lines().count() < snapshots {
                bail!(
                    "cairn snapshots ({}): {} lines; {}",
                    out.status,
                    text.lines().count(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Ok(secs * 1e3)
        };
        timed(true)?; // fills the cache
        let (mut cold, mut warm) = (Vec::new(), Vec::new());
        for i in 0..runs {
            // Alternating, each going first in turn.
            if i % 2 == 0 {
                cold.push(timed(false)?);
                warm.push(timed(true)?);
            } else {
                warm.push(timed(true)?);
                cold.push(timed(false)?);
            }
        }
        let _ = std::fs::remove_dir_all(&cache);
        rows.push(S3Row {
            kdf: kdf.into(),
            fill_secs,
            no_cache_ms: median(cold),
            warm_ms: median(warm),
        });
    }
    Ok(S3Figures {
        snapshots,
        runs,
        server: version,
        rows,
    })
}

/// The `weed` the server runs (first word of its saved command line).
fn server_program(server: &Server) -> String {
    std::fs::read_to_string(server.dir.join("cmd"))
        .ok()
        .and_then(|c| c.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "weed".into())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

impl S3Figures {
    fn row(&self, kdf: &str) -> Option<&S3Row> {
        self.rows.iter().find(|r| r.kdf == kdf)
    }

    /// The section of the report.
    pub(crate) fn markdown(&self) -> String {
        let mut s = format!(
            "### `cairn snapshots` on SeaweedFS ({} snapshots)\n\n\
             SeaweedFS {} on localhost (`scripts/s3-server`); whole `cairn` processes \
             (`--no-cache` against `--cache-dir` warmed once), median of {} runs each way, \
             alternating. Snapshots made through the library, one process per repository.\n\n\
             | key file KDF | snapshots made in s | `--no-cache` ms | warm cache ms | speed-up |\n\
             |---|---:|---:|---:|---:|\n",
            self.snapshots, self.server, self.runs
        );
        for r in &self.rows {
            let kdf = match r.kdf.as_str() {
                "default" => "default (Argon2id 64 MiB, t=3)",
                _ => "minimal (8 KiB, t=1)",
            };
            s.push_str(&format!(
                "| {kdf} | {:.1} | {:.0} | {:.0} | {:.1}× |\n",
                r.fill_secs,
                r.no_cache_ms,
                r.warm_ms,
                r.speedup()
            ));
        }
        s
    }

    /// The goal's cell: met or not, from the minimal-KDF repository (the
    /// cache's own effect: a key derivation costs the same with and without
    /// it), with the default-KDF figure beside it.
    pub(crate) fn goal(&self) -> (Option<bool>, String) {
        let Some(m) = self.row("minimal") else {
            return (None, "n/a".into());
        };
        let mut fig = format!(
            "{:.1}× ({:.0} vs {:.0} ms, key with the minimal KDF)",
            m.speedup(),
            m.no_cache_ms,
            m.warm_ms
        );
        if let Some(d) = self.row("default") {
            fig.push_str(&format!(
                "; {:.1}× with the default Argon2id key ({:.0} vs {:.0} ms)",
                d.speedup(),
                d.no_cache_ms,
                d.warm_ms
            ));
        }
        (Some(m.speedup() >= 10.0), fig)
    }
}
