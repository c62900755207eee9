//! `backup`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use cairn::{
    parse_size, BackupOptions, BackupResult, Filter, Patterns, Redundancy, SnapshotQuery,
    WarningKind,
};
use clap::Args;

use crate::ctx::{Ctx, Flat};
use crate::hooks;
use crate::ui;

#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// Files and directories to back up.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Also back up the paths listed in FILE, one per line (`#` comments).
    #[arg(long, value_name = "FILE", conflicts_with = "stdin")]
    files_from: Vec<PathBuf>,
    /// Add a tag (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Record this host name instead of the machine's.
    #[arg(long = "host", value_name = "HOST")]
    host: Option<String>,
    /// Compare against this snapshot instead of the latest of the same host and paths.
    #[arg(long, value_name = "SNAPSHOT")]
    parent: Option<String>,
    /// Read every file, even those the parent snapshot says are unchanged.
    #[arg(long)]
    force: bool,
    /// Back up standard input as one file.
    #[arg(long, conflicts_with = "paths")]
    stdin: bool,
    /// The file name for --stdin.
    #[arg(long, default_value = "stdin", requires = "stdin")]
    stdin_filename: String,
    /// Walk and read as a backup would and report what it would add, writing
    /// nothing to the repository.
    #[arg(long, short = 'n')]
    pub(crate) dry_run: bool,
    #[command(flatten)]
    filter: FilterArgs,
    #[command(flatten)]
    hooks: crate::hooks::BackupHooks,
}

/// What to leave out (restic's names and pattern language).
#[derive(Debug, Args)]
pub(crate) struct FilterArgs {
    /// Leave out paths matching PATTERN (gitignore-style: `*.log`, `/abs/path`,
    /// `dir/`, `**`, `!re-include`; repeatable).
    #[arg(long, value_name = "PATTERN")]
    exclude: Vec<String>,
    /// Like --exclude, ignoring case.
    #[arg(long, value_name = "PATTERN")]
    iexclude: Vec<String>,
    /// Read --exclude patterns from FILE, one per line (`#` comments).
    #[arg(long, value_name = "FILE")]
    exclude_file: Vec<PathBuf>,
    /// Leave out directories that contain an entry called NAME.
    #[arg(long, value_name = "NAME")]
    exclude_if_present: Vec<String>,
    /// Leave out directories tagged with a valid CACHEDIR.TAG.
    #[arg(long)]
    exclude_caches: bool,
    /// Leave out files larger than SIZE (e.g. 512K, 10M, 2G).
    #[arg(long, value_name = "SIZE")]
    exclude_larger_than: Option<String>,
    /// Do not cross into other file systems below the given paths.
    #[arg(short = 'x', long)]
    one_file_system: bool,
}

impl FilterArgs {
    /// The library's filter. Patterns apply in this order, the last match
    /// deciding: --exclude-file lines, --exclude, --iexclude.
    pub(crate) fn filter(&self) -> Result<Filter> {
        let mut lines = Vec::new();
        for f in &self.exclude_file {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("reading --exclude-file {}", f.display()))?;
            lines.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(String::from),
            );
        }
        let patterns = Patterns::new(
            lines
                .iter()
                .chain(&self.exclude)
                .map(|p| (p.as_str(), false))
                .chain(self.iexclude.iter().map(|p| (p.as_str(), true))),
        )?;
        let mut f = Filter::default()
            .exclude(patterns)
            .exclude_caches(self.exclude_caches)
            .one_file_system(self.one_file_system);
        for n in &self.exclude_if_present {
            f = f.exclude_if_present(n.as_bytes());
        }
        if let Some(s) = &self.exclude_larger_than {
            f = f.exclude_larger_than(parse_size(s).context("--exclude-larger-than")?);
        }
        Ok(f)
    }
}

