//! Output helpers: sizes, rates, progress bars.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use cairn::{Progress, Warning};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `1536` → `1.500 KiB`, like restic.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.3} {}", UNITS[unit])
    }
}

/// Throughput in MiB/s (0 for a zero duration).
pub(crate) fn mib_per_sec(bytes: u64, secs: f64) -> f64 {
    if secs <= 0.0 {
        0.0
    } else {
        bytes as f64 / (1024.0 * 1024.0) / secs
    }
}

/// `m:ss` (or `h:mm:ss`).
pub(crate) fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Whether progress bars may be drawn: not asked to be quiet, and stderr is
/// a terminal.
pub(crate) fn interactive(quiet: bool, json: bool) -> bool {
    !quiet && !json && std::io::stderr().is_terminal()
}

/// A byte-counting progress bar on stderr; hidden when `show` is false.
pub(crate) fn byte_bar(show: bool, total: Option<u64>, verb: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(t) => ProgressBar::new(t),
        None => ProgressBar::new_spinner(),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    let template = if total.is_some() {
        format!("[{{elapsed}}] {verb} {{bar:30}} {{binary_bytes}} / {{binary_total_bytes}}  {{binary_bytes_per_sec}}  ETA {{eta}} {{msg}}")
    } else {
        format!(
            "[{{elapsed}}] {{spinner}} {verb} {{binary_bytes}}  {{binary_bytes_per_sec}}  {{msg}}"
        )
    };
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Backup progress: bytes and file count on a bar; warnings to stderr.
pub(crate) struct BackupBar {
    pub(crate) bar: ProgressBar,
    files: std::sync::atomic::AtomicU64,
}

impl BackupBar {
    pub(crate) fn new(bar: ProgressBar) -> Self {
        BackupBar {
            bar,
            files: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Progress for BackupBar {
    fn backup_file(&self, _path: &Path, _size: u64) {
        let n = self
            .files
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        self.bar.set_message(format!("{n} files"));
    }
    fn backup_bytes(&self, n: u64) {
        self.bar.inc(n);
    }
    fn backup_warning(&self, w: &Warning) {
        // Printed as they happen, even with --quiet (restic does too): the
        // exit code alone would not say which files are missing.
        self.bar.suspend(|| eprintln!("warning: {w}"));
    }
}

/// Restore progress: bytes written.
pub(crate) struct RestoreBar(pub(crate) ProgressBar);

impl Progress for RestoreBar {
    fn restore_bytes(&self, n: u64) {
        self.0.inc(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.500 KiB");
        assert_eq!(bytes(3 << 30), "3.000 GiB");
        assert_eq!(clock(Duration::from_secs(75)), "1:15");
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
        assert_eq!(mib_per_sec(1 << 20, 0.5), 2.0);
        assert_eq!(mib_per_sec(1, 0.0), 0.0);
    }
}
