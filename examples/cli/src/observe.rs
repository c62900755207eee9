//! Logs (`-v`, `RUST_LOG`) and the `--metrics-file` writer.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Logs to stderr through `tracing`: `RUST_LOG` if set, else by `-v` count
/// (none: warnings only, which Cairn's layers rarely log).
pub(crate) fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(f) if !f.is_empty() => EnvFilter::new(f),
        _ => EnvFilter::new(match verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// The run's metrics, rendered to a file at the end.
pub(crate) struct Metrics {
    handle: PrometheusHandle,
    path: PathBuf,
}

impl Metrics {
    /// Installs the Prometheus recorder (before anything records).
    pub(crate) fn install(path: &Path) -> Result<Metrics> {
        let handle = PrometheusBuilder::new()
            .install_recorder()
            .context("installing the metrics recorder")?;
        Ok(Metrics {
            handle,
            path: path.to_owned(),
        })
    }

    /// Writes the Prometheus text exposition, replacing the file atomically
    /// (a collector never reads half a file).
    pub(crate) fn write(&self) -> Result<()> {
        let text = self.handle.render();
        let name = self
            .path
            .file_name()
            .context("--metrics-file needs a file name")?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = self.path.with_file_name(tmp_name);
        std::fs::write(&tmp, text)
            .with_context(|| format!("writing metrics to {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("writing metrics to {}", self.path.display()))
    }
}
