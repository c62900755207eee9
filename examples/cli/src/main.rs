//! `cairn`: the reference command-line tool for Cairn, with restic's habits.
//!
//! ```text
//! cairn demo                                   # no setup: a full round trip, with a report
//! export CAIRN_REPOSITORY=/srv/backup CAIRN_PASSWORD=...
//! cairn init
//! cairn backup ~/work --tag daily
//! cairn snapshots
//! cairn diff 1a2b3c4d latest                 # added, removed, modified
//! cairn ls latest /etc --long                 # /etc and what is in it (-R: all below)
//! cairn find '*.conf' --host web1 --json       # which snapshots hold a path
//! cairn dump latest /etc/hosts                 # one file to stdout; a directory as tar
//! cairn dump latest /etc --archive zip > etc.zip
//! cairn mount /mnt/cairn                       # browse: snapshots/latest/…, hosts/, tags/
//! cairn restore latest --target /tmp/restore --include /home/me/work/src --verify
//! cairn check --read-data-subset 10%
//! cairn repair index                           # after `check` names a damaged index object
//! cairn repair snapshots                       # after data was lost: keep what is readable
//! cairn audit log                              # who changed what, when
//! cairn audit verify --pin ~/.cairn-pin        # journal intact, and not rolled back
//! cairn tenant create acme                     # a tenant: own keys, own namespace
//! cairn tenant rekey acme                      # fresh keys going forward (after a key removal)
//! cairn backup --tenant acme ~/acme            # snapshots|restore|forget --tenant acme
//! cairn shred --tenant acme --yes --json > receipt.json   # crypto-shred, signed receipt
//! cairn shred --verify-receipt receipt.json
//! ```
//!
//! Exit codes: 0 success, 1 error, 3 a backup saved its snapshot but some
//! files could not be read (as restic), or its audit journal entry could not
//! be written; 130 a backup or restore stopped by
//! Ctrl-C/SIGTERM (the first signal stops it cleanly, a second at once).

mod audit;
mod backup;
mod copy;
mod ctx;
mod demo;
mod diff;
mod dump;
mod dump_zip;
mod erasure_cmds;
mod find;
mod forget;
mod history;
mod hooks;
mod inspect;
mod interrupt;
mod keys;
mod layout_cmds;
mod location;
mod mount;
mod observe;
mod prune;
mod repair;
mod restore;
mod select;
mod tenant;
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
    /// Log what happens (-v info, -vv debug: every backend call); `RUST_LOG`
    /// takes a full filter instead.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Write the run's metrics to this file in Prometheus text format when
    /// the command ends (node_exporter's textfile-collector convention for
    /// batch jobs: the file is replaced atomically).
    #[arg(long, value_name = "FILE", global = true)]
    metrics_file: Option<PathBuf>,
    /// Limit uploads to the repository to this many KiB/s (0: unlimited).
    #[arg(long, value_name = "KiB/s", global = true, default_value_t = 0)]
    limit_upload: u64,
    /// Limit downloads from the repository to this many KiB/s (0: unlimited).
    #[arg(long, value_name = "KiB/s", global = true, default_value_t = 0)]
    limit_download: u64,
    /// Never delete or overwrite anything in the repository (for backup
    /// hosts; pair it with storage credentials that cannot delete, see
    /// `cairn_backends::AppendOnly`). Backups work; forget and prune do not.
    #[arg(long, env = "CAIRN_APPEND_ONLY", global = true)]
    append_only: bool,
    /// Work inside this tenant of the repository (its own keys and
    /// namespace; no dedup with other tenants): backup, snapshots, restore,
    /// forget, prune, check… With `shred`: the tenant to shred.
    #[arg(long, env = "CAIRN_TENANT", global = true, value_name = "NAME")]
    tenant: Option<String>,
    /// Do not use the local metadata cache: read index objects, snapshot
    /// records and trees from the repository every time, and write nothing
    /// on this machine.
    /// (`CAIRN_NO_CACHE` takes 1/0, true/false, yes/no, on/off.)
    #[arg(long, env = "CAIRN_NO_CACHE", global = true,
          value_parser = clap::builder::BoolishValueParser::new())]
    no_cache: bool,
    /// The local metadata cache's directory (default `$XDG_CACHE_HOME/cairn`
    /// or `~/.cache/cairn`). Safe to delete at any time.
    #[arg(long, value_name = "DIR", env = "CAIRN_CACHE_DIR", global = true)]
    cache_dir: Option<PathBuf>,
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
    /// What was added, removed and modified between two snapshots.
    Diff(diff::DiffArgs),
    /// Which snapshots contain a path matching a pattern.
    Find(find::FindArgs),
    /// Write a file of a snapshot to standard output, or a directory as a tar stream.
    Dump(dump::DumpArgs),
    /// Serve every snapshot as a read-only FUSE file system on DIR until
    /// Ctrl-C or SIGTERM (restic's layout: snapshots/, hosts/, tags/, latest).
    Mount(mount::MountArgs),
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
    /// Change snapshots' tags (--add/--remove/--set): new records replace the old.
    Tag(history::TagArgs),
    /// Keep a snapshot from forget and prune, whatever the policy (admin).
    Hold(history::HoldArgs),
    /// Release a snapshot's hold.
    Release(history::ReleaseArgs),
    /// New snapshots without the paths matching --exclude (--forget: the originals go).
    Rewrite(history::RewriteArgs),
    /// Delete data no snapshot references (safe while backups run).
    Prune(prune::PruneCmd),
    /// Manage key files: list, add (with a role), remove, change a password.
    #[command(subcommand)]
    Key(keys::KeyCommand),
    /// The audit journal: `log` every change, `verify` it was not tampered with.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Tenants (key domains): create, list (admin keys).
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Crypto-shred a tenant (--tenant T): destroy its keys everywhere,
    /// forget its snapshots, print a signed erasure receipt.
    Shred(tenant::ShredArgs),
    /// Copy snapshots from another repository (different password and keys).
    Copy(copy::CopyArgs),
    /// Repair a damaged repository: rebuild the index, rewrite snapshots.
    #[command(subcommand)]
    Repair(repair::RepairCommand),
    /// Verify (and with --repair, rewrite) erasure shards of a `*.toml` layout.
    Scrub(erasure_cmds::ScrubArgs),
    /// Health of each backend of a `*.toml` erasure layout.
    Health,
    /// Plan an erasure layout: durability, tolerance, cost.
    #[command(subcommand)]
    Layout(layout_cmds::LayoutCommand),
    /// Generate sample data, back it up twice, restore, verify and report.
    /// Needs no repository or password.
    Demo(demo::DemoArgs),
}

