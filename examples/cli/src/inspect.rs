//! Read-only commands: `snapshots`, `ls`, `stats`, `cat`.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use cairn_cas_core::{NodeKind, Repository, Snapshot, SnapshotQuery, Tree};
use cairn_crypto::ChunkId;
use clap::Args;
use futures::TryStreamExt;

use crate::backup::short;
use crate::ctx::Ctx;
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
    let (repo, _) = ctx.open().await?;
    let mut query = SnapshotQuery::latest();
    if let Some(h) = a.host {
        query = query.host(h);
    }
    for t in a.tags {
        query = query.tag(t);
    }
    // Every record must be readable to list them (`check` names the bad ones).
    let (all, unreadable) = repo
        .select_snapshots(&query)
        .await
        .context("listing snapshots")?;
    if let Some(e) = unreadable.into_iter().next() {
        return Err(e).context("listing snapshots");
    }
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
    /// List only this path (absolute, as in the snapshot) and below.
    path: Option<PathBuf>,
}

/// Visits every node under `tree` depth first, with its absolute path.
async fn walk(
    repo: &Repository,
    root: ChunkId,
    visit: &mut dyn FnMut(&Path, &cairn_cas_core::Node),
) -> Result<()> {
    let mut stack: Vec<(PathBuf, ChunkId)> = vec![(PathBuf::from("/"), root)];
    while let Some((dir, id)) = stack.pop() {
        let tree: Tree = repo
            .load_tree(&id)
            .await
            .with_context(|| format!("loading the tree of {}", dir.display()))?;
        // Push in reverse so children come out in name order.
        let mut subdirs = Vec::new();
        for node in &tree.nodes {
            let path = dir.join(node.name_os());
            visit(&path, node);
            if let NodeKind::Dir { subtree } = &node.kind {
                subdirs.push((path, *subtree));
            }
        }
        // Depth first, in name order: a directory's contents follow it.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(())
}

pub(crate) async fn ls(ctx: &Ctx, a: LsArgs) -> Result<ExitCode> {
    let (repo, _) = ctx.open().await?;
    let (id, snap) = repo
        .find_snapshot(&crate::backup::query(&a.snapshot)?)
        .await
        .with_context(|| format!("finding snapshot {}", a.snapshot))?;
    let root = snap.tree.chunk_id();
    let filter = a.path.clone();
    let mut lines = Vec::new();
    let mut found = filter.is_none();
    walk(&repo, root, &mut |path, node| {
        if let Some(f) = &filter {
            if !path.starts_with(f) {
                return;
            }
            found = true;
        }
        lines.push((path.to_owned(), describe(path, node, ctx.json)));
    })
    .await?;
    if !found {
        bail!(
            "{} is not in snapshot {}",
            a.path.unwrap_or_default().display(),
            short(&id)
        );
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
    // The walk gives each directory's listing before its subdirectories'; a
    // sort by path puts every directory's contents right after it.
    lines.sort();
    for (_, l) in lines {
        println!("{l}");
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(path: &Path, node: &cairn_cas_core::Node, json: bool) -> String {
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
        match target {
            Some(t) => format!("{p} -> {t}"),
            None => p,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Statistics of one snapshot (id, prefix or `latest`) instead of the repository.
    snapshot: Option<String>,
}

pub(crate) async fn stats(ctx: &Ctx, a: StatsArgs) -> Result<ExitCode> {
    let (repo, opened) = ctx.open().await?;
    if let Some(q) = a.snapshot {
        let (id, snap) = repo
            .find_snapshot(&crate::backup::query(&q)?)
            .await
            .with_context(|| format!("finding snapshot {q}"))?;
        let (mut files, mut dirs, mut links, mut bytes) = (0u64, 0u64, 0u64, 0u64);
        walk(&repo, snap.tree.chunk_id(), &mut |_, n| match n.kind {
            NodeKind::File { .. } => {
                files += 1;
                bytes += n.size;
            }
            NodeKind::Dir { .. } => dirs += 1,
            NodeKind::Symlink { .. } => links += 1,
        })
        .await?;
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
    let snapshots = repo.snapshots().await.context("listing snapshots")?;
    let (blobs, packs, resident) = {
        let index = repo.index();
        (index.len(), index.pack_count(), index.resident_bytes())
    };
    let (mut pack_bytes, mut total_bytes) = (0u64, 0u64);
    let mut listing = opened.backend.list("");
    while let Some(meta) = listing.try_next().await.context("listing the repository")? {
        total_bytes += meta.size;
        if meta.key.starts_with("data/") {
            pack_bytes += meta.size;
        }
    }
    let logical: u64 = snapshots.iter().map(|(_, s)| s.summary.total_bytes).sum();
    // What `cairn prune` would free (read-only: the prune's own plan).
    let reclaim = cairn_cas_core::prune::prune_plan(&repo, &Default::default())
        .await
        .context("planning what prune would free")?;
    let epochs = repo
        .epoch_usage()
        .await
        .context("reading the key epoch of every object")?;
    let per_blob = if blobs == 0 {
        0.0
    } else {
        resident as f64 / blobs as f64
    };
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({
                "snapshots": snapshots.len(), "packs": packs, "blobs": blobs,
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
        println!("  Snapshots:            {}", snapshots.len());
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
    let (repo, _) = ctx.open().await?;
    let text = match (a.what.as_str(), a.id) {
        ("config", None) => serde_json::to_string_pretty(repo.config())?,
        ("snapshot", Some(q)) => {
            let (id, snap) = repo
                .find_snapshot(&crate::backup::query(&q)?)
                .await
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
