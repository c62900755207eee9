//! Read-only commands: `snapshots`, `ls`, `stats`, `cat`.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::io::Write;

use anyhow::{bail, Context, Result};
use cairn::recovery::Depth;
use cairn::{Node, NodeKind, Snapshot, SnapshotQuery};
use clap::Args;
use futures::StreamExt;

use crate::backup::short;
use crate::ctx::{Ctx, Flat};
use crate::ui;

#[derive(Debug, Args)]
pub(crate) struct SnapshotsArgs {
    /// Only snapshots of this host.
    #[arg(long)]
    host: Option<String>,
    /// Only snapshots with this tag (repeatable: all must match).
    #[arg(long = "tag")]
    tags: Vec<String>,
}

/// `2026-11-25T18:30:00.123Z` → `2026-11-25 18:30:00`.
pub(crate) fn when(s: &Snapshot) -> String {
    let t = humantime::format_rfc3339_seconds(s.system_time()).to_string();
    t.trim_end_matches('Z').replacen('T', " ", 1)
}

pub(crate) async fn snapshots(ctx: &Ctx, a: SnapshotsArgs) -> Result<ExitCode> {
    let repo = ctx.open().await?;
    let mut query = SnapshotQuery::latest();
    if let Some(h) = a.host {
        query = query.host(h);
    }
    for t in a.tags {
        query = query.tag(t);
    }
    let all = crate::select::readable(&repo, &query).await?;
    if ctx.json {
        let v: Vec<serde_json::Value> = all
            .iter()
            .map(|(id, s)| {
                let mut v = serde_json::to_value(s).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("id".into(), id.as_str().into());
                    o.insert("short_id".into(), id.short().into());
                }
                v
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<8}  {:<19}  {:<16}  {:<16}  {:<30}  {:>12}",
        "ID", "Time", "Host", "Tags", "Paths", "Size"
    );
    println!("{}", "-".repeat(111));
    for (id, s) in &all {
        let paths = if s.paths.is_empty() {
            vec![String::new()]
        } else {
            s.paths.clone()
        };
        for (i, p) in paths.iter().enumerate() {
            if i == 0 {
                println!(
                    "{:<8}  {:<19}  {:<16}  {:<16}  {:<30}  {:>12}",
                    short(id),
                    when(s),
                    s.hostname,
                    s.tags.join(","),
                    p,
                    ui::bytes(s.summary.total_bytes)
                );
            } else {
                println!("{:<8}  {:<19}  {:<16}  {:<16}  {p:<30}", "", "", "", "");
            }
        }
    }
    println!("{}", "-".repeat(111));
    println!("{} snapshots", all.len());
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    /// Snapshot: an id, an unambiguous prefix, or `latest`.
    snapshot: String,
    /// List these paths (absolute, as in the snapshot): each entry and,
    /// for a directory, what is directly in it. Without any, everything.
    paths: Vec<PathBuf>,
    /// Also everything below the listed directories (restic's --recursive).
    #[arg(short = 'R', long)]
    recursive: bool,
    /// Long listing (like `ls -l`): mode, owner, group, size, time, path.
    #[arg(short = 'l', long)]
    long: bool,
}

