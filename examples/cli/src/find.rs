//! `cairn find PATTERN...`: which snapshots hold a matching path.

use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cairn::Patterns;
use clap::Args;

use crate::backup::short;
use crate::ctx::{Ctx, Flat};
use crate::diff::kind_name;

#[derive(Debug, Args)]
pub(crate) struct FindArgs {
    /// Patterns in `--exclude`'s language (`*.log`, `/home/*/x`, `**/target`).
    #[arg(required = true)]
    patterns: Vec<String>,
    /// Match case-insensitively.
    #[arg(short = 'i', long)]
    ignore_case: bool,
}

pub(crate) async fn run(ctx: &Ctx, a: FindArgs) -> Result<ExitCode> {
    let pats = Patterns::new(a.patterns.iter().map(|p| (p.as_str(), a.ignore_case)))?;
    let repo = ctx.open().await?;
    let hits = repo
        .find(&pats)
        .await
        .flat()
        .context("searching snapshots")?;
    for m in &hits {
        let path = String::from_utf8_lossy(m.path.as_os_str().as_bytes()).into_owned();
        if ctx.json {
            println!(
                "{}",
                serde_json::json!({
                    "message_type": "match", "snapshot": m.snapshot_id, "time": m.time,
                    "path": path, "type": kind_name(&m.node.kind), "size": m.node.size,
                    "mtime": m.node.mtime.sec,
                })
            );
        } else {
            let t = format!("{:.0}", m.time);
            let t = t.get(..19).unwrap_or(&t).replacen('T', " ", 1);
            println!("{}  {t}  {path}", short(&m.snapshot_id));
        }
    }
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"message_type": "summary", "matches": hits.len()})
        );
    } else if !ctx.quiet {
        println!("{} matches", hits.len());
    }
    Ok(ExitCode::SUCCESS)
}
