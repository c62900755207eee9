//! The `run` command: prepares datasets, runs every tool's steps on the same
//! bytes in lockstep (all tools back up version N before version N+1 is
//! made; the tools take turns going first), and writes the report.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::report::{self, DatasetReport, Report, Row};
use crate::restores::restore_rows;
use crate::step::{ec_child, EC_K, EC_M};
use crate::tools::{self, Measured, Place, Tool};
use crate::{dataset, goals, s3snap, shapes};

/// Options of `cairn-bench run`.
#[derive(clap::Args, Debug)]
pub(crate) struct RunArgs {
    /// Size of the generated dataset in MiB (0: no generated dataset).
    #[arg(long, default_value_t = 256)]
    generate_mib: u64,
    /// A real directory to benchmark too (copied into the work dir, so the
    /// daily changes never touch the original).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Copy at most this many MiB of `--dir`.
    #[arg(long, default_value_t = 300)]
    size_cap_mib: u64,
    /// A dataset of this many small files (200 B–16 KiB, log-normal sizes,
    /// source-like text, 100 per directory; 0: none).
    #[arg(long, default_value_t = 0)]
    many_files: u64,
    /// The versioned set: 40 files of 5 MiB edited in place (6 random
    /// 4 KiB writes each), three versions.
    #[arg(long)]
    versioned: bool,
    /// Days of small changes (each backed up) after the initial backup
    /// (the versioned set always has its two edits instead).
    #[arg(long, default_value_t = 4)]
    days: u64,
    /// Restore rounds per tool and target (median reported); datasets of
    /// more than 50 000 files get one.
    #[arg(long, default_value_t = 1)]
    restore_rounds: usize,
    /// Datasets of more files than this are restored into tmpfs only (0:
    /// no limit): creating files on this VM's disk swings from ~20 µs to
    /// ~3 ms each between runs, which makes a disk restore of 300 000
    /// files take from seconds to a quarter of an hour per tool.
    #[arg(long, default_value_t = 0)]
    disk_restore_max_files: u64,
    /// Cairn restores plan and restore this many files at a time
    /// (`RestoreOptions::window`, `cairn restore --window FILES`), as a user
    /// restoring a big tree would, so memory does not grow with the file
    /// count; 0: one plan of the whole snapshot (the library's default).
    #[arg(long, value_name = "FILES", default_value_t = RESTORE_WINDOW)]
    restore_window: usize,
    /// Also time `cairn snapshots` on SeaweedFS with this many snapshots,
    /// with `--no-cache` and with a warm metadata cache (0: not run). Starts
    /// SeaweedFS as the tests do (`scripts/s3-server start`, installing it
    /// with pip if missing) and stops it by its PID at the end; needs the
    /// `cairn` binary next to this one (`cargo build --release -p
    /// cairn-cli`). Skipped with a message when either is missing.
    #[arg(long, value_name = "N", default_value_t = 0)]
    s3_snapshots: usize,
    /// `--s3-snapshots`: runs each way (alternating; medians).
    #[arg(long, default_value_t = 7)]
    s3_runs: usize,
    /// Scratch directory (datasets, repositories, restores); removed after.
    #[arg(long, default_value = "/tmp/cairn-bench")]
    work: PathBuf,
    /// A tmpfs directory for the second restore target; removed after.
    #[arg(long, default_value = "/dev/shm/cairn-bench-restore")]
    tmpfs: PathBuf,
    /// Tools to run (those not installed are skipped).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "cairn,restic,rustic,borg"
    )]
    tools: Vec<String>,
    /// Skip the 4+2 erasure rows.
    #[arg(long)]
    no_erasure: bool,
    /// Write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the markdown tables here too.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Keep the work directory.
    #[arg(long)]
    keep: bool,
}

/// The default of `--restore-window`. Measured on the 300 000-file set
/// (tmpfs target, three alternating rounds, 2026-11-30): one plan 10.4–11.5 s
/// at 354–358 MiB peak; windows of 50 000 files 9.5–10.5 s at 87–92 MiB;
/// of 10 000 files 10.3–10.9 s at 75–77 MiB. The plan is ~600 bytes a
/// file, so this window bounds it near 30 MB while keeping each window's
/// pack reads long.
const RESTORE_WINDOW: usize = 50_000;

/// Which kind of data a dataset is (decides its changes between backups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Generated,
    Real,
    ManyFiles,
    Versioned,
}

pub(crate) fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

pub(crate) fn log(msg: &str) {
    eprintln!("[{}] {msg}", sh("date +%T"));
}

