//! `scrub` and `health`: commands for erasure layouts (`-r layout.toml`).

use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use cairn_erasure::{Degraded, ErasureBackend, HealReport, ScrubOptions};
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

/// The state of an erasure layout's redundancy after a backup.
pub(crate) struct Redundancy {
    heal: HealReport,
    degraded: Degraded,
}

/// After a backup: heals what can be healed now (objects recorded by
/// earlier runs whose children are back; nothing is read for children
/// still down), then counts what remains under-replicated.
pub(crate) async fn after_backup(store: &ErasureBackend) -> Redundancy {
    let heal = store.heal().await;
    let degraded = store.degraded().await;
    cairn::metrics::erasure(store, degraded.objects);
    Redundancy { heal, degraded }
}

impl Redundancy {
    /// Warns on stderr when redundancy is degraded or was healed.
    pub(crate) fn warn(&self) {
        if !self.heal.healed.is_empty() {
            eprintln!(
                "healed {} under-replicated objects ({} shards rewritten)",
                self.heal.healed.len(),
                self.heal.shards_repaired
            );
        }
        for c in &self.degraded.unreachable_children {
            eprintln!("warning: erasure child unreachable: {c}");
        }
        if self.degraded.objects > 0 {
            eprintln!(
                "warning: redundancy degraded: {} objects under-replicated; they survive fewer \
                 lost backends than the layout promises until `cairn scrub --repair` (or the \
                 next backup) rebuilds them once every child is back",
                self.degraded.objects
            );
        }
    }

    /// The `redundancy` field of `backup --json`.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "degraded": self.degraded.objects > 0,
            "under_replicated": self.degraded.objects,
            "unreachable_children": self.degraded.unreachable_children,
            "healed": self.heal.healed.len(),
            "heal_errors": self.heal.errors,
        })
    }
}

pub(crate) async fn scrub(ctx: &Ctx, a: ScrubArgs) -> Result<ExitCode> {
    let store = erasure(ctx)?;
    // Shards carry their own checksums: no password is needed to scrub.
    let report = store
        .scrub(ScrubOptions::new().repair(a.repair))
        .await
        .context("scrubbing")?;
    let degraded = store.degraded().await;
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
