//! The goal table of issue 13, filled from one run: each goal is a ratio
//! of two figures measured in this run, on every dataset it ran.

use std::fmt::Write as _;

use serde_json::Value;

use crate::report::{DatasetReport, Report, INITIAL, RESTORE, RESTORE_TMPFS, UNCHANGED};

/// One goal on one dataset: met or not (`None`: not measured), and the figure.
type Cell = (Option<bool>, String);

const EC: &str = "cairn 4+2";
const EC_GONE: &str = "cairn 4+2, 2 of 6 gone";

fn pct(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

/// Speed of `tool` as a fraction of plain Cairn's on `step`.
fn speed_vs_plain(d: &DatasetReport, step: &str, tool: &str) -> Option<f64> {
    Some(d.row(step, "cairn")?.secs / d.row(step, tool)?.secs)
}

/// A goal over both restore targets: met when met on both.
fn both_targets(f: impl Fn(&str) -> Option<f64>, min: f64, show: fn(f64) -> String) -> Cell {
    let (disk, tmpfs) = (f(RESTORE), f(RESTORE_TMPFS));
    let s = |x: Option<f64>| x.map_or("n/a".into(), show);
    match (disk, tmpfs) {
        // A dataset restored into tmpfs only (--disk-restore-max-files).
        (None, Some(t)) => (Some(t >= min), format!("tmpfs {} (no disk row)", show(t))),
        _ => (
            disk.zip(tmpfs).map(|(a, b)| a >= min && b >= min),
            format!("disk {}, tmpfs {}", s(disk), s(tmpfs)),
        ),
    }
}

fn times(x: f64) -> String {
    format!("{x:.2}×")
}

fn ratio_goal(x: Option<f64>, min: f64, show: fn(f64) -> String) -> Cell {
    (x.map(|v| v >= min), x.map_or("n/a".into(), show))
}

/// Highest peak RSS of `tool` over every backup step, MiB.
fn backup_peak(d: &DatasetReport, tool: &str) -> Option<f64> {
    d.rows
        .iter()
        .filter(|r| r.tool == tool && r.step.contains("backup"))
        .filter_map(|r| r.peak_rss_mib)
        .reduce(f64::max)
}

fn goals(d: &DatasetReport) -> Vec<(&'static str, Cell)> {
    let mut g = Vec::new();
    g.push((
        "restore from healthy 4+2 ≥ 80% of the plain restore's speed",
        both_targets(|s| speed_vs_plain(d, s, EC), 0.8, pct),
    ));
    g.push((
        "restore from 4+2 with 2 of 6 gone ≥ 70% of the plain restore's speed",
        both_targets(|s| speed_vs_plain(d, s, EC_GONE), 0.7, pct),
    ));
    g.push((
        "backup into 4+2 (initial) ≥ 80% of the plain backup's speed",
        ratio_goal(speed_vs_plain(d, INITIAL, EC), 0.8, pct),
    ));
    let rss = backup_peak(d, EC).zip(backup_peak(d, "cairn"));
    g.push((
        "backup into 4+2: peak RSS ≤ 1.5× plain (highest over every backup)",
        (
            rss.map(|(e, p)| e <= 1.5 * p),
            rss.map_or("n/a".into(), |(e, p)| {
                format!("{:.2}× ({e:.0} vs {p:.0} MiB)", e / p)
            }),
        ),
    ));
    g.push((
        "initial backup ≥ 3× restic",
        ratio_goal(d.speedup(INITIAL, "restic"), 3.0, times),
    ));
    g.push((
        "initial backup ≥ 2× rustic",
        ratio_goal(d.speedup(INITIAL, "rustic"), 2.0, times),
    ));
    let pipeline = d.ceiling.get("secs").and_then(Value::as_f64);
    let floor = d.floor.get("secs").and_then(Value::as_f64);
    let wall = d.row(INITIAL, "cairn").map(|r| r.secs);
    let limit = pipeline.zip(floor).map(|(p, f)| p + f);
    let frac = limit.zip(wall).map(|(l, w)| l / w);
    let alone = pipeline.zip(wall).map(|(p, w)| p / w);
    g.push((
        "initial backup ≥ 80% of the limit (floor + pipeline)",
        (
            frac.map(|v| v >= 0.8),
            format!(
                "{} (pipeline alone: {})",
                frac.map_or("n/a".into(), pct),
                alone.map_or("n/a".into(), pct)
            ),
        ),
    ));
    g.push((
        "unchanged re-backup ≥ 5× restic",
        ratio_goal(d.speedup(UNCHANGED, "restic"), 5.0, times),
    ));
    g.push((
        "unchanged re-backup ≤ 1.2× (its open + the metadata floor)",
        unchanged_vs_floor(d),
    ));
    g.push((
        "restore (plain) ≥ 2× restic",
        both_targets(|s| d.speedup(s, "restic"), 2.0, times),
    ));
    let rss = |s: &str| {
        let c = d.row(s, "cairn")?.peak_rss_mib?;
        Some(d.row(s, "restic")?.peak_rss_mib? / c)
    };
    g.push((
        "restore (plain): peak RSS ≤ restic's (restic's / Cairn's)",
        both_targets(rss, 1.0, times),
    ));
    g
}

/// Issue 23 item 1: the unchanged re-backup's wall time (the whole
/// process) against what it cannot avoid: its own `open` (the KDF and the
/// index) and the file system's metadata floor (walk and `statx` every
/// entry on every core).
fn unchanged_vs_floor(d: &DatasetReport) -> Cell {
    let row = d.row(UNCHANGED, "cairn");
    let open = row.and_then(|r| r.detail.get("open_secs")?.as_f64());
    let stat = d.floor.get("stat_secs").and_then(Value::as_f64);
    let Some(((wall, open), stat)) = row.map(|r| r.secs).zip(open).zip(stat) else {
        return (None, "n/a".into());
    };
    let x = wall / (open + stat);
    (
        Some(x <= 1.2),
        format!("{x:.2}× ({wall:.2} s; open {open:.2} s + floor {stat:.2} s)"),
    )
}

/// The goal table over every dataset of the run, in markdown.
pub(crate) fn table(r: &Report) -> String {
    let mut s = String::from("## Goals (issue 13), from this run\n\n| goal |");
    for d in &r.datasets {
        let _ = write!(s, " {} |", d.name);
    }
    s.push_str(" verdict |\n|---|");
    for _ in &r.datasets {
        s.push_str("---|");
    }
    s.push_str("---|\n");
    let per: Vec<Vec<(&str, Cell)>> = r.datasets.iter().map(goals).collect();
    let Some(first) = per.first() else {
        return String::from(
            "## Goals (issue 13), from this run\n\n| goal | this run | verdict |\n|---|---|---|\n",
        ) + &snapshots_row(r);
    };
    for (i, (name, _)) in first.iter().enumerate() {
        let _ = write!(s, "| {name} |");
        let mut verdict = Some(true);
        for cells in &per {
            let (met, fig) = &cells[i].1;
            let mark = match met {
                Some(true) => "",
                Some(false) => " **(not met)**",
                None => " (n/a)",
            };
            let _ = write!(s, " {fig}{mark} |");
            verdict = match (verdict, met) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            };
        }
        let v = match verdict {
            Some(true) => "met",
            Some(false) => "**not met**",
            None => "not measured everywhere",
        };
        let _ = writeln!(s, " {v} |");
    }
    s.push_str(&snapshots_row(r));
    s
}

/// The last goal, measured once per run (`--s3-snapshots`), not per
/// dataset: its figure goes in the first column.
fn snapshots_row(r: &Report) -> String {
    const GOAL: &str =
        "`snapshots` on SeaweedFS, 200 snapshots, warm cache ≥ 10× faster than without";
    let rest = " |".repeat(r.datasets.len().saturating_sub(1));
    let Some(f) = &r.s3 else {
        let why = r
            .s3_skipped
            .as_deref()
            .unwrap_or("not run (`--s3-snapshots 200`)");
        return format!("| {GOAL} | {why} |{rest} not measured |\n");
    };
    let (met, fig) = f.goal();
    let verdict = match met {
        Some(true) => "met",
        Some(false) => "**not met**",
        None => "not measured",
    };
    let n = if f.snapshots == 200 {
        String::new()
    } else {
        format!(" ({} snapshots, not 200)", f.snapshots)
    };
    format!("| {GOAL} | {fig}{n} |{rest} {verdict} |\n")
}
