//! Running each tool's steps as child processes, timed from outside, with the
//! child's peak RSS from `/usr/bin/time -f %M` (or, for Cairn's own steps
//! without it, the child's VmHWM).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::step::PASSWORD;

/// A tool under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tool {
    /// Cairn on one local directory.
    Cairn,
    /// Cairn on a 4+2 erasure layout over six local directories.
    CairnEc,
    /// A copy of [`Tool::CairnEc`]'s repository with two of the six
    /// directories deleted (restores only).
    CairnEcDegraded,
    /// restic (`--compression auto`, zstd).
    Restic,
    /// borg 1.x (`repokey-blake2`, `zstd,3`).
    Borg,
    /// rustic (restic's format in Rust; zstd-3 by default).
    Rustic,
}

impl Tool {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tool::Cairn => "cairn",
            Tool::CairnEc => "cairn 4+2",
            Tool::CairnEcDegraded => "cairn 4+2, 2 of 6 gone",
            Tool::Restic => "restic",
            Tool::Borg => "borg",
            Tool::Rustic => "rustic",
        }
    }
    /// Whether the tool's program is installed.
    pub(crate) fn available(self) -> bool {
        match self {
            Tool::Cairn | Tool::CairnEc | Tool::CairnEcDegraded => true,
            Tool::Restic => on_path("restic"),
            Tool::Borg => on_path("borg"),
            Tool::Rustic => rustic_program().is_some(),
        }
    }
    /// The version string, for the report.
    pub(crate) fn version(self) -> String {
        let out = match self {
            Tool::Cairn | Tool::CairnEc | Tool::CairnEcDegraded => {
                return env!("CARGO_PKG_VERSION").to_owned()
            }
            Tool::Restic => Command::new("restic").arg("version").output(),
            Tool::Borg => Command::new("borg").arg("--version").output(),
            Tool::Rustic => match rustic_program() {
                Some(p) => Command::new(p).arg("--version").output(),
                None => return String::new(),
            },
        };
        out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }
    /// Cairn's own steps (JSON on stdout).
    pub(crate) fn is_cairn(self) -> bool {
        matches!(self, Tool::Cairn | Tool::CairnEc | Tool::CairnEcDegraded)
    }
    fn erasure(self) -> bool {
        matches!(self, Tool::CairnEc | Tool::CairnEcDegraded)
    }
}

pub(crate) fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// rustic on `PATH`, or where `cargo install rustic-rs` puts it.
pub(crate) fn rustic_program() -> Option<PathBuf> {
    if on_path("rustic") {
        return Some(PathBuf::from("rustic"));
    }
    let home = std::env::var_os("HOME")?;
    let p = Path::new(&home).join(".cargo/bin/rustic");
    p.is_file().then_some(p)
}

/// What one timed child run measured.
#[derive(Debug, Clone)]
pub(crate) struct Measured {
    /// Wall time seen by the parent (includes process start and key derivation).
    pub(crate) secs: f64,
    /// Peak RSS of the child, KiB.
    pub(crate) rss_kib: Option<u64>,
    /// Cairn steps' JSON output.
    pub(crate) extra: Value,
}

/// Where a tool keeps its repository, caches and restores in one run.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub(crate) repo: PathBuf,
    pub(crate) cache: PathBuf,
}

fn run(cmd: Command, scratch: &Path, cairn: bool) -> Result<Measured> {
    let time_out = scratch.join(format!("time-{}.txt", std::process::id()));
    let wrapped = Path::new("/usr/bin/time").is_file();
    let desc = format!(
        "{:?} {:?}",
        cmd.get_program(),
        cmd.get_args().collect::<Vec<_>>()
    );
    let mut full = if wrapped {
        let mut w = Command::new("/usr/bin/time");
        w.arg("-f").arg("%M").arg("-o").arg(&time_out);
        w.arg(cmd.get_program()).args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => w.env(k, v),
                None => w.env_remove(k),
            };
        }
        if let Some(d) = cmd.get_current_dir() {
            w.current_dir(d);
        }
        w
    } else {
        cmd
    };
    full.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let out = full.output().with_context(|| format!("run {desc}"))?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "{desc} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let extra: Value = if cairn {
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(text.trim()).with_context(|| format!("step output {text:?}"))?
    } else {
        Value::Null
    };
    let rss_kib = if wrapped {
        std::fs::read_to_string(&time_out)
            .ok()
            .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
    } else {
        extra.get("vmhwm_kib").and_then(Value::as_u64)
    };
    let _ = std::fs::remove_file(&time_out);
    Ok(Measured {
        secs,
        rss_kib,
        extra,
    })
}

