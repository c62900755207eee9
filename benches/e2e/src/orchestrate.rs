//! The `run` command: prepares datasets, runs every tool's steps on the same
//! bytes in lockstep (all tools back up version N before version N+1 is
//! made), and writes the report.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::dataset;
use crate::report::{self, DatasetReport, Report, Row};
use crate::step::{ec_child, EC_K, EC_M};
use crate::tools::{self, Measured, Place, Tool};

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
    /// Days of small changes (each backed up) after the initial backup.
    #[arg(long, default_value_t = 4)]
    days: u64,
    /// Scratch directory (datasets, repositories, restores); removed after.
    #[arg(long, default_value = "/tmp/cairn-bench")]
    work: PathBuf,
    /// Tools to run (those not installed are skipped).
    #[arg(long, value_delimiter = ',', default_value = "cairn,restic,borg")]
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

fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn log(msg: &str) {
    eprintln!("[{}] {msg}", sh("date +%T"));
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
    let mut chosen = Vec::new();
    for (name, tool) in [
        ("cairn", Tool::Cairn),
        ("restic", Tool::Restic),
        ("borg", Tool::Borg),
    ] {
        if !args.tools.iter().any(|t| t == name) {
            continue;
        }
        if tool.available() {
            report.tools.insert(name.into(), tool.version());
            chosen.push(tool);
        } else {
            report
                .tools
                .insert(name.into(), "not installed: skipped".into());
        }
    }
    let rustic = if tools::on_path("rustic") {
        "installed but not run (no runner for it yet)"
    } else {
        "not installed: skipped (cargo install rustic-rs is too slow to build here)"
    };
    report.tools.insert("rustic".into(), rustic.into());

    if args.work.exists() {
        fs::remove_dir_all(&args.work).with_context(|| format!("clear {}", args.work.display()))?;
    }
    fs::create_dir_all(&args.work)?;
    let work = fs::canonicalize(&args.work)?;

    if args.generate_mib > 0 {
        let data = work.join("generated");
        log(&format!("generating {} MiB", args.generate_mib));
        dataset::generate(&data, args.generate_mib << 20, 42)?;
        let name = format!("Generated versioned dataset ({} MiB)", args.generate_mib);
        let d = bench_dataset(args, &work, &data, name, &chosen)?;
        report.datasets.push(d);
        fs::remove_dir_all(&data)?;
    }
    if let Some(dir) = &args.dir {
        let data = work.join("real");
        log(&format!("copying {}", dir.display()));
        dataset::copy_capped(dir, &data, args.size_cap_mib << 20)?;
        let name = format!(
            "Real directory: {} (≤ {} MiB copied)",
            dir.display(),
            args.size_cap_mib
        );
        let d = bench_dataset(args, &work, &data, name, &chosen)?;
        report.datasets.push(d);
        fs::remove_dir_all(&data)?;
    }
    report
        .machine
        .insert("load average at end".into(), sh("cat /proc/loadavg"));

    let md = report.markdown();
    println!("{md}");
    if let Some(p) = &args.markdown {
        fs::write(p, &md).with_context(|| format!("write {}", p.display()))?;
    }
    if let Some(p) = &args.json {
        fs::write(p, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("write {}", p.display()))?;
    }
    if !args.keep {
        fs::remove_dir_all(&work)?;
    }
    Ok(())
}

