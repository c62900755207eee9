//! `restore` and `check`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use cairn::jiff::Timestamp;
use cairn::{
    Action, CheckOptions, Location, Overwrite, Patterns, Repository, RestoreOptions, RestorePlan,
    Snapshot, SnapshotId, SnapshotQuery,
};
use clap::Args;

use crate::backup::short;
use crate::ctx::{Ctx, Flat};
use crate::ui;

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// Snapshot: an id, an unambiguous prefix or `latest` (the latest that
    /// matches --as-of/--host/--path/--tag when any is given).
    snapshot: String,
    /// Restore into this directory: snapshot path /data/x goes to TARGET/data/x.
    #[arg(short, long)]
    target: PathBuf,
    /// Restore only this snapshot path and what is below it (repeatable). An
    /// absolute path without wildcards must exist in the snapshot; anything
    /// else is a pattern in the language of `backup --exclude` (`*.jpg`,
    /// `/home/*/docs`, `**/src`).
    #[arg(short, long = "include", value_name = "PATH|PATTERN")]
    include: Vec<PathBuf>,
    /// Like a pattern --include, ignoring case.
    #[arg(long, value_name = "PATTERN")]
    iinclude: Vec<String>,
    /// Do not restore snapshot paths matching PATTERN (the pattern language of
    /// `backup --exclude`; repeatable).
    #[arg(long, value_name = "PATTERN")]
    exclude: Vec<String>,
    /// Like --exclude, ignoring case.
    #[arg(long, value_name = "PATTERN")]
    iexclude: Vec<String>,
    /// Restore the files at or below this snapshot path first (repeatable:
    /// in the order given; then the rest).
    #[arg(long, value_name = "PATH")]
    priority: Vec<PathBuf>,
    /// After restoring, read the files back and compare them with the snapshot.
    #[arg(long)]
    verify: bool,
    /// What to do with entries already in the target: always (replace),
    /// if-changed (compare contents by chunk, write only what differs; also
    /// resumes an interrupted restore), if-newer, never.
    #[arg(long, value_name = "MODE", default_value = "always")]
    overwrite: Overwrite,
    /// Remove entries of the target that are not in the snapshot (only below
    /// the restored paths).
    #[arg(long)]
    delete: bool,
    /// Restore owners (uid/gid) from the snapshot. Default: when the target
    /// directory is root's. Where owners are not restored, set-id bits are
    /// cleared.
    #[arg(long, conflicts_with = "no_owners")]
    owners: bool,
    /// Do not restore owners: everything belongs to the restoring user,
    /// without set-id bits.
    #[arg(long)]
    no_owners: bool,
    /// Restore runs of zeros as holes (sparse files).
    #[arg(long)]
    sparse: bool,
    /// Plan and restore this many files at a time, so memory does not grow
    /// with the snapshot's file count (0: one plan of every file; ignored
    /// with --dry-run, --priority and include patterns, which plan whole).
    #[arg(long, value_name = "FILES", default_value_t = 0)]
    window: usize,
    /// Record the restore in the repository's audit journal (who restored
    /// which snapshot, files and bytes written) once it has succeeded.
    #[arg(long)]
    journal: bool,
    /// Show what would be done (new, changed, unchanged, deleted; bytes to
    /// fetch) and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// With `latest`: the latest snapshot taken at or before this time
    /// (RFC 3339, e.g. 2026-11-24T12:00:00Z).
    #[arg(long, value_name = "TIME")]
    as_of: Option<String>,
    /// With `latest`: only snapshots of this host.
    #[arg(long)]
    host: Option<String>,
    /// With `latest`: only snapshots that include this path.
    #[arg(long)]
    path: Option<String>,
    /// With `latest`: only snapshots with this tag (repeatable).
    #[arg(long = "tag")]
    tags: Vec<String>,
    #[command(flatten)]
    hooks: crate::hooks::RestoreHooks,
}

/// Finds the snapshot `query` picks.
pub(crate) async fn pick(
    repo: &Repository,
    query: &SnapshotQuery,
) -> Result<(SnapshotId, Snapshot)> {
    repo.snapshot(query)
        .await
        .flat()
        .with_context(|| format!("finding snapshot {query}"))
}

