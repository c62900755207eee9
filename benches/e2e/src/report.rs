//! The figures collected, as a markdown table and as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

/// Step names (the rows of the table).
pub(crate) const INITIAL: &str = "initial backup";
pub(crate) const UNCHANGED: &str = "unchanged re-backup";
pub(crate) const CHANGED: &str = "backup after small changes (day 1)";
pub(crate) const RESTORE: &str = "full restore";
pub(crate) const EC_BACKUP: &str = "backup into 4+2 erasure";
pub(crate) const EC_RESTORE: &str = "restore from 4+2, all 6 up";
pub(crate) const EC_DEGRADED: &str = "restore from 4+2, 2 of 6 gone";

/// One measured step.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    pub(crate) step: String,
    pub(crate) tool: String,
    pub(crate) secs: f64,
    /// Dataset bytes / wall time (for re-backups: the bytes scanned).
    pub(crate) mb_per_s: f64,
    pub(crate) files_per_s: f64,
    pub(crate) peak_rss_mib: Option<f64>,
    /// Cairn's own figures from the child (index size, bytes added, ...).
    pub(crate) detail: Value,
}

/// Everything measured on one dataset.
#[derive(Debug, Clone, Serialize, Default)]
pub(crate) struct DatasetReport {
    pub(crate) name: String,
    pub(crate) files: u64,
    pub(crate) bytes: u64,
    pub(crate) days: u64,
    pub(crate) rows: Vec<Row>,
    /// Apparent repository size after all backups, per tool.
    pub(crate) repo_bytes: BTreeMap<String, u64>,
    pub(crate) ceiling: Value,
    /// Restore checks: differences found per tool/step (empty: identical).
    pub(crate) restore_diffs: BTreeMap<String, Vec<String>>,
    pub(crate) notes: Vec<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Default)]
pub(crate) struct Report {
    pub(crate) date: String,
    pub(crate) command: String,
    pub(crate) machine: BTreeMap<String, String>,
    pub(crate) tools: BTreeMap<String, String>,
    pub(crate) datasets: Vec<DatasetReport>,
}

