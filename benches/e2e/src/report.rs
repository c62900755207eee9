//! The figures collected, as a markdown table and as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

/// Step names (the rows of the table).
pub(crate) const INITIAL: &str = "initial backup";
pub(crate) const UNCHANGED: &str = "unchanged re-backup";
pub(crate) const CHANGED: &str = "backup after small changes (day 1)";
pub(crate) const RESTORE: &str = "full restore (disk)";
pub(crate) const RESTORE_TMPFS: &str = "full restore (tmpfs)";

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
    /// The file-system floor (`floor` step): walk and read every file.
    pub(crate) floor: Value,
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
    /// `--s3-snapshots`: `cairn snapshots` on SeaweedFS without and with the cache.
    pub(crate) s3: Option<crate::s3snap::S3Figures>,
    /// `--s3-snapshots` asked for but not measured: why.
    pub(crate) s3_skipped: Option<String>,
}

impl DatasetReport {
    pub(crate) fn row(&self, step: &str, tool: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.step == step && r.tool == tool)
    }

    /// Peer time / Cairn time for `step` (above 1: Cairn is faster).
    pub(crate) fn speedup(&self, step: &str, peer: &str) -> Option<f64> {
        Some(self.row(step, peer)?.secs / self.row(step, "cairn")?.secs)
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
            "| step | tool | wall s | MB/s | files/s | peak RSS MiB | peer time / Cairn time, or 4+2 speed as % of plain |\n",
        );
        s.push_str("|---|---|---:|---:|---:|---:|---:|\n");
        for r in &self.rows {
            let ratio = match r.tool.as_str() {
                "cairn" => String::new(),
                t if t.starts_with("cairn") => self
                    .speedup(&r.step, t)
                    .map_or("".into(), |v| format!("{:.0}%", 100.0 / v)),
                t => self
                    .speedup(&r.step, t)
                    .map_or("".into(), |v| format!("{v:.2}×")),
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
        if let Some(f) = self.floor.get("secs").and_then(Value::as_f64) {
            let _ = writeln!(
                s,
                "\nFile-system floor (walk, open, fstat and read every file, no processing, {} threads, best of 3): \
                 **{f:.2} s** ({:.0} MB/s, {:.0} files/s). The limit for a backup is taken as floor + pipeline: {:.2} s.",
                self.floor["threads"],
                self.floor["mb_per_s"].as_f64().unwrap_or(0.0),
                self.floor["files_per_s"].as_f64().unwrap_or(0.0),
                f + self.ceiling["secs"].as_f64().unwrap_or(0.0),
            );
        }
        if let Some(f) = self.floor.get("stat_secs").and_then(Value::as_f64) {
            let _ = writeln!(
                s,
                "\nMetadata floor (walk and `statx` every entry, no open, same threads, best of 3): \
                 **{f:.3} s**, the least an unchanged re-backup does."
            );
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
        if let Some(f) = &self.s3 {
            s.push_str(&f.markdown());
            s.push('\n');
        }
        s
    }
}
