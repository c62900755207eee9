//! `cairn forget`: apply a retention policy (restic's flags), optionally prune.

use std::process::ExitCode;

use anyhow::{Context, Result};
use cairn::{Bucket, GroupBy, KeepPolicy, PlanOptions, RetentionDuration};
use clap::Args;

use crate::backup::short;
use crate::ctx::{Ctx, Flat};
use crate::prune::{run_prune, PruneArgs};
use crate::select::{tag_list, SnapshotFilter};

#[derive(Debug, Args)]
pub(crate) struct ForgetArgs {
    /// Forget these snapshots (ids or id prefixes) instead of applying a
    /// policy; not with the --keep-* flags.
    #[arg(value_name = "SNAPSHOT")]
    snapshots: Vec<String>,
    /// Keep the last N snapshots (`unlimited` or -1: all).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    keep_last: Option<u32>,
    /// Keep the newest snapshot of each of the last N hours.
    #[arg(long, value_name = "N", value_parser = parse_count)]
    keep_hourly: Option<u32>,
    /// … days.
    #[arg(long, value_name = "N", value_parser = parse_count)]
    keep_daily: Option<u32>,
    /// … ISO weeks.
    #[arg(long, value_name = "N", value_parser = parse_count)]
    keep_weekly: Option<u32>,
    /// … months.
    #[arg(long, value_name = "N", value_parser = parse_count)]
    keep_monthly: Option<u32>,
    /// … years.
    #[arg(long, value_name = "N", value_parser = parse_count)]
    keep_yearly: Option<u32>,
    /// Keep every snapshot newer than the latest minus DURATION (`1y2m3d4h`).
    #[arg(long, value_name = "DURATION")]
    keep_within: Option<RetentionDuration>,
    /// Keep hourly snapshots within DURATION.
    #[arg(long, value_name = "DURATION")]
    keep_within_hourly: Option<RetentionDuration>,
    /// Keep daily snapshots within DURATION.
    #[arg(long, value_name = "DURATION")]
    keep_within_daily: Option<RetentionDuration>,
    /// Keep weekly snapshots within DURATION.
    #[arg(long, value_name = "DURATION")]
    keep_within_weekly: Option<RetentionDuration>,
    /// Keep monthly snapshots within DURATION.
    #[arg(long, value_name = "DURATION")]
    keep_within_monthly: Option<RetentionDuration>,
    /// Keep yearly snapshots within DURATION.
    #[arg(long, value_name = "DURATION")]
    keep_within_yearly: Option<RetentionDuration>,
    /// Keep snapshots with these tags (`a,b`: both; repeatable: any).
    #[arg(long, value_name = "TAGS")]
    keep_tag: Vec<String>,
    /// Group by `host`, `paths`, `tags` (comma-separated; '' for one group).
    #[arg(long, default_value = "host,paths")]
    group_by: String,
    #[command(flatten)]
    filter: SnapshotFilter,
    /// Count `within` durations back from now instead of from the newest
    /// snapshot of each group.
    #[arg(long)]
    from_now: bool,
    /// Time zone of the calendar buckets (IANA name).
    #[arg(long, default_value = "UTC")]
    time_zone: String,
    /// Allow a policy that removes every snapshot of a group.
    #[arg(long)]
    unsafe_allow_remove_all: bool,
    /// Show what would be removed; change nothing.
    #[arg(long, short = 'n')]
    dry_run: bool,
    /// Prune afterwards.
    #[arg(long)]
    prune: bool,
    #[command(flatten)]
    prune_args: PruneArgs,
}

fn parse_count(s: &str) -> Result<u32, String> {
    match s {
        "unlimited" | "-1" => Ok(u32::MAX),
        _ => s
            .parse()
            .map_err(|_| format!("{s:?}: expected a count, `unlimited` or -1")),
    }
}

impl ForgetArgs {
    /// Whether any --keep-* flag is given.
    fn has_policy(&self) -> bool {
        let counts = [
            self.keep_last,
            self.keep_hourly,
            self.keep_daily,
            self.keep_weekly,
            self.keep_monthly,
            self.keep_yearly,
        ];
        let withins = [
            self.keep_within,
            self.keep_within_hourly,
            self.keep_within_daily,
            self.keep_within_weekly,
            self.keep_within_monthly,
            self.keep_within_yearly,
        ];
        counts.iter().any(Option::is_some)
            || withins.iter().any(Option::is_some)
            || !self.keep_tag.is_empty()
    }

