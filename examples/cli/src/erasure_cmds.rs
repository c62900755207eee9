//! `scrub` and `health`: commands for erasure layouts (`-r layout.toml`).

use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use cairn_erasure::ScrubOptions;
use clap::Args;

use crate::ctx::Ctx;

#[derive(Debug, Args)]
pub(crate) struct ScrubArgs {
    /// Rewrite missing, corrupt or stale shards.
    #[arg(long)]
    repair: bool,
}

fn erasure(ctx: &Ctx) -> Result<std::sync::Arc<cairn_erasure::ErasureBackend>> {
    let loc = ctx.location()?;
    ctx.backend()?
        .erasure
        .ok_or_else(|| anyhow!("{loc} is not an erasure layout (*.toml): nothing to scrub"))
}

pub(crate) async fn scrub(ctx: &Ctx, a: ScrubArgs) -> Result<ExitCode> {
    let store = erasure(ctx)?;
    // Shards carry their own checksums: no password is needed to scrub.
    let report = store
        .scrub(ScrubOptions::new().repair(a.repair))
        .await
        .context("scrubbing")?;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({
                "objects_scanned": report.objects_scanned,
                "objects_healthy": report.objects_healthy,
                "shards_ok": report.shards_ok,
                "shards_missing": report.shards_missing,
                "shards_corrupt": report.shards_corrupt,
                "shards_stale": report.shards_stale,
                "shards_unreachable": report.shards_unreachable,
                "shards_repaired": report.shards_repaired,
                "unrecoverable": report.unrecoverable,
                "errors": report.errors,
            })
        );
    } else if !ctx.quiet {
        print!("{report}");
    }
    if !report.unrecoverable.is_empty() {
        bail!("{} objects cannot be recovered", report.unrecoverable.len());
    }
    let damaged = report.shards_missing + report.shards_corrupt + report.shards_stale;
    if !a.repair && damaged > 0 {
        eprintln!("{damaged} shards need repair: run `cairn scrub --repair`");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn health(ctx: &Ctx) -> Result<ExitCode> {
    let store = erasure(ctx)?;
    // Touch every child once so the report has something to say.
    let _ = store.scrub(ScrubOptions::new().limit(1)).await;
    let report = store.health_report();
    if ctx.json {
        let children: Vec<serde_json::Value> = report
            .children
            .iter()
            .map(|c| {
                serde_json::json!({
                    "index": c.index, "name": c.name, "labels": c.labels.to_string(),
                    "state": c.state.to_string(), "successes": c.successes,
                    "failures": c.failures, "timeouts": c.timeouts,
                    "latency_ms": c.latency.map(|d| d.as_secs_f64() * 1e3),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(children));
    } else {
        print!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}
