//! `audit log`, `audit verify [--pin FILE]` and `audit checkpoint`: glue over
//! the facade's journal methods.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use cairn::{JournalEntry as Entry, JournalOperation as Operation};
use clap::{Args, Subcommand};

use crate::backup::short;
use crate::ctx::{Ctx, Flat};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// List the journal: every operation that changed the repository,
    /// oldest first (`--json` for the full entries).
    Log,
    /// Verify the journal: entries intact and linked, every snapshot
    /// recorded, and (with --pin) the heads seen last time still present.
    Verify(VerifyArgs),
    /// Retention: cover entries older than the newest KEEP generations by a
    /// checkpoint entry, then delete them (verification stays whole).
    Checkpoint(CheckpointArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CheckpointArgs {
    /// Generations (journal `seq` values) to keep as they are.
    #[arg(long, default_value_t = 100)]
    keep: u64,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// A file holding the journal heads seen by the last verification (one
    /// id a line). Each must still be in the journal, or the repository was
    /// rolled back. After a clean verification the current heads are
    /// written to it (the file is created if missing).
    #[arg(long, value_name = "FILE")]
    pin: Option<PathBuf>,
}

pub(crate) async fn run(ctx: &Ctx, cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Log => log(ctx).await,
        AuditCommand::Verify(a) => verify_cmd(ctx, a).await,
        AuditCommand::Checkpoint(a) => checkpoint_cmd(ctx, a).await,
    }
}

