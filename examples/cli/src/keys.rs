//! `init` and `key add|passwd`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use cairn_cas_core::{Compression, InitOptions, Repository};
use clap::{Args, Subcommand};

use crate::ctx::{new_key_kdf, read_password, Ctx};

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Compression of new data: `zstd:LEVEL` (e.g. zstd:3), `lz4` or `none`.
    #[arg(long, default_value = "zstd:3")]
    compression: String,
    /// Target pack size in MiB (1 ..= 1024).
    #[arg(long, value_name = "MiB", default_value_t = 16)]
    pack_size: u64,
}

pub(crate) async fn init(ctx: &Ctx, a: InitArgs) -> Result<ExitCode> {
    let loc = ctx.location()?;
    let password = ctx.password()?;
    let compression = Compression::parse(&a.compression)
        .with_context(|| format!("--compression {}", a.compression))?;
    let opts = InitOptions::default()
        .compression(compression)
        .pack_size(a.pack_size.saturating_mul(1 << 20))
        .kdf(new_key_kdf());
    let opened = crate::location::open(loc, true)?;
    let repo = Repository::init(Arc::clone(&opened.backend), password.bytes(), opts)
        .await
        .with_context(|| format!("creating repository {loc}"))?;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"message_type": "initialized", "id": repo.config().id, "repository": loc})
        );
    } else if !ctx.quiet {
        println!("created cairn repository {} at {loc}", repo.config().id);
        println!();
        println!("Please note that knowledge of your password is required to access");
        println!("the repository. Losing your password means that your data is");
        println!("irrecoverably lost.");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Add a key file for another password (from CAIRN_NEW_PASSWORD or --new-password-file).
    Add(NewPasswordArgs),
    /// Change the password of the key file this password opens.
    Passwd(NewPasswordArgs),
}

#[derive(Debug, Args)]
pub(crate) struct NewPasswordArgs {
    /// Read the new password from the first line of this file (otherwise
    /// from CAIRN_NEW_PASSWORD).
    #[arg(long)]
    new_password_file: Option<PathBuf>,
}

pub(crate) async fn key(ctx: &Ctx, cmd: KeyCommand) -> Result<ExitCode> {
    let args = match &cmd {
        KeyCommand::Add(a) | KeyCommand::Passwd(a) => a,
    };
    // Read the new password before the (slow) open, so a missing one fails fast.
    let new = read_password(
        args.new_password_file.as_ref(),
        "CAIRN_NEW_PASSWORD",
        "--new-password-file",
    )?;
    let (mut repo, _) = ctx.open().await?;
    let (name, verb) = match cmd {
        KeyCommand::Add(_) => (
            repo.add_key(new.bytes(), new_key_kdf())
                .await
                .context("adding a key file")?,
            "added",
        ),
        KeyCommand::Passwd(_) => (
            repo.change_password(new.bytes(), new_key_kdf())
                .await
                .context("changing the password")?,
            "saved new",
        ),
    };
    if ctx.json {
        println!("{}", serde_json::json!({"key": name}));
    } else if !ctx.quiet {
        println!("{verb} key {name}");
    }
    Ok(ExitCode::SUCCESS)
}
