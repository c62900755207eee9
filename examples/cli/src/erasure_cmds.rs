//! `scrub` and `health`: commands for erasure layouts (`-r layout.toml`).

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use cairn::{Location, OpenedLocation, Redundancy, ScrubOptions};
use clap::Args;

use crate::ctx::{Ctx, Flat};

#[derive(Debug, Args)]
pub(crate) struct ScrubArgs {
    /// Rewrite missing, corrupt or stale shards.
    #[arg(long)]
    repair: bool,
}

/// The layout `-r` names, opened without a password (shards carry their
/// own checksums).
fn erasure(ctx: &Ctx) -> Result<OpenedLocation> {
    let loc = ctx.location()?;
    let opened = crate::location::open(&Location::parse(loc).flat()?, loc, false)?;
    if !opened.is_erasure() {
        bail!("{loc} is not an erasure layout (*.toml): nothing to scrub");
    }
    Ok(opened)
}

/// Warns on stderr when redundancy is degraded or was healed.
pub(crate) fn warn(r: &Redundancy) {
    if !r.heal.healed.is_empty() {
        eprintln!(
            "healed {} under-replicated objects ({} shards rewritten)",
            r.heal.healed.len(),
            r.heal.shards_repaired
        );
    }
    for c in &r.degraded.unreachable_children {
        eprintln!("warning: erasure child unreachable: {c}");
    }
    if r.degraded.objects > 0 {
        eprintln!(
            "warning: redundancy degraded: {} objects under-replicated; they survive fewer \
             lost backends than the layout promises until `cairn scrub --repair` (or the \
             next backup) rebuilds them once every child is back",
            r.degraded.objects
        );
    }
}

/// The `redundancy` field of `backup --json`.
pub(crate) fn json(r: &Redundancy) -> serde_json::Value {
    serde_json::json!({
        "degraded": r.degraded.objects > 0,
        "under_replicated": r.degraded.objects,
        "unreachable_children": r.degraded.unreachable_children,
        "healed": r.heal.healed.len(),
        "heal_errors": r.heal.errors,
    })
}

pub(crate) async fn scrub(ctx: &Ctx, a: ScrubArgs) -> Result<ExitCode> {
    let store = erasure(ctx)?;
    // Shards carry their own checksums: no password is needed to scrub.
    let report = store
        .scrub(ScrubOptions::new().repair(a.repair))
        .await
        .flat()
        .context("scrubbing")?;
    let degraded = store.degraded().await.flat()?;
    if ctx.json {
        let mut v = serde_json::to_value(&report).context("encoding the scrub report")?;
        v["under_replicated"] = degraded.objects.into();
        v["unreachable_children"] = serde_json::json!(degraded.unreachable_children);
        println!("{v}");
    } else if !ctx.quiet {
        print!("{report}");
    }
    if degraded.objects > 0 {
        eprintln!(
            "warning: redundancy degraded: {} objects under-replicated{}",
            degraded.objects,
            if a.repair {
                " (children still unreachable?)"
            } else {
                ": run `cairn scrub --repair`"
            }
        );
    }
    if !report.unrecoverable.is_empty() {
        bail!("{} objects cannot be recovered", report.unrecoverable.len());
    }
    if !report.conflicts.is_empty() {
        eprintln!(
            "{} objects have conflicting versions that were left untouched (see `conflict:` lines)",
            report.conflicts.len()
        );
        return Ok(ExitCode::from(1));
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
    let report = store.health().await.flat()?;
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