async fn checkpoint_cmd(ctx: &Ctx, a: CheckpointArgs) -> Result<ExitCode> {
    let repo = ctx.open().await?;
    let r = repo
        .checkpoint_journal(a.keep)
        .await
        .flat()
        .context("writing a journal checkpoint")?;
    if ctx.json {
        println!("{}", serde_json::to_string(&r)?);
    } else if !ctx.quiet {
        match &r.entry {
            Some(id) => println!(
                "checkpoint {} covers {} entries; {} deleted",
                short(id),
                r.covered,
                r.deleted
            ),
            None => println!("nothing older than {} generations to cover", a.keep),
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn log(ctx: &Ctx) -> Result<ExitCode> {
    let repo = ctx.open().await?;
    let j = repo.journal().await.flat().context("reading the journal")?;
    let mut entries: Vec<(&String, &Entry)> = j.entries.iter().collect();
    // Oldest first: parents always have a smaller seq; ties (concurrent
    // writers) by time, then id.
    entries.sort_by(|a, b| (a.1.seq, &a.1.time, a.0).cmp(&(b.1.seq, &b.1.time, b.0)));
    if ctx.json {
        let mut list = Vec::new();
        for (id, e) in &entries {
            let mut v = serde_json::to_value(e)?;
            v["id"] = serde_json::Value::from(id.as_str());
            list.push(v);
        }
        let unreadable: Vec<serde_json::Value> = j
            .unreadable
            .iter()
            .map(|(id, e)| serde_json::json!({"id": id, "error": e.to_string()}))
            .collect();
        let out =
            serde_json::json!({"entries": list, "unreadable": unreadable, "heads": j.heads()});
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    for (id, e) in &entries {
        let merge = match e.parents.len() {
            0 | 1 => String::new(),
            n => format!(" (joins {n} heads)"),
        };
        println!(
            "{:>5} {} {} {:<12} {} {}{merge}",
            e.seq,
            short(id),
            e.time,
            e.who.host,
            short(e.who.key.trim_start_matches("keys/")),
            describe(&e.op)
        );
    }
    for (id, err) in &j.unreadable {
        eprintln!("error: journal entry {id} cannot be read: {err}");
    }
    if !ctx.quiet {
        println!(
            "{} entries, {} heads",
            entries.len() + j.unreadable.len(),
            j.heads().len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn shorts<'a>(ids: impl IntoIterator<Item = &'a String>) -> String {
    ids.into_iter()
        .map(|s| short(s))
        .collect::<Vec<_>>()
        .join(",")
}

fn describe(op: &Operation) -> String {
    match op {
        Operation::Init => "init".into(),
        Operation::Backup { snapshot } => format!("backup snapshot {}", short(snapshot)),
        Operation::Forget { snapshots } => {
            format!("forget {} snapshots {}", snapshots.len(), shorts(snapshots))
        }
        Operation::Prune {
            packs_condemned,
            packs_deleted,
            bytes_deleted,
            ..
        } => format!(
            "prune: {packs_condemned} packs condemned, {packs_deleted} deleted ({})",
            crate::ui::bytes(*bytes_deleted)
        ),
        Operation::RepairIndex { written, removed } => format!(
            "repair index: {} index objects written, {} removed",
            written.len(),
            removed.len()
        ),
        Operation::RepairSnapshots {
            repaired,
            forgotten,
        } => format!(
            "repair snapshots: {} rewritten, {} forgotten",
            repaired.len(),
            forgotten.len()
        ),
        Operation::Copy {
            from_repo,
            snapshots,
        } => format!(
            "copy {} snapshots from repository {}",
            snapshots.len(),
            short(from_repo)
        ),
        Operation::KeyAdd { key } => format!("key add {}", short(key.trim_start_matches("keys/"))),
        Operation::KeyRemove { key } => {
            format!("key remove {}", short(key.trim_start_matches("keys/")))
        }
        Operation::KeyPasswd { old, new } => format!(
            "key passwd {} -> {}",
            short(old.trim_start_matches("keys/")),
            short(new.trim_start_matches("keys/"))
        ),
        Operation::Restore {
            snapshot,
            files,
            bytes,
        } => format!(
            "restore snapshot {}: {files} files, {bytes} bytes",
            short(snapshot)
        ),
        Operation::KeyRotate { epoch, dropped } => match dropped.len() {
            0 => format!("key rotate: epoch {epoch}"),
            n => format!("key rotate: epoch {epoch}, {n} key files dropped"),
        },
        Operation::Checkpoint { cut, covered, .. } => format!(
            "checkpoint: {} entries up to seq {cut} covered",
            covered.len()
        ),
        Operation::Tag { snapshots } => format!("tag {} snapshots", snapshots.len()),
        Operation::Hold {
            snapshot, until, ..
        } => match until {
            Some(t) => format!("hold snapshot {} until {t}", short(snapshot)),
            None => format!("hold snapshot {}", short(snapshot)),
        },
        Operation::Release { snapshot } => format!("release snapshot {}", short(snapshot)),
        Operation::Rewrite {
            snapshots,
            excluded,
        } => format!(
            "rewrite {} snapshots excluding {}",
            snapshots.len(),
            excluded.join(", ")
        ),
        other => other.kind().to_owned(),
    }
}

async fn verify_cmd(ctx: &Ctx, a: VerifyArgs) -> Result<ExitCode> {
    let pins = match &a.pin {
        Some(p) => read_pins(p)?,
        None => Vec::new(),
    };
    let repo = ctx.open().await?;
    let r = repo
        .verify_journal(&pins)
        .await
        .flat()
        .context("verifying the journal")?;
    if ctx.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        for i in &r.issues {
            eprintln!("error: {i}");
        }
        if !ctx.quiet {
            println!(
                "journal: {} entries, {} heads, {} snapshots linked ({} from before the journal), {} pinned entries checked",
                r.entries,
                r.heads.len(),
                r.snapshots_checked,
                r.snapshots_before_journal,
                pins.len()
            );
        }
    }
    if !r.is_clean() {
        if !ctx.json {
            eprintln!(
                "the audit journal does not verify: {} issues",
                r.issues.len()
            );
        }
        return Ok(ExitCode::from(1));
    }
    if let Some(p) = &a.pin {
        write_pins(p, &r.heads)?;
        if ctx.chatty() {
            println!("pinned {} heads in {}", r.heads.len(), p.display());
        }
    }
    if ctx.chatty() {
        println!("no errors were found");
    }
    Ok(ExitCode::SUCCESS)
}

/// The ids in a pin file (none if it does not exist yet).
fn read_pins(path: &Path) -> Result<Vec<String>> {
    let text = match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        r => r.with_context(|| format!("reading pin file {}", path.display()))?,
    };
    let mut pins = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.len() != 64 || !line.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!(
                "pin file {} line {}: not a journal entry id (64 hex digits)",
                path.display(),
                n + 1
            );
        }
        pins.push(line.to_owned());
    }
    Ok(pins)
}

/// Replaces the pin file atomically (a crash leaves the old or the new one).
fn write_pins(path: &Path, heads: &[String]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing pin file {}", path.display()))?;
    writeln!(
        tmp,
        "# cairn audit journal heads, written by `cairn audit verify --pin`"
    )?;
    for h in heads {
        writeln!(tmp, "{h}")?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("writing pin file {}", path.display()))?;
    Ok(())
}
