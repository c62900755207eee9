//! `copy`: snapshots from another repository into this one (restic's habits:
//! `--from-repo`, `--from-password-file`, `CAIRN_FROM_PASSWORD`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cairn::CopyOptions;
use clap::Args;

use crate::ctx::{read_password, Ctx, Flat};

#[derive(Debug, Args)]
pub(crate) struct CopyArgs {
    /// The repository to copy from (a directory, `s3:…`, or a layout file).
    #[arg(long, env = "CAIRN_FROM_REPOSITORY")]
    from_repo: String,
    /// Read the source's password from this file (otherwise from CAIRN_FROM_PASSWORD).
    #[arg(long, env = "CAIRN_FROM_PASSWORD_FILE")]
    from_password_file: Option<PathBuf>,
    /// Snapshots to copy (ids or prefixes); none: all. Already copied ones are skipped.
    snapshots: Vec<String>,
}

pub(crate) async fn run(ctx: &Ctx, a: CopyArgs) -> Result<ExitCode> {
    let from_pw = read_password(
        a.from_password_file.as_ref(),
        "CAIRN_FROM_PASSWORD",
        "--from-password-file",
    )?;
    let source = ctx.open_at(&a.from_repo, &from_pw).await?;
    let target = ctx.open().await?;
    let mut opts = CopyOptions::new();
    for s in a.snapshots {
        opts = opts.snapshot(crate::backup::query(&s)?);
    }
    let r = target
        .copy_from(&source, &opts)
        .await
        .flat()
        .with_context(|| format!("copying from {}", a.from_repo))?;
    if ctx.json {
        println!("{}", serde_json::to_string(&r)?);
    } else if !ctx.quiet {
        for c in &r.copied {
            println!("snapshot {} copied as {}", &c.source[..8], &c.target[..8]);
        }
        for s in &r.already_copied {
            println!("snapshot {} already copied", &s[..8.min(s.len())]);
        }
        println!(
            "{} blobs sent ({} bytes stored in {} packs), {} already there{}",
            r.blobs_sent,
            r.bytes_sent,
            r.packs_written,
            r.blobs_reused,
            if r.rechunked {
                "; contents re-chunked for the target's chunker"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
