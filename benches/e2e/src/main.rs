//! `cairn-bench`: Cairn end to end against restic and borg.
//!
//! ```text
//! cairn-bench run [--generate-mib 256] [--dir DIR --size-cap-mib 300] [--days 4]
//!                 [--many-files 300000] [--versioned] [--restore-rounds 3]
//!                 [--restore-window 10000] [--s3-snapshots 200 [--s3-runs 7]]
//!                 [--work DIR] [--json FILE] [--markdown FILE] [--tools cairn,restic,rustic,borg]
//! cairn-bench step open --repo DIR [--rounds 7]
//! ```
//!
//! For each dataset (generated, and/or a copy of a real directory) and each
//! installed tool: initial backup, unchanged re-backup, a backup after each
//! day of small changes, then a full restore of the last one (checked byte by
//! byte against the source), on disk and on tmpfs. Each step runs in a child
//! process, timed from outside, with its peak RSS; the tools take turns
//! going first. Cairn over a 4+2 erasure layout takes part in every backup,
//! and is restored healthy and with two of six directories gone. Also
//! measured: the in-memory pipeline ceiling, the file-system floor (walk and
//! read every file, in parallel), repository sizes, Cairn's index bytes per
//! chunk. With `--s3-snapshots N`: `cairn snapshots` on SeaweedFS with N
//! snapshots, without and with the metadata cache. `step open` prints the
//! median `open` of an existing repository split into the KDF (the key
//! file's Argon2id) and the rest. At the end the issue's
//! goal table, each goal a ratio of this run.

mod ceiling;
mod dataset;
mod floor;
mod goals;
mod orchestrate;
mod report;
mod restores;
mod s3fill;
mod s3snap;
mod shapes;
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
        /// init | backup | restore | open | ceiling | floor | many-files | s3-fill
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
        /// `many-files`: how many files to generate under --src (for
        /// profiling by hand; `run --many-files N` makes the same tree).
        #[arg(long, default_value_t = 300_000)]
        files: u64,
        /// `restore`: files planned and restored at a time (0: one plan).
        #[arg(long, default_value_t = 0)]
        window: usize,
        /// `s3-fill`: the repository's S3 location (`s3:http://HOST:PORT/BUCKET/PREFIX`).
        #[arg(long)]
        url: Option<String>,
        /// `open`: how many times to open (and derive the key), for medians.
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        /// `s3-fill`: how many snapshots to make.
        #[arg(long, default_value_t = 200)]
        snapshots: usize,
        /// `s3-fill`: the key file with the minimal KDF instead of the default Argon2id.
        #[arg(long)]
        minimal_kdf: bool,
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
            files,
            window,
            url,
            rounds,
            snapshots,
            minimal_kdf,
        } => {
            let need = |p: Option<PathBuf>, name: &str| {
                p.ok_or_else(|| anyhow::anyhow!("step {what}: --{name} is required"))
            };
            let mut out = match what.as_str() {
                "init" => step::init(&need(repo, "repo")?, erasure)?,
                "backup" => step::run_backup(&need(repo, "repo")?, &need(src, "src")?, erasure)?,
                "restore" => {
                    let (repo, target) = (need(repo, "repo")?, need(target, "target")?);
                    step::run_restore(&repo, &target, erasure, window)?
                }
                "open" => step::run_open(&need(repo, "repo")?, erasure, rounds)?,
                "s3-fill" => {
                    let url =
                        url.ok_or_else(|| anyhow::anyhow!("step s3-fill: --url is required"))?;
                    s3fill::fill(&url, &need(src, "src")?, snapshots, minimal_kdf)?
                }
                "ceiling" => ceiling::run(&need(src, "src")?)?,
                "floor" => floor::run(&need(src, "src")?)?,
                "many-files" => {
                    shapes::many_files(&need(src, "src")?, files, shapes::MANY_SEED)?;
                    serde_json::json!({ "files": files })
                }
                other => anyhow::bail!("unknown step {other:?}"),
            };
            out["vmhwm_kib"] = step::vmhwm_kib().into();
            println!("{out}");
            Ok(())
        }
    }
}
