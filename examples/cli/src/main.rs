//! `cairn`: the reference command-line tool for Cairn, with restic's habits.
//!
//! ```text
//! cairn demo                                   # no setup: a full round trip, with a report
//! export CAIRN_REPOSITORY=/srv/backup CAIRN_PASSWORD=...
//! cairn init
//! cairn backup ~/work --tag daily
//! cairn snapshots
//! cairn restore latest --target /tmp/restore --include /home/me/work/src --verify
//! cairn check --read-data-subset 10%
//! ```
//!
//! Exit codes: 0 success, 1 error, 3 a backup saved its snapshot but some
//! files could not be read (as restic).

mod backup;
mod ctx;
mod demo;
mod erasure_cmds;
mod forget;
mod inspect;
mod keys;
mod location;
mod missing;
mod prune;
mod restore;
mod ui;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Fast, deduplicating, encrypted backups.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, propagate_version = true)]
struct Cli {
    /// Repository: a directory, `s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]`, or
    /// an erasure layout file `*.toml`.
    #[arg(short = 'r', long = "repo", env = "CAIRN_REPOSITORY", global = true)]
    repo: Option<String>,
    /// Read the password from the first line of this file (otherwise from
    /// CAIRN_PASSWORD).
    #[arg(long, env = "CAIRN_PASSWORD_FILE", global = true)]
    password_file: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// No progress bars, fewer messages.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new repository.
    Init(keys::InitArgs),
    /// Back up files and directories (or standard input).
    Backup(backup::BackupArgs),
    /// List snapshots.
    Snapshots(inspect::SnapshotsArgs),
    /// List the files in a snapshot.
    Ls(inspect::LsArgs),
    /// Restore a snapshot (TARGET/<absolute path>, like restic).
    Restore(restore::RestoreArgs),
    /// Repository or snapshot statistics.
    Stats(inspect::StatsArgs),
    /// Print a repository object as JSON: `config` or `snapshot ID`.
    Cat(inspect::CatArgs),
    /// Check the repository's structure, and optionally read back data.
    Check(restore::CheckArgs),
    /// Remove snapshots by a retention policy (restic's --keep-* flags).
    Forget(Box<forget::ForgetArgs>),
    /// Delete data no snapshot references (safe while backups run).
    Prune(prune::PruneCmd),
    /// Manage passwords (key files).
    #[command(subcommand)]
    Key(keys::KeyCommand),
    /// Verify (and with --repair, rewrite) erasure shards of a `*.toml` layout.
    Scrub(erasure_cmds::ScrubArgs),
    /// Health of each backend of a `*.toml` erasure layout.
    Health,
    /// Generate sample data, back it up twice, restore, verify and report.
    /// Needs no repository or password.
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = ctx::Ctx {
        repo: cli.repo,
        password_file: cli.password_file,
        json: cli.json,
        quiet: cli.quiet,
    };
    let result = futures::executor::block_on(async {
        match cli.command {
            Command::Init(a) => keys::init(&ctx, a).await,
            Command::Backup(a) => backup::run(&ctx, a).await,
            Command::Snapshots(a) => inspect::snapshots(&ctx, a).await,
            Command::Ls(a) => inspect::ls(&ctx, a).await,
            Command::Restore(a) => restore::run(&ctx, a).await,
            Command::Stats(a) => inspect::stats(&ctx, a).await,
            Command::Cat(a) => inspect::cat(&ctx, a).await,
            Command::Check(a) => restore::check(&ctx, a).await,
            Command::Forget(a) => forget::run(&ctx, *a).await,
            Command::Prune(a) => prune::run(&ctx, a).await,
            Command::Key(k) => keys::key(&ctx, k).await,
            Command::Scrub(a) => erasure_cmds::scrub(&ctx, a).await,
            Command::Health => erasure_cmds::health(&ctx).await,
            Command::Demo(a) => demo::run(&ctx, a).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
