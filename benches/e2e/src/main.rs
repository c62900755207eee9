//! `cairn-bench`: Cairn end to end against restic and borg.
//!
//! ```text
//! cairn-bench run [--generate-mib 256] [--dir DIR --size-cap-mib 300] [--days 4]
//!                 [--work DIR] [--json FILE] [--markdown FILE] [--tools cairn,restic,borg]
//! ```
//!
//! For each dataset (generated, and/or a copy of a real directory) and each
//! installed tool: initial backup, unchanged re-backup, a backup after each
//! day of small changes, then a full restore of the last one (checked byte by
//! byte against the source). Each step runs in a child process, timed from
//! outside, with its peak RSS. Also measured: the in-memory pipeline ceiling,
//! repository sizes, Cairn's index bytes per chunk, and Cairn over a 4+2
//! erasure layout restored healthy and with two of six directories gone.

mod ceiling;
mod dataset;
mod orchestrate;
mod report;
mod step;
mod tools;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cairn-bench",
    about = "End-to-end benchmark: Cairn vs restic and borg"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the benchmark and print the tables.
    Run(orchestrate::RunArgs),
    /// One step in a child process (used by `run`).
    #[command(hide = true)]
    Step {
        /// init | backup | restore | ceiling
        what: String,
        #[arg(long)]
        repo: Option<PathBuf>,
        #[arg(long)]
        src: Option<PathBuf>,
        #[arg(long)]
        target: Option<PathBuf>,
        /// Use the 4+2 erasure layout under --repo.
        #[arg(long)]
        erasure: bool,
    },
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Run(args) => orchestrate::run(&args),
        Cmd::Step {
            what,
            repo,
            src,
            target,
            erasure,
        } => {
            let need = |p: Option<PathBuf>, name: &str| {
                p.ok_or_else(|| anyhow::anyhow!("step {what}: --{name} is required"))
            };
            let mut out = match what.as_str() {
                "init" => step::init(&need(repo, "repo")?, erasure)?,
                "backup" => step::run_backup(&need(repo, "repo")?, &need(src, "src")?, erasure)?,
                "restore" => {
                    step::run_restore(&need(repo, "repo")?, &need(target, "target")?, erasure)?
                }
                "ceiling" => ceiling::run(&need(src, "src")?)?,
                other => anyhow::bail!("unknown step {other:?}"),
            };
            out["vmhwm_kib"] = step::vmhwm_kib().into();
            println!("{out}");
            Ok(())
        }
    }
}