pub(crate) async fn run(ctx: &Ctx, mut a: RestoreArgs) -> Result<ExitCode> {
    let hooks = std::mem::take(&mut a.hooks);
    let mut vars: crate::hooks::Vars = vec![("CAIRN_TARGET", a.target.display().to_string())];
    let outcome = run_restore(ctx, a, &mut vars).await;
    crate::hooks::after(hooks.post_hook.as_deref(), "post-restore", outcome, vars)
}

/// The restore itself; what the post hook is told goes to `vars`.
async fn run_restore(ctx: &Ctx, a: RestoreArgs, vars: &mut crate::hooks::Vars) -> Result<ExitCode> {
    let mut query = crate::backup::query(&a.snapshot)?;
    if let Some(t) = &a.as_of {
        let time: Timestamp = t.parse().map_err(|e| {
            anyhow!("--as-of {t:?}: {e} (expected RFC 3339, e.g. 2026-11-24T12:00:00Z)")
        })?;
        query = query.as_of(time);
    }
    if let Some(h) = a.host {
        query = query.host(h);
    }
    if let Some(p) = a.path {
        query = query.covering(p);
    }
    for t in a.tags {
        query = query.tag(t);
    }
    let repo = ctx.open().await?;
    let (id, snap) = pick(&repo, &query).await?;
    vars.push(("CAIRN_SNAPSHOT_ID", id.to_string()));
    let excludes = Patterns::new(
        a.exclude
            .iter()
            .map(|p| (p.as_str(), false))
            .chain(a.iexclude.iter().map(|p| (p.as_str(), true))),
    )?;
    // A plain absolute path keeps its exact meaning (and must exist); the
    // rest are patterns.
    let (paths, patterns): (Vec<&PathBuf>, Vec<&PathBuf>) = a.include.iter().partition(|p| {
        p.to_str()
            .is_none_or(|s| s.starts_with('/') && !s.contains(['*', '?', '[', '{', '!']))
    });
    let patterns: Vec<String> = patterns
        .iter()
        .filter_map(|p| p.to_str().map(String::from))
        .collect();
    let includes = Patterns::new(
        patterns
            .iter()
            .map(|p| (p.as_str(), false))
            .chain(a.iinclude.iter().map(|p| (p.as_str(), true))),
    )?;
    if a.verify && !(includes.is_empty() && excludes.is_empty()) {
        bail!("--verify checks the snapshot's paths whole: it does not combine with --exclude or include patterns yet");
    }
    let cancel = crate::interrupt::install("restore")?;
    let mut opts = RestoreOptions::new(&a.target)
        .cancel(cancel)
        .overwrite(a.overwrite)
        .delete(a.delete)
        .sparse(a.sparse)
        .exclude(excludes)
        .include_patterns(includes);
    for i in &paths {
        opts = opts.include(*i);
    }
    if a.journal {
        opts = opts.journal(id.to_string());
    }
    match (a.owners, a.no_owners) {
        (true, _) => opts = opts.owners(true),
        (_, true) => opts = opts.owners(false),
        _ => {}
    }
    for p in &a.priority {
        opts = opts.priority(p);
    }
    // Short reads keep a local restore's memory low; an erasure layout
    // widens each read to whole shard blocks, and an object store pays a
    // round trip per read: there, packs are read in long runs.
    let remote = !matches!(Location::parse(ctx.location()?).flat()?, Location::Local(_));
    if remote {
        opts = opts.max_read(0);
    }
    opts = opts.window(a.window);
    let summary = if a.window > 0 && !a.dry_run {
        if ctx.chatty() {
            println!(
                "restoring snapshot {} of {:?} at {} to {} ({} files at a time)",
                short(&id),
                snap.paths,
                snap.time,
                a.target.display(),
                a.window
            );
        }
        let bar = ui::byte_bar(ui::interactive(ctx.quiet, ctx.json), None, "restoring");
        let progress = Arc::new(ui::RestoreBar(bar.clone()));
        let summary = repo.restore_snapshot(&snap, &opts, progress).await;
        bar.finish_and_clear();
        summary
    } else {
        let plan = repo
            .plan_restore(&snap, &opts)
            .await
            .flat()
            .with_context(|| format!("planning the restore of snapshot {}", short(&id)))?;
        if plan.files.is_empty() && plan.dirs.is_empty() && plan.symlinks.is_empty() {
            bail!(
                "nothing in snapshot {} matches the --include paths",
                short(&id)
            );
        }
        if a.dry_run {
            print_plan(ctx, &plan, &id);
            return Ok(ExitCode::SUCCESS);
        }
        if ctx.chatty() {
            println!(
                "restoring snapshot {} of {:?} at {} to {}",
                short(&id),
                snap.paths,
                snap.time,
                a.target.display()
            );
        }
        let bar = ui::byte_bar(
            ui::interactive(ctx.quiet, ctx.json),
            Some(plan.total_bytes()),
            "restoring",
        );
        // Owned: the restore holds the plan once (the plan is most of its memory).
        let summary = repo
            .restore_owned(plan, &opts, Arc::new(ui::RestoreBar(bar.clone())))
            .await;
        bar.finish_and_clear();
        summary
    };
    let summary = match summary {
        Err(e) if e.is_cancelled() => {
            eprintln!(
                "restore interrupted: {} is partly restored; run the same restore with \
                 --overwrite if-changed to finish it (what is in place is not fetched again)",
                a.target.display()
            );
            return Ok(ExitCode::from(crate::interrupt::EXIT_INTERRUPTED));
        }
        r => r
            .flat()
            .with_context(|| format!("restoring to {}", a.target.display()))?,
    };
    vars.extend([
        ("CAIRN_FILES_RESTORED", summary.files.to_string()),
        ("CAIRN_BYTES_RESTORED", summary.bytes_written.to_string()),
    ]);
    let secs = summary.duration.as_secs_f64();
    let verified = if a.verify {
        let paths: Vec<PathBuf> = paths.into_iter().cloned().collect();
        let report = repo
            .verify_paths(&snap, &a.target, &paths)
            .await
            .flat()
            .with_context(|| format!("verifying {}", a.target.display()))?;
        for m in &report.mismatches {
            eprintln!("mismatch: {m}");
        }
        Some(report)
    } else {
        None
    };
    if ctx.json {
        let mut v = serde_json::json!({
            "message_type": "summary",
            "snapshot_id": id,
            "files_restored": summary.files,
            "dirs_restored": summary.dirs,
            "symlinks_restored": summary.symlinks,
            "bytes_restored": summary.bytes_written,
            "bytes_fetched": summary.bytes_fetched,
            "packs_read": summary.packs_read,
            "files_unchanged": summary.files_unchanged,
            "entries_kept": summary.kept,
            "entries_deleted": summary.deleted,
            "warnings": summary.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            "duration_secs": secs,
        });
        if let (Some(r), Some(o)) = (&verified, v.as_object_mut()) {
            o.insert("verified_files".into(), r.files_checked.into());
            o.insert("verify_mismatches".into(), r.mismatches.len().into());
            o.insert("mismatches".into(), serde_json::to_value(&r.mismatches)?);
        }
        println!("{v}");
    } else if !ctx.quiet {
        println!(
            "Summary: restored {} files, {} dirs, {} symlinks; {} in {} ({:.1} MiB/s; {} fetched from {} packs)",
            summary.files,
            summary.dirs,
            summary.symlinks,
            ui::bytes(summary.bytes_written),
            ui::clock(summary.duration),
            ui::mib_per_sec(summary.bytes_written, secs),
            ui::bytes(summary.bytes_fetched),
            summary.packs_read,
        );
        if summary.files_unchanged + summary.kept + summary.deleted > 0 {
            println!(
                "{} files already up to date, {} entries kept, {} deleted",
                summary.files_unchanged, summary.kept, summary.deleted
            );
        }
        if let Some(r) = &verified {
            if r.is_ok() {
                println!(
                    "verified {} files ({}): identical to the snapshot",
                    r.files_checked,
                    ui::bytes(r.bytes_checked)
                );
            }
        }
    }
    for w in &summary.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(r) = verified {
        if !r.is_ok() {
            bail!(
                "verification failed: {} differences between {} and the snapshot",
                r.mismatches.len(),
                a.target.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--dry-run`: the plan as a diff, one line per entry that changes, then totals.
fn print_plan(ctx: &Ctx, plan: &RestorePlan, id: &str) {
    let d = plan.diff();
    if ctx.json {
        let entries: Vec<_> = plan
            .entries()
            .map(|e| serde_json::json!({"path": e.path, "action": action_name(e.action)}))
            .chain(
                plan.delete
                    .iter()
                    .map(|p| serde_json::json!({"path": p, "action": "delete"})),
            )
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "message_type": "dry_run", "snapshot_id": id,
                "new": d.new, "changed": d.changed, "unchanged": d.unchanged,
                "kept": d.kept, "deleted": d.deleted, "bytes_to_fetch": d.fetch_bytes,
                "entries": entries,
            })
        );
        return;
    }
    if !ctx.quiet {
        for e in plan.entries() {
            let mark = match e.action {
                Action::Create => "+",
                Action::Replace | Action::Update { .. } => "M",
                _ => continue,
            };
            println!("{mark} {}", e.path.display());
        }
        for p in &plan.delete {
            println!("- {}", p.display());
        }
    }
    println!(
        "would restore snapshot {}: {} new, {} changed, {} unchanged, {} kept, {} to delete; {} to fetch",
        short(id),
        d.new,
        d.changed,
        d.unchanged,
        d.kept,
        d.deleted,
        ui::bytes(d.fetch_bytes)
    );
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::Create => "new",
        Action::Replace => "replace",
        Action::Update { .. } => "update",
        Action::Metadata => "unchanged",
        _ => "keep",
    }
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Also download and verify this share of the packs: a fraction (0.1) or
    /// a percentage (10%).
    #[arg(long, value_name = "FRACTION|PERCENT%")]
    read_data_subset: Option<String>,
    /// Download and verify every pack.
    #[arg(long, conflicts_with = "read_data_subset")]
    read_data: bool,
}

/// `0.25` or `25%` → 0.25.
pub(crate) fn parse_fraction(s: &str) -> Result<f64> {
    let bad =
        || anyhow!("--read-data-subset {s:?}: expected a fraction (0.1) or a percentage (10%)");
    let f = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
        None => s.trim().parse::<f64>().map_err(|_| bad())?,
    };
    if !(0.0..=1.0).contains(&f) {
        return Err(bad());
    }
    Ok(f)
}

pub(crate) async fn check(ctx: &Ctx, a: CheckArgs) -> Result<ExitCode> {
    let fraction = match (&a.read_data_subset, a.read_data) {
        (Some(s), _) => parse_fraction(s)?,
        (None, true) => 1.0,
        (None, false) => 0.0,
    };
    let repo = ctx.open_uncached().await?;
    let report = repo
        .check(&CheckOptions::default().read_data(fraction))
        .await
        .flat()
        .context("checking the repository")?;
    if ctx.json {
        // The report itself, tagged like every other `--json` summary.
        let mut v = serde_json::to_value(&report)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("message_type".into(), "summary".into());
            o.insert("ok".into(), report.is_ok().into());
        }
        println!("{v}");
    } else {
        if !ctx.quiet {
            println!(
                "checked {} snapshots, {} trees, {} blobs in {} packs; read back {} packs",
                report.snapshots, report.trees, report.blobs, report.packs, report.packs_read
            );
            if report.unreferenced_packs > 0 {
                println!(
                    "{} packs are in no index (left by an interrupted backup; harmless)",
                    report.unreferenced_packs
                );
            }
        }
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        for t in &report.ignored_tombstones {
            eprintln!(
                "warning: {t} carries no valid admin signature: ignored, the snapshot is kept \
                 (written by a key without the admin authority?)"
            );
        }
        for e in &report.errors {
            eprintln!("error: {e}");
        }
    }
    if !report.is_ok() {
        bail!("the repository has {} errors", report.errors.len());
    }
    if ctx.chatty() {
        println!("no errors were found");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_fraction;

    #[test]
    fn fractions_and_percentages() {
        assert_eq!(parse_fraction("0.25").unwrap(), 0.25);
        assert_eq!(parse_fraction("10%").unwrap(), 0.1);
        assert_eq!(parse_fraction("100%").unwrap(), 1.0);
        assert!(parse_fraction("150%").is_err());
        assert!(parse_fraction("-0.1").is_err());
        assert!(parse_fraction("ten").is_err());
    }
}
