//! `cairn tag`, `cairn hold`, `cairn release`: changing snapshots after
//! the fact (admin keys; each journaled).

use std::process::ExitCode;

use anyhow::{Context, Result};
use cairn::jiff::Timestamp;
use cairn::{SnapshotId, TagChange};
use clap::Args;

use crate::backup::short;
use crate::ctx::{Ctx, Flat};

#[derive(Debug, Args)]
pub(crate) struct TagArgs {
    /// Snapshots (ids, id prefixes or `latest`).
    #[arg(required = true, value_name = "SNAPSHOT")]
    snapshots: Vec<String>,
    /// Add these tags (`a,b` or repeated).
    #[arg(long, value_delimiter = ',')]
    add: Vec<String>,
    /// Remove these tags.
    #[arg(long, value_delimiter = ',')]
    remove: Vec<String>,
    /// Replace every tag with these (`--set ''`: no tags).
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    set: Option<Vec<String>>,
}

#[derive(Debug, Args)]
pub(crate) struct RewriteArgs {
    /// Snapshots (ids, id prefixes or `latest`).
    #[arg(required = true, value_name = "SNAPSHOT")]
    snapshots: Vec<String>,
    /// Leave out paths matching this pattern (`--exclude`'s language of
    /// `backup`; repeatable).
    #[arg(long, required = true, value_name = "PATTERN")]
    exclude: Vec<String>,
    /// Like --exclude, ignoring case.
    #[arg(long, value_name = "PATTERN")]
    iexclude: Vec<String>,
    /// Remove the originals once the rewritten snapshots are stored.
    #[arg(long)]
    forget: bool,
    /// Show what would be left out; change nothing.
    #[arg(long, short = 'n')]
    dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct HoldArgs {
    /// The snapshot to hold (id, id prefix or `latest`).
    snapshot: String,
    /// When the hold ends (RFC 3339, or a date `YYYY-MM-DD`, midnight
    /// UTC); without it the hold lasts until `release`.
    #[arg(long, value_name = "TIME", value_parser = parse_until)]
    until: Option<Timestamp>,
    /// Why (recorded in the hold and the journal).
    #[arg(long, default_value = "")]
    reason: String,
}

#[derive(Debug, Args)]
pub(crate) struct ReleaseArgs {
    /// The snapshot whose hold to release (id or id prefix).
    snapshot: String,
}

fn parse_until(s: &str) -> Result<Timestamp, String> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    format!("{s}T00:00:00Z")
        .parse::<Timestamp>()
        .ok()
        .filter(|_| s.len() == 10)
        .ok_or_else(|| format!("{s:?}: expected an RFC 3339 time or YYYY-MM-DD"))
}

/// Resolves each argument to one live snapshot id.
pub(crate) async fn resolve(repo: &cairn::Repository, args: &[String]) -> Result<Vec<SnapshotId>> {
    let mut ids = Vec::new();
    for arg in args {
        let (id, _) = repo
            .snapshot(&crate::backup::query(arg)?)
            .await
            .flat()
            .with_context(|| format!("finding snapshot {arg}"))?;
        ids.push(id);
    }
    Ok(ids)
}

pub(crate) async fn tag(ctx: &Ctx, a: TagArgs) -> Result<ExitCode> {
    let repo = ctx.open().await?;
    // Before resolving: the role is the error to report, not what a
    // backup key can or cannot read.
    repo.inner().require_admin("tag snapshots")?;
    let ids = resolve(&repo, &a.snapshots).await?;
    let mut change = TagChange::default();
    for t in a.add {
        change = change.add_tag(t);
    }
    for t in a.remove {
        change = change.remove_tag(t);
    }
    if let Some(set) = a.set {
        change = change.set_tags(set);
    }
    let report = repo
        .tag_snapshots(&ids, &change)
        .await
        .flat()
        .context("tag")?;
    if ctx.json {
        println!("{}", serde_json::to_string(&report)?);
    } else if !ctx.quiet {
        for r in &report.changed {
            println!(
                "{} -> {}  [{}]",
                short(r.original.as_ref()),
                short(r.new.as_ref()),
                r.tags.join(",")
            );
        }
        println!(
            "{} snapshots changed, {} unchanged",
            report.changed.len(),
            report.unchanged.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn hold(ctx: &Ctx, a: HoldArgs) -> Result<ExitCode> {
    let repo = ctx.open().await?;
    repo.inner().require_admin("hold snapshots")?;
    let id = resolve(&repo, std::slice::from_ref(&a.snapshot))
        .await?
        .remove(0);
    let hold = repo
        .hold(&id, a.until, &a.reason)
        .await
        .flat()
        .context("hold")?;
    if ctx.json {
        println!("{}", serde_json::to_string(&hold)?);
    } else if !ctx.quiet {
        match &hold.until {
            Some(t) => println!("snapshot {} held until {t}", short(id.as_ref())),
            None => println!("snapshot {} held until released", short(id.as_ref())),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn release(ctx: &Ctx, a: ReleaseArgs) -> Result<ExitCode> {
    let repo = ctx.open().await?;
    repo.inner().require_admin("release snapshots")?;
    // A held snapshot may have been forgotten by an older version: accept
    // a full id that only the hold names.
    let id = match a.snapshot.parse::<SnapshotId>() {
        Ok(id) => id,
        Err(_) => resolve(&repo, std::slice::from_ref(&a.snapshot))
            .await?
            .remove(0),
    };
    let had = repo.release(&id).await.flat().context("release")?;
    if ctx.json {
        println!("{}", serde_json::json!({ "snapshot": id, "released": had }));
    } else if !ctx.quiet {
        match had {
            true => println!("snapshot {} released", short(id.as_ref())),
            false => println!("snapshot {} had no hold", short(id.as_ref())),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn rewrite(ctx: &Ctx, a: RewriteArgs) -> Result<ExitCode> {
    let pats = a.exclude.iter().map(|p| (p.as_str(), false));
    let pats = cairn::Patterns::new(pats.chain(a.iexclude.iter().map(|p| (p.as_str(), true))))?;
    let repo = ctx.open().await?;
    repo.inner().require_admin("rewrite snapshots")?;
    let ids = resolve(&repo, &a.snapshots).await?;
    let opts = cairn::RewriteOptions::default()
        .forget(a.forget)
        .dry_run(a.dry_run);
    let report = repo
        .rewrite_snapshots(&ids, &pats, &opts)
        .await
        .flat()
        .context("rewrite")?;
    if ctx.json {
        println!("{}", serde_json::to_string(&report)?);
    } else if !ctx.quiet {
        for r in &report.rewritten {
            let new = r.new.as_ref().map_or("(dry run)", |n| short(n.as_ref()));
            println!("{} -> {new}", short(r.original.as_ref()));
            for p in &r.excluded {
                println!("  excluded {}", p.display());
            }
        }
        let forgotten = report.rewritten.iter().filter(|r| r.forgotten).count();
        println!(
            "{} snapshots rewritten, {} unchanged, {forgotten} originals forgotten",
            report.rewritten.len(),
            report.unchanged.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