    fn policy(&self) -> KeepPolicy {
        let mut p = KeepPolicy::default()
            .last(self.keep_last.unwrap_or(0))
            .hourly(self.keep_hourly.unwrap_or(0))
            .daily(self.keep_daily.unwrap_or(0))
            .weekly(self.keep_weekly.unwrap_or(0))
            .monthly(self.keep_monthly.unwrap_or(0))
            .yearly(self.keep_yearly.unwrap_or(0));
        p.within = self.keep_within;
        for (b, d) in [
            (Bucket::Hourly, self.keep_within_hourly),
            (Bucket::Daily, self.keep_within_daily),
            (Bucket::Weekly, self.keep_within_weekly),
            (Bucket::Monthly, self.keep_within_monthly),
            (Bucket::Yearly, self.keep_within_yearly),
        ] {
            if let Some(d) = d {
                p = p.within_bucket(b, d);
            }
        }
        for t in &self.keep_tag {
            p = p.tag(tag_list(t));
        }
        p
    }
}

pub(crate) async fn run(ctx: &Ctx, a: ForgetArgs) -> Result<ExitCode> {
    let repo = ctx.open().await?;
    if !a.snapshots.is_empty() {
        return forget_ids(ctx, &repo, &a).await;
    }
    let group_by: GroupBy = a.group_by.parse()?;
    let mut opts = PlanOptions::default()
        .group_by(group_by)
        .time_zone_named(&a.time_zone)?
        .allow_remove_all(a.unsafe_allow_remove_all);
    if a.from_now {
        opts = opts.anchor_now();
    }
    let filter = a.filter.query();
    let report = repo
        .forget(&a.policy(), &opts, &filter, a.dry_run)
        .await
        .flat()
        .context("forget")?;
    if ctx.json && !a.prune {
        println!("{}", serde_json::to_string(&report)?);
    } else if !ctx.json {
        for g in &report.plan.groups {
            println!("snapshots of {}:", g.key);
            for d in &g.decisions {
                let verdict = if d.keep { "keep  " } else { "remove" };
                println!(
                    "  {verdict} {}  {}  {}",
                    short(&d.id),
                    d.time,
                    d.reasons.join(", ")
                );
            }
        }
        let removed = report.plan.remove().len();
        match a.dry_run {
            true => println!("would remove {removed} snapshots (dry run)"),
            false => println!("removed {removed} snapshots"),
        }
    }
    if a.prune && !a.dry_run {
        let forget_json = serde_json::to_value(&report)?;
        return run_prune(ctx, &repo, &a.prune_args, false, Some(forget_json)).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// `cairn forget ID…`: those snapshots, whatever a policy would say.
async fn forget_ids(ctx: &Ctx, repo: &cairn::Repository, a: &ForgetArgs) -> Result<ExitCode> {
    if a.has_policy() {
        anyhow::bail!("give snapshot ids or --keep-* flags, not both");
    }
    let mut ids = Vec::new();
    for arg in &a.snapshots {
        let (id, _) = repo
            .snapshot(&crate::backup::query(arg)?)
            .await
            .flat()
            .with_context(|| format!("finding snapshot {arg}"))?;
        ids.push(id);
    }
    let removed = repo
        .forget_snapshots(&ids, a.dry_run)
        .await
        .flat()
        .context("forget")?;
    let report = serde_json::json!({ "removed": removed, "dry_run": a.dry_run });
    if ctx.json && !a.prune {
        println!("{report}");
    } else if !ctx.json {
        for id in &removed {
            println!("  remove {}", short(id.as_ref()));
        }
        match a.dry_run {
            true => println!("would remove {} snapshots (dry run)", removed.len()),
            false => println!("removed {} snapshots", removed.len()),
        }
    }
    if a.prune && !a.dry_run {
        return run_prune(ctx, repo, &a.prune_args, false, Some(report)).await;
    }
    Ok(ExitCode::SUCCESS)
}
