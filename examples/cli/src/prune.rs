//! `cairn prune`: delete unreferenced data, safely while backups run.

use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use cairn::{PruneOptions, PrunePlan, Repository};
use clap::Args;

use crate::ctx::{Ctx, Flat};
use crate::ui;

#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Unused space allowed to stay in partly used packs, in percent of the
    /// used data (e.g. `5%`); `unlimited` never repacks.
    #[arg(long, default_value = "5%", value_name = "PCT")]
    max_unused: String,
    /// Repack at most this many bytes per run (e.g. `500M`, `2G`).
    #[arg(long, value_name = "SIZE")]
    max_repack: Option<String>,
    /// Minimum time between condemning data and deleting it (e.g. `1h`).
    /// Safety comes from the protocol; 0 is safe.
    #[arg(long, default_value = "0s", value_name = "DURATION")]
    grace: String,
    /// A backup whose lease has not moved for two prune runs and this long
    /// is declared dead (it then fails instead of committing).
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    stale_after: String,
}

#[derive(Debug, Args)]
pub(crate) struct PruneCmd {
    /// Show the plan; change nothing.
    #[arg(long, short = 'n')]
    dry_run: bool,
    #[command(flatten)]
    args: PruneArgs,
}

fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let m: u64 = match s[i..]
                .to_ascii_uppercase()
                .trim_end_matches("IB")
                .trim_end_matches('B')
            {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                "T" => 1 << 40,
                u => return Err(anyhow!("size {s:?}: unknown unit {u:?}")),
            };
            (&s[..i], m)
        }
        None => (s, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| anyhow!("size {s:?}: expected e.g. 500M"))?;
    n.checked_mul(mult)
        .ok_or_else(|| anyhow!("size {s:?} too large"))
}

impl PruneArgs {
    fn options(&self) -> Result<PruneOptions> {
        let pct = match self.max_unused.trim() {
            "unlimited" => f64::INFINITY,
            s => s
                .trim_end_matches('%')
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|p| *p >= 0.0)
                .ok_or_else(|| anyhow!("--max-unused {s:?}: expected a percentage like 5%"))?,
        };
        let mut o = PruneOptions::default().max_unused_percent(pct);
        if let Some(s) = &self.max_repack {
            o = o.max_repack_bytes(parse_size(s)?);
        }
        let grace = humantime::parse_duration(&self.grace)
            .map_err(|e| anyhow!("--grace {:?}: {e}", self.grace))?;
        let stale = humantime::parse_duration(&self.stale_after)
            .map_err(|e| anyhow!("--stale-after {:?}: {e}", self.stale_after))?;
        Ok(o.grace(grace).stale_after(stale))
    }
}

fn print_plan(p: &PrunePlan) {
    println!(
        "{} snapshots, {} packs ({}), {} used",
        p.snapshots,
        p.packs,
        ui::bytes(p.bytes_total),
        ui::bytes(p.bytes_used)
    );
    println!(
        "to delete: {} packs ({})",
        p.packs_to_delete.len(),
        ui::bytes(p.bytes_to_delete)
    );
    println!(
        "to repack: {} packs (download {}, upload {})",
        p.packs_to_repack.len(),
        ui::bytes(p.bytes_to_download),
        ui::bytes(p.bytes_to_upload)
    );
    println!("frees:     {}", ui::bytes(p.bytes_freed));
    println!("index:     {} objects now", p.index_objects);
    if !p.strays.is_empty() {
        println!(
            "strays:    {} keys with stray shards to condemn",
            p.strays.len()
        );
    }
    if let Some(why) = &p.strays_unlisted {
        println!("strays:    not looked for ({why})");
    }
    for r in &p.pending {
        println!(
            "pending:   {} ({} packs) waits for {} running sessions",
            r.name,
            r.packs,
            r.waiting_for.len()
        );
    }
}

pub(crate) async fn run_prune(
    ctx: &Ctx,
    repo: &Repository,
    args: &PruneArgs,
    dry_run: bool,
    forget: Option<serde_json::Value>,
) -> Result<ExitCode> {
    // On an erasure layout the library condemns stray shards too.
    let opts = args.options()?;
    let bar = ui::byte_bar(ui::interactive(ctx.quiet, ctx.json), None, "scanning");
    let plan = repo
        .prune_plan(&opts)
        .await
        .flat()
        .context("planning the prune")?;
    bar.finish_and_clear();
    if dry_run {
        match ctx.json {
            true => println!("{}", serde_json::to_string(&plan)?),
            false => print_plan(&plan),
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !ctx.json && !ctx.quiet {
        print_plan(&plan);
    }
    let bar = ui::byte_bar(ui::interactive(ctx.quiet, ctx.json), None, "pruning");
    let report = repo.prune(&opts, plan).await.flat().context("prune")?;
    bar.finish_and_clear();
    if ctx.json {
        let mut v = serde_json::to_value(&report)?;
        if let (Some(f), Some(o)) = (forget, v.as_object_mut()) {
            o.insert("forget".into(), f);
        }
        println!("{v}");
    } else {
        println!(
            "deleted {} packs ({}), kept {} found in use again, index: {} written, {} removed",
            report.packs_deleted,
            ui::bytes(report.bytes_deleted),
            report.packs_kept,
            report.index_written,
            report.index_deleted
        );
        if report.strays_deleted > 0 || !report.stray_errors.is_empty() {
            println!(
                "stray shards: {} removed from {} keys, {} keys failed (a later prune retries)",
                report.stray_pieces_deleted,
                report.strays_deleted,
                report.stray_errors.len()
            );
        }
        if report.still_pending > 0 {
            println!(
                "{} condemned record(s) wait for running backups; a later prune deletes them",
                report.still_pending
            );
        }
        for s in &report.sessions_killed {
            println!("declared dead: session {s} (its lease stopped moving)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn run(ctx: &Ctx, a: PruneCmd) -> Result<ExitCode> {
    let repo = ctx.open().await?;
    run_prune(ctx, &repo, &a.args, a.dry_run, None).await
}
