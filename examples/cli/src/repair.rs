//! `repair index` and `repair snapshots`: glue over the facade's repairs.

use std::process::ExitCode;

use anyhow::{Context, Result};
use cairn::{RepairIndexOptions, RepairSnapshotsOptions};
use clap::{Args, Subcommand};

use crate::backup::short;
use crate::ctx::{Ctx, Flat};
use crate::ui;

#[derive(Debug, Subcommand)]
pub(crate) enum RepairCommand {
    /// Rebuild the index from the pack headers, replacing damaged index
    /// objects (new ones are written before old ones are removed).
    Index(IndexArgs),
    /// Rewrite snapshots that reference lost data: files are truncated
    /// before their first lost chunk, unreadable directories become empty;
    /// the new snapshots are tagged `repaired`.
    Snapshots(SnapshotsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct IndexArgs {
    /// Only report what would change.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SnapshotsArgs {
    /// Remove each damaged snapshot once its repaired copy is stored.
    #[arg(long)]
    forget: bool,
    /// Only report what is lost.
    #[arg(long)]
    dry_run: bool,
    /// Also read back every pack the snapshots need and verify each blob
    /// (otherwise only blobs in no index or in packs not stored count as lost).
    #[arg(long)]
    read_data: bool,
}

pub(crate) async fn run(ctx: &Ctx, cmd: RepairCommand) -> Result<ExitCode> {
    let repo = ctx.open_uncached().await?;
    match cmd {
        RepairCommand::Index(a) => {
            let opts = RepairIndexOptions::default().dry_run(a.dry_run);
            let r = repo
                .repair_index(&opts)
                .await
                .flat()
                .context("rebuilding the index")?;
            if ctx.json {
                println!("{}", serde_json::to_string(&r)?);
                return Ok(ExitCode::SUCCESS);
            }
            for d in &r.damaged_packs {
                eprintln!("warning: pack {} not indexed: {}", d.object, d.reason);
            }
            if ctx.quiet {
                return Ok(ExitCode::SUCCESS);
            }
            println!("read the headers of {} packs", r.packs_read);
            for d in &r.damaged_index {
                println!("damaged index object {}: {}", d.object, d.reason);
            }
            for s in &r.stale_index {
                println!("index object {s} lists a missing or damaged pack");
            }
            println!(
                "{} packs to index; {} index objects written, {} removed{}",
                r.packs_indexed,
                r.written.len(),
                r.removed.len(),
                if a.dry_run { " (dry run)" } else { "" }
            );
        }
        RepairCommand::Snapshots(a) => {
            let opts = RepairSnapshotsOptions::default()
                .forget(a.forget)
                .dry_run(a.dry_run)
                .read_data(a.read_data);
            let r = repo
                .repair_snapshots(&opts)
                .await
                .flat()
                .context("repairing snapshots")?;
            if ctx.json {
                println!("{}", serde_json::to_string(&r)?);
                return Ok(ExitCode::SUCCESS);
            }
            for u in &r.unreadable {
                eprintln!("warning: cannot repair: {u}");
            }
            if ctx.quiet {
                return Ok(ExitCode::SUCCESS);
            }
            for s in &r.repaired {
                let new = s.repaired.as_deref().map(short).unwrap_or("(dry run)");
                let earlier = if s.earlier { " (repaired earlier)" } else { "" };
                let forgotten = if s.forgotten {
                    " (original removed)"
                } else {
                    ""
                };
                println!(
                    "snapshot {} -> {new}{earlier}{forgotten}:",
                    short(&s.original),
                );
                for l in &s.lost {
                    if l.directory {
                        println!("  lost directory contents: {}", l.path.display());
                    } else {
                        println!(
                            "  lost data: {} (truncated from {} to {})",
                            l.path.display(),
                            ui::bytes(l.original_size),
                            ui::bytes(l.kept_size)
                        );
                    }
                }
            }
            println!(
                "checked {} snapshots, {} repaired",
                r.checked,
                r.repaired.len()
            );
            // What to run next: the originals stay (same time as their
            // copies) until forgotten; `latest` already means the copy.
            let kept = r.repaired.iter().filter(|s| !s.forgotten);
            if let Some((s, new)) = kept
                .filter_map(|s| Some((s, s.repaired.as_deref()?)))
                .next()
            {
                let new = short(new);
                println!(
                    "next: `restore latest` (or `restore {new}`) restores a repaired copy; \
                     the damaged originals (e.g. {}) stay until you run `repair snapshots \
                     --forget`, then `prune`",
                    short(&s.original)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