fn cairn(step: &str, repo: &Path, ec: bool) -> Result<Command> {
    let mut c = Command::new(std::env::current_exe()?);
    c.arg("step").arg(step).arg("--repo").arg(repo);
    if ec {
        c.arg("--erasure");
    }
    Ok(c)
}

fn restic(place: &Place) -> Command {
    let mut c = Command::new("restic");
    c.env("RESTIC_PASSWORD", PASSWORD)
        .env("RESTIC_REPOSITORY", &place.repo)
        .env("RESTIC_CACHE_DIR", &place.cache)
        .arg("--quiet");
    c
}

fn rustic(place: &Place) -> Command {
    let mut c = Command::new(rustic_program().unwrap_or_else(|| "rustic".into()));
    c.env("RUSTIC_PASSWORD", PASSWORD)
        .env("RUSTIC_REPOSITORY", &place.repo)
        .env("RUSTIC_CACHE_DIR", &place.cache)
        .env("RUSTIC_NO_PROGRESS", "true");
    c
}

fn borg(place: &Place) -> Command {
    let mut c = Command::new("borg");
    c.env("BORG_PASSPHRASE", PASSWORD)
        .env("BORG_REPO", &place.repo)
        .env("BORG_BASE_DIR", &place.cache)
        .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
        .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes");
    c
}

/// Creates the tool's repository.
pub(crate) fn init(tool: Tool, place: &Place, scratch: &Path) -> Result<Measured> {
    let cmd = match tool {
        t if t.is_cairn() => cairn("init", &place.repo, t.erasure())?,
        Tool::Restic => {
            let mut c = restic(place);
            c.args(["init", "--repository-version", "2"]);
            c
        }
        Tool::Cairn | Tool::CairnEc | Tool::CairnEcDegraded | Tool::Borg => {
            let mut c = borg(place);
            c.args(["init", "--encryption=repokey-blake2"]);
            c
        }
        Tool::Rustic => {
            let mut c = rustic(place);
            c.arg("init");
            c
        }
    };
    run(cmd, scratch, tool.is_cairn())
}

/// Backs up `src`; `n` numbers the backup (borg archive names).
pub(crate) fn backup(
    tool: Tool,
    place: &Place,
    src: &Path,
    n: usize,
    scratch: &Path,
) -> Result<Measured> {
    let cmd = match tool {
        t if t.is_cairn() => {
            let mut c = cairn("backup", &place.repo, t.erasure())?;
            c.arg("--src").arg(src);
            c
        }
        Tool::Restic => {
            let mut c = restic(place);
            c.args(["backup", "--compression", "auto", "--host", "bench"])
                .arg(src);
            c
        }
        Tool::Cairn | Tool::CairnEc | Tool::CairnEcDegraded | Tool::Borg => {
            let mut c = borg(place);
            c.args(["create", "--compression", "zstd,3"])
                .arg(format!("::v{n}"))
                .arg(src);
            c
        }
        Tool::Rustic => {
            let mut c = rustic(place);
            c.args(["backup", "--host", "bench"]).arg(src);
            c
        }
    };
    run(cmd, scratch, tool.is_cairn())
}

/// Restores the latest backup (`n`, for borg) under `target`; Cairn
/// `window` files at a time (0: one plan).
pub(crate) fn restore(
    tool: Tool,
    place: &Place,
    target: &Path,
    (n, window): (usize, usize),
    scratch: &Path,
) -> Result<Measured> {
    std::fs::create_dir_all(target)?;
    let cmd = match tool {
        t if t.is_cairn() => {
            let mut c = cairn("restore", &place.repo, t.erasure())?;
            c.arg("--target").arg(target);
            c.arg("--window").arg(window.to_string());
            c
        }
        Tool::Restic => {
            let mut c = restic(place);
            c.args(["restore", "latest", "--target"]).arg(target);
            c
        }
        Tool::Cairn | Tool::CairnEc | Tool::CairnEcDegraded | Tool::Borg => {
            let mut c = borg(place);
            c.arg("extract").arg(format!("::v{n}")).current_dir(target);
            c
        }
        Tool::Rustic => {
            let mut c = rustic(place);
            c.args(["restore", "latest"]).arg(target);
            c
        }
    };
    run(cmd, scratch, tool.is_cairn())
}

/// Runs `cairn-bench step <what> --src src` (the pipeline ceiling, the
/// file-system floor) in a child process.
pub(crate) fn measure(what: &str, src: &Path, scratch: &Path) -> Result<Measured> {
    let mut c = Command::new(std::env::current_exe()?);
    c.args(["step", what, "--src"]).arg(src);
    run(c, scratch, true)
}