impl DatasetReport {
    pub(crate) fn row(&self, step: &str, tool: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.step == step && r.tool == tool)
    }

    /// Peer time / Cairn time for `step` (above 1: Cairn is faster).
    pub(crate) fn speedup(&self, step: &str, peer: &str) -> Option<f64> {
        Some(self.row(step, peer)?.secs / self.row(step, "cairn")?.secs)
    }

    fn goals(&self) -> Vec<(String, Option<bool>, String)> {
        let mut g = Vec::new();
        let fmt = |x: Option<f64>| x.map_or("n/a".to_owned(), |v| format!("{v:.2}"));
        let s = self.speedup(INITIAL, "restic");
        g.push((
            "initial backup ≥ 3× restic".into(),
            s.map(|v| v >= 3.0),
            format!("{}×", fmt(s)),
        ));
        let ceil = self.ceiling.get("mb_per_s").and_then(Value::as_f64);
        let frac = self
            .row(INITIAL, "cairn")
            .zip(ceil)
            .map(|(r, c)| r.mb_per_s / c);
        g.push((
            "initial backup ≥ 80% of pipeline ceiling".into(),
            frac.map(|v| v >= 0.8),
            format!("{}%", fmt(frac.map(|v| v * 100.0))),
        ));
        let s = self.speedup(UNCHANGED, "restic");
        g.push((
            "unchanged re-backup ≥ 5× restic".into(),
            s.map(|v| v >= 5.0),
            format!("{}×", fmt(s)),
        ));
        let s = self.speedup(RESTORE, "restic");
        g.push((
            "restore ≥ 2× restic".into(),
            s.map(|v| v >= 2.0),
            format!("{}×", fmt(s)),
        ));
        let peak = |tool: &str| {
            self.rows
                .iter()
                .filter(|r| r.tool == tool && r.step.contains("backup") && !r.step.contains("4+2"))
                .filter_map(|r| r.peak_rss_mib)
                .reduce(f64::max)
        };
        let (c, r) = (peak("cairn"), peak("restic"));
        g.push((
            "peak RSS of a backup ≤ restic's".into(),
            c.zip(r).map(|(c, r)| c <= r),
            format!("{} vs {} MiB", fmt(c), fmt(r)),
        ));
        let h = self.row(EC_RESTORE, "cairn 4+2").map(|r| r.secs);
        let d = self.row(EC_DEGRADED, "cairn 4+2").map(|r| r.secs);
        let f = h.zip(d).map(|(h, d)| h / d);
        g.push((
            "restore with 2 of 6 gone ≥ 90% of healthy".into(),
            f.map(|v| v >= 0.9),
            format!("{}%", fmt(f.map(|v| v * 100.0))),
        ));
        let (c, b) = (self.repo_bytes.get("cairn"), self.repo_bytes.get("borg"));
        g.push((
            format!("repo size after {} backups ≤ borg's", self.days + 2),
            c.zip(b).map(|(c, b)| c <= b),
            format!(
                "{} vs {} MiB",
                fmt(c.map(|&c| c as f64 / 1048576.0)),
                fmt(b.map(|&b| b as f64 / 1048576.0))
            ),
        ));
        g
    }

    /// The dataset's tables in markdown.
    pub(crate) fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### {}\n\n{} files, {:.1} MiB; {} days of changes after the initial backup.\n",
            self.name,
            self.files,
            self.bytes as f64 / 1048576.0,
            self.days
        );
        s.push_str(
            "| step | tool | wall s | MB/s | files/s | peak RSS MiB | peer time / Cairn time |\n",
        );
        s.push_str("|---|---|---:|---:|---:|---:|---:|\n");
        for r in &self.rows {
            let ratio = match r.tool.as_str() {
                "restic" | "borg" => self
                    .speedup(&r.step, &r.tool)
                    .map_or("".into(), |v| format!("{v:.2}×")),
                _ => String::new(),
            };
            let rss = r.peak_rss_mib.map_or("?".into(), |v| format!("{v:.0}"));
            let _ = writeln!(
                s,
                "| {} | {} | {:.2} | {:.1} | {:.0} | {} | {} |",
                r.step, r.tool, r.secs, r.mb_per_s, r.files_per_s, rss, ratio
            );
        }
        s.push_str("\n| repository size (apparent) | MiB | Cairn / tool |\n|---|---:|---:|\n");
        let cairn = self.repo_bytes.get("cairn").copied();
        for (tool, bytes) in &self.repo_bytes {
            let ratio = cairn.map_or("".into(), |c| format!("{:.2}", c as f64 / *bytes as f64));
            let _ = writeln!(s, "| {tool} | {:.1} | {ratio} |", *bytes as f64 / 1048576.0);
        }
        if let Some(r) = self.row(INITIAL, "cairn") {
            if let Some(v) = r
                .detail
                .get("index_bytes_per_chunk")
                .and_then(Value::as_f64)
            {
                let n = r
                    .detail
                    .get("index_blobs")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let _ = writeln!(s, "\nCairn resident index: {v:.1} bytes per chunk ({n} blobs after the initial backup).");
            }
            let open = r.detail.get("open_secs").and_then(Value::as_f64);
            let inner = r.detail.get("internal_secs").and_then(Value::as_f64);
            if let (Some(o), Some(i)) = (open, inner) {
                let _ = writeln!(
                    s,
                    "\nOf Cairn's {:.2} s initial backup, opening the repository (Argon2id key file, 64 MiB, t=3) took {o:.2} s \
                     and the archiver itself {i:.2} s ({:.1} MB/s); the rest is process start and exit.",
                    r.secs,
                    self.bytes as f64 / i / 1e6
                );
            }
        }
        if let Some(c) = self.ceiling.get("mb_per_s").and_then(Value::as_f64) {
            let st = &self.ceiling["single_core_mb_per_s"];
            let cairn = self.row(INITIAL, "cairn").map_or(0.0, |r| r.mb_per_s);
            let _ = writeln!(
                s,
                "\nPipeline ceiling (in memory, chunk + keyed BLAKE3 + zstd-3 + AES-GCM on {} threads): **{c:.0} MB/s**; \
                 Cairn's initial backup is {:.0}% of it. Single-core stages, MB/s: chunk {:.0}, keyed BLAKE3 {:.0}, zstd-3 {:.0}, seal {:.0}.",
                self.ceiling["threads"],
                100.0 * cairn / c,
                st["chunk"].as_f64().unwrap_or(0.0),
                st["keyed_blake3"].as_f64().unwrap_or(0.0),
                st["zstd3"].as_f64().unwrap_or(0.0),
                st["aes_gcm_seal"].as_f64().unwrap_or(0.0),
            );
        }
        s.push_str("\n| goal | met | figure |\n|---|---|---|\n");
        for (goal, met, fig) in self.goals() {
            let m = match met {
                Some(true) => "met",
                Some(false) => "**not met**",
                None => "n/a",
            };
            let _ = writeln!(s, "| {goal} | {m} | {fig} |");
        }
        for (what, d) in &self.restore_diffs {
            let verdict = if d.is_empty() {
                "identical".to_owned()
            } else {
                d.join("; ")
            };
            let _ = writeln!(s, "\nRestore check ({what}): {verdict}.");
        }
        for n in &self.notes {
            let _ = writeln!(s, "\nNote: {n}");
        }
        s
    }
}

impl Report {
    pub(crate) fn markdown(&self) -> String {
        let mut s = format!("## Run of {}\n\n`{}`\n\n", self.date, self.command);
        for (k, v) in &self.machine {
            let _ = writeln!(s, "- {k}: {v}");
        }
        for (k, v) in &self.tools {
            let _ = writeln!(s, "- {k}: {v}");
        }
        s.push('\n');
        for d in &self.datasets {
            s.push_str(&d.markdown());
            s.push('\n');
        }
        s
    }
}