fn choose_tools(args: &RunArgs, report: &mut Report) -> Vec<Tool> {
    let mut chosen = Vec::new();
    for (name, tool) in [
        ("cairn", Tool::Cairn),
        ("restic", Tool::Restic),
        ("rustic", Tool::Rustic),
        ("borg", Tool::Borg),
    ] {
        if !args.tools.iter().any(|t| t == name) {
            continue;
        }
        if tool.available() {
            report.tools.insert(name.into(), tool.version());
            chosen.push(tool);
            if tool == Tool::Cairn && !args.no_erasure {
                chosen.push(Tool::CairnEc);
            }
        } else {
            let why = match tool {
                Tool::Rustic => "not installed: skipped (cargo install rustic-rs --locked)",
                _ => "not installed: skipped",
            };
            log(&format!("{name} {why}"));
            report.tools.insert(name.into(), why.into());
        }
    }
    chosen
}

pub(crate) fn run(args: &RunArgs) -> Result<()> {
    let mut report = Report {
        date: sh("date -u '+%Y-%m-%d %H:%M UTC'"),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        ..Report::default()
    };
    let m = &mut report.machine;
    m.insert(
        "cpu".into(),
        sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"),
    );
    m.insert("nproc".into(), sh("nproc"));
    m.insert(
        "memory".into(),
        sh("grep MemTotal /proc/meminfo | tr -s ' '"),
    );
    m.insert("kernel".into(), sh("uname -r"));
    m.insert("load average at start".into(), sh("cat /proc/loadavg"));
    let chosen = choose_tools(args, &mut report);

    for dir in [&args.work, &args.tmpfs] {
        if dir.exists() {
            fs::remove_dir_all(dir).with_context(|| format!("clear {}", dir.display()))?;
        }
        fs::create_dir_all(dir)?;
    }
    let work = fs::canonicalize(&args.work)?;
    let tmpfs = fs::canonicalize(&args.tmpfs)?;

    let mut sets: Vec<(Kind, String, PathBuf)> = Vec::new();
    if args.generate_mib > 0 {
        let name = format!("Generated versioned dataset ({} MiB)", args.generate_mib);
        sets.push((Kind::Generated, name, work.join("generated")));
    }
    if args.dir.is_some() {
        sets.push((Kind::Real, String::new(), work.join("real")));
    }
    if args.many_files > 0 {
        let name = format!("Many small files ({})", args.many_files);
        sets.push((Kind::ManyFiles, name, work.join("many")));
    }
    if args.versioned {
        let name = "Versioned set (40 × 5 MiB edited in place, 3 versions)".to_owned();
        sets.push((Kind::Versioned, name, work.join("versioned")));
    }
    for (kind, mut name, data) in sets {
        log(&format!("preparing {}", data.display()));
        match kind {
            Kind::Generated => dataset::generate(&data, args.generate_mib << 20, 42)?,
            Kind::Real => {
                let dir = args.dir.as_deref().unwrap_or(Path::new("."));
                dataset::copy_capped(dir, &data, args.size_cap_mib << 20)?;
                name = format!(
                    "Real directory: {} (≤ {} MiB copied)",
                    dir.display(),
                    args.size_cap_mib
                );
            }
            Kind::ManyFiles => shapes::many_files(&data, args.many_files, shapes::MANY_SEED)?,
            Kind::Versioned => shapes::versioned(&data, 1)?,
        }
        let d = bench_dataset(args, &work, &tmpfs, &data, kind, name, &chosen)?;
        report.datasets.push(d);
        fs::remove_dir_all(&data)?;
        // After every dataset, so a run cut short keeps what it measured.
        write_out(args, &report)?;
    }
    if args.s3_snapshots > 0 {
        match s3snap::run(&work, args.s3_snapshots, args.s3_runs) {
            Ok(f) => report.s3 = Some(f),
            Err(why) => report.s3_skipped = Some(why),
        }
    }
    report
        .machine
        .insert("load average at end".into(), sh("cat /proc/loadavg"));
    println!("{}", write_out(args, &report)?);
    let _ = fs::remove_dir_all(&tmpfs);
    if !args.keep {
        fs::remove_dir_all(&work)?;
    }
    Ok(())
}

/// Writes the markdown (with the goal table) and the JSON asked for;
/// returns the markdown.
fn write_out(args: &RunArgs, report: &Report) -> Result<String> {
    let md = report.markdown() + &goals::table(report);
    if let Some(p) = &args.markdown {
        fs::write(p, &md).with_context(|| format!("write {}", p.display()))?;
    }
    if let Some(p) = &args.json {
        fs::write(p, serde_json::to_string_pretty(report)?)
            .with_context(|| format!("write {}", p.display()))?;
    }
    Ok(md)
}

pub(crate) fn row(step: &str, tool: Tool, m: &Measured, files: u64, bytes: u64) -> Row {
    Row {
        step: step.into(),
        tool: tool.name().into(),
        secs: m.secs,
        mb_per_s: bytes as f64 / m.secs / 1e6,
        files_per_s: files as f64 / m.secs,
        peak_rss_mib: m.rss_kib.map(|k| k as f64 / 1024.0),
        detail: m.extra.clone(),
    }
}