pub(crate) async fn run(ctx: &Ctx, mut a: BackupArgs) -> Result<ExitCode> {
    for f in &a.files_from {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading --files-from {}", f.display()))?;
        let listed = text.lines().map(str::trim);
        a.paths.extend(
            listed
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(PathBuf::from),
        );
    }
    let hooks = std::mem::take(&mut a.hooks);
    let lines = |v: Vec<String>| v.join("\n");
    let mut vars: hooks::Vars = vec![
        (
            "CAIRN_PATHS",
            lines(a.paths.iter().map(|p| p.display().to_string()).collect()),
        ),
        ("CAIRN_TAGS", lines(a.tags.clone())),
        ("CAIRN_DRY_RUN", u8::from(a.dry_run).to_string()),
    ];
    if let Some(pre) = &hooks.pre_hook {
        hooks::run(pre, "pre-backup", &vars).context("the backup was not started")?;
    }
    let mut out = Vec::new();
    let outcome = back_up(ctx, a, &mut out).await;
    vars.extend(out);
    hooks::after(hooks.post_hook.as_deref(), "post-backup", outcome, vars)
}

/// The backup itself; what the post hook is told goes to `vars`.
async fn back_up(ctx: &Ctx, a: BackupArgs, vars: &mut hooks::Vars) -> Result<ExitCode> {
    if !a.stdin && a.paths.is_empty() {
        bail!("nothing to back up: give at least one PATH, or --stdin");
    }
    for p in &a.paths {
        // A typo should not produce a snapshot with nothing in it.
        if std::fs::symlink_metadata(p).is_err() {
            bail!("{}: no such file or directory", p.display());
        }
    }
    let repo = ctx.open().await?;
    let cancel = crate::interrupt::install("backup")?;
    let mut opts = BackupOptions::default()
        .cancel(cancel)
        .force(a.force)
        .dry_run(a.dry_run)
        .filter(a.filter.filter()?);
    if let Some(h) = a.host {
        opts = opts.host(h);
    }
    for t in a.tags {
        opts = opts.tag(t);
    }
    if let Some(p) = a.parent {
        opts = opts.parent(query(&p)?);
    }
    let show = ui::interactive(ctx.quiet, ctx.json);
    let progress = Arc::new(ui::BackupBar::new(ui::byte_bar(show, None, "processed")));
    let result = if a.stdin {
        let stdin = blocking::Unblock::new(std::io::stdin());
        repo.backup_stream(stdin, &a.stdin_filename, &opts, progress.clone())
            .await
    } else {
        repo.backup(&a.paths, &opts, progress.clone()).await
    };
    progress.bar.finish_and_clear();
    let result = match result {
        Err(e) if e.is_cancelled() => {
            eprintln!(
                "backup interrupted: no snapshot was saved; the data uploaded so far is \
                 indexed and the next backup reuses it"
            );
            return Ok(ExitCode::from(crate::interrupt::EXIT_INTERRUPTED));
        }
        r if a.stdin => r.flat().context("backing up standard input")?,
        r => r.flat().context("backup failed")?,
    };
    let s = &result.snapshot.summary;
    vars.extend([
        ("CAIRN_SNAPSHOT_ID", id_or_empty(&result).to_owned()),
        ("CAIRN_FILES_NEW", s.files_new.to_string()),
        ("CAIRN_FILES_CHANGED", s.files_changed.to_string()),
        ("CAIRN_FILES_UNCHANGED", s.files_unchanged.to_string()),
        ("CAIRN_DATA_ADDED", s.bytes_added_raw.to_string()),
    ]);
    // A dry run stored nothing: no redundancy to check. (The library
    // counted the backup's metrics.)
    let redundancy = match a.dry_run {
        true => None,
        false => repo.heal().await,
    };
    report(ctx, &result, redundancy.as_ref());
    let torn = result
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::ChangedWhileRead)
        .count();
    if torn > 0 {
        eprintln!(
            "warning: {torn} files changed while being read; their copies may be inconsistent"
        );
    }
    let skipped = result.warnings.len() - torn;
    // The snapshot is stored either way; an unrecorded one is a caveat
    // (exit 3), and `audit verify` will name it until someone looks.
    let unjournaled = match &result.journal {
        Some(Err(e)) => {
            eprintln!("warning: the snapshot was saved, but its audit journal entry could not be written: {e}");
            true
        }
        _ => false,
    };
    if result.snapshot.summary.errors > 0 || skipped > 0 {
        eprintln!(
            "warning: {} entries could not be read; the snapshot was saved without them",
            skipped.max(result.snapshot.summary.errors as usize)
        );
        return Ok(ExitCode::from(3));
    }
    if unjournaled {
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

fn report(ctx: &Ctx, r: &BackupResult, redundancy: Option<&Redundancy>) {
    let s = &r.snapshot.summary;
    if let Some(red) = redundancy {
        // On stderr in every mode: a backup that lost redundancy must not
        // pass unnoticed, even under --json or --quiet.
        crate::erasure_cmds::warn(red);
    }
    if ctx.json {
        let mut v = serde_json::json!({
            "message_type": "summary",
            "snapshot_id": id_or_empty(r),
            "journal_entry": r.journal.as_ref().and_then(|j| j.as_ref().ok()),
            "dry_run": r.snapshot_id.is_none(),
            "files_new": s.files_new,
            "files_changed": s.files_changed,
            "files_unchanged": s.files_unchanged,
            "dirs": s.dirs,
            "symlinks": s.symlinks,
            "errors": s.errors,
            "bytes_read": s.bytes_read,
            "total_bytes": s.total_bytes,
            "blobs_added": s.blobs_added,
            "data_added": s.bytes_added_raw,
            "data_added_stored": s.bytes_added_stored,
            "packs_added": s.packs_added,
            "duration_secs": s.duration_secs,
            "warnings": r.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        });
        if let Some(red) = redundancy {
            v["redundancy"] = crate::erasure_cmds::json(red);
        }
        println!("{v}");
        return;
    }
    if ctx.quiet {
        return;
    }
    let files = s.files_new + s.files_changed + s.files_unchanged;
    println!(
        "Files:       {:>6} new, {:>6} changed, {:>6} unchanged",
        s.files_new, s.files_changed, s.files_unchanged
    );
    println!("Dirs:        {:>6}     Symlinks: {:>6}", s.dirs, s.symlinks);
    println!(
        "{}: {} ({} stored, {} packs)",
        if r.snapshot_id.is_none() {
            "Would add to the repository"
        } else {
            "Added to the repository"
        },
        ui::bytes(s.bytes_added_raw),
        ui::bytes(s.bytes_added_stored),
        s.packs_added
    );
    println!();
    println!(
        "processed {files} files, {} in {} ({:.1} MiB/s read)",
        ui::bytes(s.total_bytes),
        ui::clock(Duration::from_secs_f64(s.duration_secs.max(0.0))),
        ui::mib_per_sec(s.bytes_read, s.duration_secs),
    );
    match &r.snapshot_id {
        None => println!("dry run: nothing was written to the repository"),
        Some(id) => println!("snapshot {} saved", id.short()),
    }
}

/// The new snapshot's id, empty after a dry run (as the JSON and the
/// hooks' `CAIRN_SNAPSHOT_ID` have always said it).
fn id_or_empty(r: &BackupResult) -> &str {
    r.snapshot_id.as_deref().unwrap_or("")
}

/// A snapshot argument: `latest` or an id prefix (garbage is refused here,
/// before the repository is opened).
pub(crate) fn query(arg: &str) -> Result<SnapshotQuery> {
    arg.parse()
        .with_context(|| format!("snapshot {arg:?}: expected `latest` or a snapshot id (prefix)"))
}

/// The short form of a snapshot id (restic's 8 hex digits).
pub(crate) fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
