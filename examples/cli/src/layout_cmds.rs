//! `layout plan`: durability, tolerance and cost of an erasure layout,
//! from a layout file or from a code and its regions. The model is the
//! library's (`cairn::plan_layout`); this only parses and prints.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use cairn::{LayoutPlanOptions, LayoutToPlan};
use clap::{Args, Subcommand};

use crate::ctx::{Ctx, Flat};

#[derive(Debug, Subcommand)]
pub(crate) enum LayoutCommand {
    /// Annual loss probability ("nines"), storage overhead, which children
    /// and regions can be lost, and cost, for a layout file or a code.
    Plan(PlanArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// A layout file (`*.toml`); or give --data, --parity and --children.
    layout: Option<PathBuf>,
    /// Data shards.
    #[arg(long, requires_all = ["parity", "children"], conflicts_with = "layout")]
    data: Option<usize>,
    /// Parity shards.
    #[arg(long)]
    parity: Option<usize>,
    /// Children (one per shard: data + parity).
    #[arg(long)]
    children: Option<usize>,
    /// Regions, comma-separated: one per child, or dealt round-robin
    /// (`a,b,c` over 6 children puts two in each).
    #[arg(long, value_delimiter = ',')]
    regions: Vec<String>,
    /// Annual failure rate of one child (0.02 = 2%).
    #[arg(long, default_value_t = 0.02)]
    afr: f64,
    /// Annual failure rate of a whole region.
    #[arg(long, default_value_t = 0.0)]
    region_afr: f64,
    /// Annual failure rate of a whole zone.
    #[arg(long, default_value_t = 0.0)]
    zone_afr: f64,
    /// Hours from a child's failure until its shards are rebuilt. Default:
    /// half the heal interval plus (stored bytes / data) at the rebuild rate.
    #[arg(long)]
    heal_hours: Option<f64>,
    /// Hours between heal / `scrub --repair` runs.
    #[arg(long, default_value_t = 24.0)]
    heal_interval_hours: f64,
    /// MB/s a repair rewrites one child at.
    #[arg(long, default_value_t = 100.0)]
    rebuild_mb_per_s: f64,
    /// GB of objects stored (for rebuild time, bytes lost and cost).
    #[arg(long, default_value_t = 1000.0)]
    stored_gb: f64,
}

fn hours(h: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(h * 3600.0).with_context(|| format!("{what} {h} hours"))
}

pub(crate) fn run(ctx: &Ctx, c: LayoutCommand) -> Result<ExitCode> {
    let LayoutCommand::Plan(a) = c;
    if !(a.stored_gb.is_finite() && a.stored_gb >= 0.0) {
        bail!("--stored-gb {} must be a non-negative number", a.stored_gb);
    }
    let opts = LayoutPlanOptions::default()
        .afr(a.afr)
        .region_afr(a.region_afr)
        .zone_afr(a.zone_afr)
        .heal(a.heal_hours.map(|h| hours(h, "--heal-hours")).transpose()?)
        .heal_interval(hours(a.heal_interval_hours, "--heal-interval-hours")?)
        .rebuild_bytes_per_sec(a.rebuild_mb_per_s * 1e6)
        .stored_bytes((a.stored_gb * 1e9) as u64);
    let plan = match (&a.layout, a.data, a.parity, a.children) {
        (Some(path), None, ..) => cairn::plan_layout(LayoutToPlan::File(path), &opts),
        (None, Some(data), Some(parity), Some(n)) => {
            let children = cairn::round_robin_regions(n, &a.regions);
            cairn::plan_layout(
                LayoutToPlan::Code {
                    data,
                    parity,
                    children,
                },
                &opts,
            )
        }
        _ => bail!("give a layout file, or --data, --parity and --children"),
    }
    .flat()
    .context("planning the layout")?;
    if ctx.json {
        println!(
            "{}",
            serde_json::to_string(&plan).context("encoding the plan")?
        );
    } else {
        print!("{plan}");
    }
    Ok(ExitCode::SUCCESS)
}
