//! `cairn diff SNAP1 SNAP2`: what was added, removed and modified.

use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cairn::{Change, NodeKind};
use clap::Args;

use crate::backup::short;
use crate::ctx::{Ctx, Flat};

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The older snapshot: an id, an unambiguous prefix, or `latest`.
    first: String,
    /// The newer snapshot.
    second: String,
}

/// The node type's name, as `ls --json` spells it.
pub(crate) fn kind_name(k: &NodeKind) -> &'static str {
    match k {
        NodeKind::File { .. } => "file",
        NodeKind::Dir { .. } => "dir",
        NodeKind::Symlink { .. } => "symlink",
    }
}

pub(crate) async fn run(ctx: &Ctx, a: DiffArgs) -> Result<ExitCode> {
    let repo = ctx.open().await?;
    let (id1, s1) = repo
        .snapshot(&crate::backup::query(&a.first)?)
        .await
        .flat()
        .with_context(|| format!("finding snapshot {}", a.first))?;
    let (id2, s2) = repo
        .snapshot(&crate::backup::query(&a.second)?)
        .await
        .flat()
        .with_context(|| format!("finding snapshot {}", a.second))?;
    let diff = repo
        .diff(&s1, &s2)
        .await
        .flat()
        .with_context(|| format!("comparing snapshots {} and {}", short(&id1), short(&id2)))?;
    let (added, removed, modified) = diff.counts();
    if !ctx.json && !ctx.quiet {
        println!("comparing snapshot {} to {}:", short(&id1), short(&id2));
    }
    for e in &diff.entries {
        let path = String::from_utf8_lossy(e.path.as_os_str().as_bytes()).into_owned();
        let (tag, name, content, metadata) = match e.change {
            Change::Added => ("+", "added", false, false),
            Change::Removed => ("-", "removed", false, false),
            Change::Modified { content, metadata } => {
                let tag = match (content, metadata) {
                    (true, false) => "M",
                    (false, true) => "U",
                    _ => "M+U",
                };
                (tag, "modified", content, metadata)
            }
            _ => ("?", "unknown", false, false),
        };
        if ctx.json {
            println!(
                "{}",
                serde_json::json!({
                    "message_type": "change", "path": path, "change": name,
                    "content": content, "metadata": metadata,
                    "type": kind_name(&e.node.kind), "size": e.node.size,
                })
            );
        } else {
            println!("{tag:<4} {path}");
        }
    }
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({
                "message_type": "statistics", "source": id1, "target": id2,
                "added": added, "removed": removed, "modified": modified,
            })
        );
    } else if !ctx.quiet {
        println!("\nadded: {added}, removed: {removed}, modified: {modified}");
        println!("(M content changed, U metadata changed)");
    }
    Ok(ExitCode::SUCCESS)
}