fn row(step: &str, tool: Tool, m: &Measured, files: u64, bytes: u64) -> Row {
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

fn place(work: &Path, tag: &str, tool: Tool) -> Place {
    let slug = tool.name().replace([' ', '+'], "-");
    Place {
        repo: work.join(format!("repo-{tag}-{slug}")),
        cache: work.join(format!("cache-{tag}-{slug}")),
    }
}

/// Runs every step of every tool on the dataset at `data`.
fn bench_dataset(
    args: &RunArgs,
    work: &Path,
    data: &Path,
    name: String,
    chosen: &[Tool],
) -> Result<DatasetReport> {
    let tag = data
        .file_name()
        .map_or("d".into(), |s| s.to_string_lossy().into_owned());
    let (files, bytes) = dataset::warm(data)?;
    let mut rep = DatasetReport {
        name,
        files,
        bytes,
        days: args.days,
        ..DatasetReport::default()
    };
    log(&format!(
        "{}: {files} files, {bytes} bytes; ceiling",
        rep.name
    ));
    rep.ceiling = tools::ceiling(data, work)?.extra;

    for &t in chosen {
        tools::init(t, &place(work, &tag, t), work)?;
    }
    let mut n = 0;
    for step in [report::INITIAL, report::UNCHANGED] {
        for &t in chosen {
            log(&format!("{step}: {}", t.name()));
            dataset::warm(data)?;
            let m = tools::backup(t, &place(work, &tag, t), data, n, work)?;
            rep.rows.push(row(step, t, &m, files, bytes));
        }
        n += 1;
    }
    let (mut files, mut bytes) = (files, bytes);
    for day in 1..=args.days {
        dataset::mutate(data, day)?;
        (files, bytes) = dataset::warm(data)?;
        let step = if day == 1 {
            report::CHANGED.to_owned()
        } else {
            format!("backup after day {day}")
        };
        for &t in chosen {
            log(&format!("{step}: {}", t.name()));
            dataset::warm(data)?;
            let m = tools::backup(t, &place(work, &tag, t), data, n, work)?;
            rep.rows.push(row(&step, t, &m, files, bytes));
        }
        n += 1;
    }
    for &t in chosen {
        let p = place(work, &tag, t);
        rep.repo_bytes
            .insert(t.name().into(), dataset::du(&p.repo)?);
    }
    let rel = data.strip_prefix("/").unwrap_or(data);
    for &t in chosen {
        log(&format!("restore: {}", t.name()));
        let target = work.join("restore");
        let m = tools::restore(t, &place(work, &tag, t), &target, n - 1, work)?;
        rep.rows.push(row(report::RESTORE, t, &m, files, bytes));
        rep.restore_diffs
            .insert(t.name().into(), dataset::compare(data, &target.join(rel))?);
        fs::remove_dir_all(&target)?;
        // Free the disk (and the page cache) before the next tool.
        let p = place(work, &tag, t);
        if t != Tool::Cairn {
            let _ = fs::remove_dir_all(&p.repo);
        }
        let _ = fs::remove_dir_all(&p.cache);
    }
    if args.no_erasure {
        rep.notes
            .push("4+2 erasure rows skipped (--no-erasure).".into());
    } else {
        erasure_rows(work, &tag, data, files, bytes, &mut rep)?;
    }
    let _ = fs::remove_dir_all(place(work, &tag, Tool::Cairn).repo);
    Ok(rep)
}

/// Backs the current data up into a 4+2 layout over six local directories,
/// restores it, deletes two of the six directories, restores again.
fn erasure_rows(
    work: &Path,
    tag: &str,
    data: &Path,
    files: u64,
    bytes: u64,
    rep: &mut DatasetReport,
) -> Result<()> {
    let t = Tool::CairnEc;
    let p = place(work, tag, t);
    let rel = data.strip_prefix("/").unwrap_or(data);
    tools::init(t, &p, work)?;
    log("backup into 4+2");
    dataset::warm(data)?;
    let m = tools::backup(t, &p, data, 0, work)?;
    rep.rows.push(row(report::EC_BACKUP, t, &m, files, bytes));
    let mut shards = 0;
    for i in 0..EC_K + EC_M {
        shards += dataset::du(&ec_child(&p.repo, i))?;
    }
    rep.repo_bytes
        .insert("cairn 4+2 (one backup, all shards)".into(), shards);
    for (step, gone) in [(report::EC_RESTORE, false), (report::EC_DEGRADED, true)] {
        if gone {
            // Two whole backends lost: one data shard's and one parity shard's.
            for i in [1, EC_K] {
                fs::remove_dir_all(ec_child(&p.repo, i))?;
            }
        }
        log(step);
        let target = work.join("restore");
        let m = tools::restore(t, &p, &target, 0, work)?;
        rep.rows.push(row(step, t, &m, files, bytes));
        rep.restore_diffs.insert(
            format!("{} {step}", t.name()),
            dataset::compare(data, &target.join(rel))?,
        );
        fs::remove_dir_all(&target)?;
    }
    fs::remove_dir_all(&p.repo)?;
    if let Some(v) = m_detail(rep) {
        rep.notes.push(v);
    }
    Ok(())
}

fn m_detail(rep: &DatasetReport) -> Option<String> {
    let r = rep.row(report::EC_DEGRADED, Tool::CairnEc.name())?;
    let fetched = r.detail.get("bytes_fetched").and_then(Value::as_u64)?;
    Some(format!(
        "the degraded 4+2 restore fetched {:.1} MiB of packs through the erasure backend.",
        fetched as f64 / 1048576.0
    ))
}