impl Command {
    /// The operation name in metrics (`cairn_last_success_timestamp_seconds{operation=…}`),
    /// for the commands whose library call does not record it itself.
    /// Those that do (backup, restore, check, copy, forget, prune, diff,
    /// find, scrub, stats) are timed by the library alone: recording them here
    /// too would count each run twice. (A dry-run backup is
    /// `backup_dry_run` there: it must not refresh the backup's success
    /// time.)
    fn operation(&self) -> Option<&'static str> {
        Some(match self {
            Command::Backup(_)
            | Command::Restore(_)
            | Command::Check(_)
            | Command::Copy(_)
            | Command::Forget(_)
            | Command::Prune(_)
            | Command::Diff(_)
            | Command::Find(_)
            | Command::Scrub(_)
            | Command::Stats(_)
            | Command::Tag(_)
            | Command::Hold(_)
            | Command::Release(_)
            | Command::Rewrite(_) => return None,
            Command::Init(_) => "init",
            Command::Snapshots(_) => "snapshots",
            Command::Ls(_) => "ls",
            Command::Dump(_) => "dump",
            Command::Mount(_) => "mount",
            Command::Cat(_) => "cat",
            Command::Key(_) => "key",
            Command::Repair(_) => "repair",
            Command::Audit(_) => "audit",
            Command::Tenant(_) => "tenant",
            Command::Shred(_) => "shred",
            Command::Health => "health",
            Command::Layout(_) => "layout",
            Command::Demo(_) => "demo",
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    observe::init_logging(cli.verbose);
    let metrics = match cli.metrics_file.as_deref().map(observe::Metrics::install) {
        Some(Err(e)) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(1);
        }
        Some(Ok(m)) => Some(m),
        None => None,
    };
    let ctx = ctx::Ctx {
        repo: cli.repo,
        password_file: cli.password_file,
        json: cli.json,
        quiet: cli.quiet,
        limits: ctx::limits(cli.limit_upload, cli.limit_download),
        append_only: cli.append_only,
        tenant: cli.tenant,
        cache: ctx::cache(cli.no_cache, cli.cache_dir),
    };
    let operation = cli
        .command
        .operation()
        .map(cairn::metrics::Operation::start);
    let result = futures::executor::block_on(async {
        match cli.command {
            Command::Init(a) => keys::init(&ctx, a).await,
            Command::Backup(a) => backup::run(&ctx, a).await,
            Command::Snapshots(a) => inspect::snapshots(&ctx, a).await,
            Command::Ls(a) => inspect::ls(&ctx, a).await,
            Command::Diff(a) => diff::run(&ctx, a).await,
            Command::Find(a) => find::run(&ctx, a).await,
            Command::Dump(a) => dump::run(&ctx, a).await,
            Command::Mount(a) => mount::run(&ctx, a).await,
            Command::Restore(a) => restore::run(&ctx, a).await,
            Command::Stats(a) => inspect::stats(&ctx, a).await,
            Command::Cat(a) => inspect::cat(&ctx, a).await,
            Command::Check(a) => restore::check(&ctx, a).await,
            Command::Forget(a) => forget::run(&ctx, *a).await,
            Command::Prune(a) => prune::run(&ctx, a).await,
            Command::Tag(a) => history::tag(&ctx, a).await,
            Command::Hold(a) => history::hold(&ctx, a).await,
            Command::Release(a) => history::release(&ctx, a).await,
            Command::Rewrite(a) => history::rewrite(&ctx, a).await,
            Command::Key(k) => keys::key(&ctx, k).await,
            Command::Repair(r) => repair::run(&ctx, r).await,
            Command::Copy(a) => copy::run(&ctx, a).await,
            Command::Audit(a) => audit::run(&ctx, a).await,
            Command::Tenant(t) => tenant::run(&ctx, t).await,
            Command::Shred(a) => tenant::shred(&ctx, a).await,
            Command::Scrub(a) => erasure_cmds::scrub(&ctx, a).await,
            Command::Health => erasure_cmds::health(&ctx).await,
            Command::Layout(c) => layout_cmds::run(&ctx, c),
            Command::Demo(a) => demo::run(&ctx, a).await,
        }
    });
    // Exit code 3 (a backup saved without some files) is not a success.
    let succeeded = matches!(&result, Ok(code) if *code == ExitCode::SUCCESS);
    if let Some(op) = operation {
        op.finish(&if succeeded { Ok(()) } else { Err(()) });
    }
    if let Some(m) = metrics {
        if let Err(e) = m.write() {
            eprintln!("error: {e:#}");
            return ExitCode::from(1);
        }
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