pub(crate) fn place(work: &Path, tag: &str, tool: Tool) -> Place {
    let slug = tool.name().replace([' ', '+', ','], "-");
    Place {
        repo: work.join(format!("repo-{tag}-{slug}")),
        cache: work.join(format!("cache-{tag}-{slug}")),
    }
}

/// `tools` rotated by `turn`, so that no tool always goes first (the page
/// cache and the machine's other load then favour no one).
pub(crate) fn turn_order(tools: &[Tool], turn: usize) -> Vec<Tool> {
    let mut v = tools.to_vec();
    if !v.is_empty() {
        let n = turn % v.len();
        v.rotate_left(n);
    }
    v
}

/// Runs every step of every tool on the dataset at `data`.
fn bench_dataset(
    args: &RunArgs,
    work: &Path,
    tmpfs: &Path,
    data: &Path,
    kind: Kind,
    name: String,
    chosen: &[Tool],
) -> Result<DatasetReport> {
    let tag = data
        .file_name()
        .map_or("d".into(), |s| s.to_string_lossy().into_owned());
    let (files, bytes) = dataset::warm(data)?;
    let days = if kind == Kind::Versioned {
        2
    } else {
        args.days
    };
    let mut rep = DatasetReport {
        name,
        files,
        bytes,
        days,
        ..DatasetReport::default()
    };
    log(&format!(
        "{}: {files} files, {bytes} bytes; ceiling, floor",
        rep.name
    ));
    rep.ceiling = tools::measure("ceiling", data, work)?.extra;
    rep.floor = tools::measure("floor", data, work)?.extra;

    for &t in chosen {
        tools::init(t, &place(work, &tag, t), work)?;
    }
    let mut n = 0;
    for step in [report::INITIAL, report::UNCHANGED] {
        for t in turn_order(chosen, n) {
            log(&format!("{step}: {}", t.name()));
            dataset::warm(data)?;
            let m = tools::backup(t, &place(work, &tag, t), data, n, work)?;
            rep.rows.push(row(step, t, &m, files, bytes));
        }
        n += 1;
    }
    let (mut files, mut bytes) = (files, bytes);
    for day in 1..=days {
        if kind == Kind::Versioned {
            shapes::versioned_edit(data, day)?;
        } else {
            dataset::mutate(data, day)?;
        }
        (files, bytes) = dataset::warm(data)?;
        let step = match (kind, day) {
            (Kind::Versioned, _) => format!("backup of version {}", day + 1),
            (_, 1) => report::CHANGED.to_owned(),
            _ => format!("backup after day {day}"),
        };
        for t in turn_order(chosen, n) {
            log(&format!("{step}: {}", t.name()));
            dataset::warm(data)?;
            let m = tools::backup(t, &place(work, &tag, t), data, n, work)?;
            rep.rows.push(row(&step, t, &m, files, bytes));
        }
        n += 1;
    }
    for &t in chosen {
        let p = place(work, &tag, t);
        let size = if t == Tool::CairnEc {
            (0..EC_K + EC_M)
                .map(|i| dataset::du(&ec_child(&p.repo, i)))
                .sum::<Result<u64>>()?
        } else {
            dataset::du(&p.repo)?
        };
        rep.repo_bytes.insert(t.name().into(), size);
    }
    let rounds = if files > 50_000 {
        1
    } else {
        args.restore_rounds.max(1)
    };
    let mut contenders = chosen.to_vec();
    if chosen.contains(&Tool::CairnEc) {
        // Two whole backends lost: one data shard's and one parity shard's.
        let from = place(work, &tag, Tool::CairnEc).repo;
        let to = place(work, &tag, Tool::CairnEcDegraded).repo;
        let status = Command::new("cp").arg("-a").arg(&from).arg(&to).status()?;
        anyhow::ensure!(status.success(), "copy {}", from.display());
        for i in [1, EC_K] {
            fs::remove_dir_all(ec_child(&to, i))?;
        }
        contenders.push(Tool::CairnEcDegraded);
    }
    if args.restore_window > 0 {
        rep.notes.push(format!(
            "Cairn restores ran {} files at a time (`--restore-window`, as `cairn restore --window {}`).",
            args.restore_window, args.restore_window
        ));
    }
    let on_disk = args.disk_restore_max_files == 0 || files <= args.disk_restore_max_files;
    if !on_disk {
        rep.notes.push(format!(
            "restored into tmpfs only: more than {} files (--disk-restore-max-files).",
            args.disk_restore_max_files
        ));
    }
    let roots: &[&Path] = if on_disk { &[work, tmpfs] } else { &[tmpfs] };
    restore_rows(
        &mut rep,
        &contenders,
        |t| place(work, &tag, t),
        data,
        roots,
        (n - 1, args.restore_window),
        rounds,
        (files, bytes),
    )?;
    for &t in &contenders {
        let p = place(work, &tag, t);
        let _ = fs::remove_dir_all(&p.repo);
        let _ = fs::remove_dir_all(&p.cache);
    }
    Ok(rep)
}