/// `cairn ls`: streamed in path order, so memory follows the tree's depth,
/// not the snapshot's size.
pub(crate) async fn ls(ctx: &Ctx, a: LsArgs) -> Result<ExitCode> {
    let repo = ctx.open().await?;
    let (id, snap) = repo
        .snapshot(&crate::backup::query(&a.snapshot)?)
        .await
        .flat()
        .with_context(|| format!("finding snapshot {}", a.snapshot))?;
    let (paths, depth) = match a.paths.is_empty() {
        true => (vec![PathBuf::from("/")], Depth::All),
        false if a.recursive => (a.paths, Depth::All),
        false => (a.paths, Depth::Children),
    };
    // Every path is looked up before anything is printed: a typo fails
    // the command with nothing half-listed.
    let mut listings = Vec::with_capacity(paths.len());
    for p in &paths {
        let entries = repo
            .list(&snap, p, depth)
            .await
            .flat()
            .with_context(|| format!("listing {} in snapshot {}", p.display(), short(&id)))?;
        listings.push(entries);
    }
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"message_type": "snapshot", "id": id, "time": snap.time, "paths": snap.paths})
        );
    } else if !ctx.quiet {
        println!(
            "snapshot {} of {:?} at {}:",
            short(&id),
            snap.paths,
            when(&snap)
        );
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for entries in listings {
        let mut entries = std::pin::pin!(entries);
        while let Some(item) = entries.next().await {
            let (path, node) = item.flat().context("listing the snapshot's trees")?;
            writeln!(out, "{}", describe(&path, &node, ctx.json, a.long))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn describe(path: &Path, node: &Node, json: bool, long: bool) -> String {
    let (kind, target) = match &node.kind {
        NodeKind::File { .. } => ("file", None),
        NodeKind::Dir { .. } => ("dir", None),
        NodeKind::Symlink { target } => (
            "symlink",
            Some(String::from_utf8_lossy(target).into_owned()),
        ),
    };
    let p = String::from_utf8_lossy(path.as_os_str().as_bytes()).into_owned();
    if json {
        let mut v = serde_json::json!({
            "message_type": "node",
            "path": p,
            "type": kind,
            "size": node.size,
            "mode": node.mode & 0o7777,
            "uid": node.uid,
            "gid": node.gid,
            "mtime": node.mtime.sec,
        });
        if let (Some(t), Some(o)) = (target, v.as_object_mut()) {
            o.insert("target".into(), t.into());
        }
        v.to_string()
    } else {
        let name = match target {
            Some(t) => format!("{p} -> {t}"),
            None => p,
        };
        match long {
            false => name,
            true => format!(
                "{} {:>6} {:>6} {:>12} {} {name}",
                mode_string(&node.kind, node.mode),
                node.uid,
                node.gid,
                node.size,
                node_time(node.mtime.sec),
            ),
        }
    }
}

/// `ls -l`'s mode column: the kind, then rwx for owner, group and others
/// (with setuid, setgid and sticky as `s`/`S`, `t`/`T`).
fn mode_string(kind: &NodeKind, mode: u32) -> String {
    let mut out = String::with_capacity(10);
    out.push(match kind {
        NodeKind::File { .. } => '-',
        NodeKind::Dir { .. } => 'd',
        NodeKind::Symlink { .. } => 'l',
    });
    let special = [(0o4000, 's'), (0o2000, 's'), (0o1000, 't')];
    for (who, (bit, mark)) in special.iter().enumerate() {
        let shift = 6 - 3 * who as u32;
        let rwx = (mode >> shift) & 7;
        out.push(if rwx & 4 != 0 { 'r' } else { '-' });
        out.push(if rwx & 2 != 0 { 'w' } else { '-' });
        out.push(match (rwx & 1 != 0, mode & bit != 0) {
            (true, true) => *mark,
            (false, true) => mark.to_ascii_uppercase(),
            (true, false) => 'x',
            (false, false) => '-',
        });
    }
    out
}

/// A node's modification time as `YYYY-MM-DD HH:MM:SS` (UTC).
fn node_time(sec: i64) -> String {
    let t = match u64::try_from(sec) {
        Ok(s) => std::time::UNIX_EPOCH + std::time::Duration::from_secs(s),
        Err(_) => std::time::UNIX_EPOCH,
    };
    let t = humantime::format_rfc3339_seconds(t).to_string();
    t.trim_end_matches('Z').replacen('T', " ", 1)
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Statistics of one snapshot (id, prefix or `latest`) instead of the repository.
    snapshot: Option<String>,
}

pub(crate) async fn stats(ctx: &Ctx, a: StatsArgs) -> Result<ExitCode> {
    let repo = ctx.open().await?;
    if let Some(q) = a.snapshot {
        let (id, snap) = repo
            .snapshot(&crate::backup::query(&q)?)
            .await
            .flat()
            .with_context(|| format!("finding snapshot {q}"))?;
        let s = repo
            .snapshot_stats(&snap)
            .await
            .flat()
            .context("listing the snapshot's trees")?;
        let (files, dirs, links, bytes) = (s.files, s.dirs, s.symlinks, s.bytes);
        if ctx.json {
            println!(
                "{}",
                serde_json::json!({"snapshot": id, "files": files, "dirs": dirs, "symlinks": links, "total_size": bytes})
            );
        } else {
            println!("Snapshot {}", short(&id));
            println!("  Total file count: {files} ({dirs} dirs, {links} symlinks)");
            println!("  Total size:       {}", ui::bytes(bytes));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let stats = repo
        .stats()
        .await
        .flat()
        .context("counting the repository")?;
    let (blobs, packs, resident) = (stats.blobs, stats.packs, stats.index_resident_bytes);
    let (pack_bytes, total_bytes) = (stats.pack_bytes, stats.repository_bytes);
    let logical = stats.snapshots_total_size;
    // What `cairn prune` would free (read-only: the prune's own plan).
    let (reclaim, epochs) = (&stats.reclaimable, &stats.epochs);
    let per_blob = if blobs == 0 {
        0.0
    } else {
        resident as f64 / blobs as f64
    };
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({
                "snapshots": stats.snapshots, "packs": packs, "blobs": blobs,
                "pack_bytes": pack_bytes, "repository_bytes": total_bytes,
                "snapshots_total_size": logical,
                "index_resident_bytes": resident, "index_bytes_per_blob": per_blob,
                "reclaimable_bytes": reclaim.bytes_freed,
                "key_epoch": epochs.current, "epochs": epochs.epochs,
                "epoch_unreadable": epochs.unreadable,
            })
        );
    } else {
        println!("Repository {}", repo.config().id);
        println!("  Snapshots:            {}", stats.snapshots);
        println!("  Packs:                {packs}");
        println!("  Blobs:                {blobs}");
        println!("  Stored (packs):       {}", ui::bytes(pack_bytes));
        println!("  Stored (everything):  {}", ui::bytes(total_bytes));
        println!("  Snapshots' total:     {}", ui::bytes(logical));
        if total_bytes > 0 {
            println!(
                "  Ratio (size/stored):  {:.2}x",
                logical as f64 / total_bytes as f64
            );
        }
        println!(
            "  Index in memory:      {} ({per_blob:.1} bytes per blob)",
            ui::bytes(resident as u64)
        );
        println!(
            "  Reclaimable by prune: {} ({} unused packs, {} to repack)",
            ui::bytes(reclaim.bytes_freed),
            reclaim.packs_to_delete.len(),
            reclaim.packs_to_repack.len()
        );
        println!("  Key epochs (current: {}):", epochs.current);
        for u in &epochs.epochs {
            println!(
                "    epoch {:<4} {} in {} packs, {} in {} index objects, {} snapshot records",
                u.epoch,
                ui::bytes(u.pack_bytes),
                u.packs,
                ui::bytes(u.index_bytes),
                u.index_objects,
                u.snapshots
            );
        }
        if !epochs.unreadable.is_empty() {
            println!(
                "    ({} objects whose epoch could not be read)",
                epochs.unreadable.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub(crate) struct CatArgs {
    /// `config` or `snapshot`.
    what: String,
    /// The snapshot (id, prefix or `latest`) for `cat snapshot`.
    id: Option<String>,
}

pub(crate) async fn cat(ctx: &Ctx, a: CatArgs) -> Result<ExitCode> {
    let repo = ctx.open().await?;
    let text = match (a.what.as_str(), a.id) {
        ("config", None) => serde_json::to_string_pretty(repo.config())?,
        ("snapshot", Some(q)) => {
            let (id, snap) = repo
                .snapshot(&crate::backup::query(&q)?)
                .await
                .flat()
                .with_context(|| format!("finding snapshot {q}"))?;
            let mut v = serde_json::to_value(&snap)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("id".into(), id.as_str().into());
            }
            serde_json::to_string_pretty(&v)?
        }
        ("snapshot", None) => bail!("cat snapshot needs an ID"),
        (other, _) => bail!("cannot cat {other:?}: use `config` or `snapshot ID`"),
    };
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}
