//! `cairn find PATTERN...`: which snapshots hold a matching path (restic's
//! `find`, with its snapshot filters).

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cairn::recovery::Depth;
use cairn::{NodeKind, Patterns, Repository, Snapshot, SnapshotId};
use clap::Args;
use futures::StreamExt;

use crate::backup::short;
use crate::ctx::{Ctx, Flat};
use crate::diff::kind_name;
use crate::select::SnapshotFilter;

#[derive(Debug, Args)]
pub(crate) struct FindArgs {
    /// Patterns in `--exclude`'s language (`*.log`, `/home/*/x`, `**/target`).
    #[arg(required = true)]
    patterns: Vec<String>,
    /// Match case-insensitively.
    #[arg(short = 'i', long)]
    ignore_case: bool,
    /// Search only this snapshot (id, prefix or `latest`; repeatable).
    #[arg(short = 's', long = "snapshot", value_name = "ID")]
    snapshots: Vec<String>,
    #[command(flatten)]
    filter: SnapshotFilter,
    /// Show each match like `ls --long`.
    #[arg(short = 'l', long)]
    long: bool,
}

impl FindArgs {
    /// The snapshots the filters select (time order).
    async fn selected(&self, repo: &Repository) -> Result<Vec<(SnapshotId, Snapshot)>> {
        let mut only = HashSet::new();
        for s in &self.snapshots {
            let (id, _) = repo
                .snapshot(&crate::backup::query(s)?)
                .await
                .flat()
                .with_context(|| format!("finding snapshot {s}"))?;
            only.insert(id);
        }
        let all = crate::select::readable(repo, &self.filter.query()).await?;
        Ok(all
            .into_iter()
            .filter(|(id, _)| only.is_empty() || only.contains(id))
            .collect())
    }
}

pub(crate) async fn run(ctx: &Ctx, a: FindArgs) -> Result<ExitCode> {
    let pats = Patterns::new(a.patterns.iter().map(|p| (p.as_str(), a.ignore_case)))?;
    let repo = ctx.open().await?;
    let snaps = a.selected(&repo).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut matches = 0usize;
    // One snapshot at a time, each walked in path order and printed as it
    // goes: memory follows the tree's depth, not the number of matches.
    for (id, snap) in &snaps {
        let entries = repo
            .list(snap, "/", Depth::All)
            .await
            .flat()
            .with_context(|| format!("searching snapshot {}", short(id)))?;
        let mut entries = std::pin::pin!(entries);
        while let Some(item) = entries.next().await {
            let (path, node) = item
                .flat()
                .with_context(|| format!("searching snapshot {}", short(id)))?;
            if !pats.matches(&path, matches!(node.kind, NodeKind::Dir { .. })) {
                continue;
            }
            matches += 1;
            let line = match (ctx.json, a.long) {
                (true, _) => match_json(id, snap, &path, &node),
                (false, true) => format!(
                    "{}  {}",
                    short(id),
                    crate::inspect::describe(&path, &node, false, true)
                ),
                (false, false) => {
                    let p = String::from_utf8_lossy(path.as_os_str().as_bytes());
                    format!("{}  {}  {p}", short(id), crate::inspect::when(snap))
                }
            };
            writeln!(out, "{line}")?;
        }
    }
    if ctx.json {
        let summary = serde_json::json!({
            "message_type": "summary", "matches": matches, "snapshots": snaps.len(),
        });
        writeln!(out, "{summary}")?;
    } else if !ctx.quiet {
        writeln!(out, "{matches} matches in {} snapshots", snaps.len())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn match_json(id: &SnapshotId, snap: &Snapshot, path: &Path, node: &cairn::Node) -> String {
    serde_json::json!({
        "message_type": "match", "snapshot": id, "time": snap.time,
        "host": snap.hostname, "tags": snap.tags,
        "path": String::from_utf8_lossy(path.as_os_str().as_bytes()),
        "type": kind_name(&node.kind), "size": node.size, "mode": node.mode & 0o7777,
        "mtime": node.mtime.sec,
    })
    .to_string()
}
