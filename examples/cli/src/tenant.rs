//! `tenant create|list|rekey` and `shred --tenant T [--yes]`,
//! `shred --verify-receipt FILE`: glue over the facade's tenants.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use cairn::Receipt;
use clap::{Args, Subcommand};

use crate::ctx::{Ctx, Flat};

#[derive(Debug, Subcommand)]
pub(crate) enum TenantCommand {
    /// Create a tenant (admin key): random keys of its own, wrapped under
    /// the repository's keys, and a namespace of its own.
    Create {
        /// The tenant's name (stored only sealed, never in object names).
        name: String,
    },
    /// List the tenants (admin key).
    List,
    /// Give a tenant fresh keys going forward (admin key): a key holder
    /// removed earlier can read nothing it writes afterwards. Existing
    /// snapshots keep restoring.
    Rekey {
        /// The tenant's name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ShredArgs {
    /// Do not ask for confirmation (required when standard input is not a
    /// terminal).
    #[arg(long)]
    yes: bool,
    /// Instead of shredding, check an erasure receipt: its signature under
    /// this repository's admin authority, and that it is for this
    /// repository.
    #[arg(long, value_name = "FILE", conflicts_with = "yes")]
    verify_receipt: Option<PathBuf>,
}

pub(crate) async fn run(ctx: &Ctx, cmd: TenantCommand) -> Result<ExitCode> {
    let repo = ctx.open_whole().await?;
    match cmd {
        TenantCommand::Create { name } => {
            let t = repo
                .create_tenant(&name)
                .await
                .flat()
                .with_context(|| format!("creating tenant {name:?}"))?;
            let v = t.tenant().ok_or_else(|| anyhow!("no tenant view"))?;
            if ctx.json {
                let out =
                    serde_json::json!({"name": name, "id": v.id(), "namespace": v.namespace()});
                println!("{out}");
            } else if !ctx.quiet {
                println!("created tenant {name:?} (id {})", v.id());
            }
        }
        TenantCommand::Rekey { name } => {
            let r = repo
                .rekey_tenant(&name)
                .await
                .flat()
                .with_context(|| format!("rekeying tenant {name:?}"))?;
            if ctx.json {
                println!("{}", serde_json::to_string(&r)?);
            } else if !ctx.quiet {
                println!("rekeyed tenant {name:?} (id {})", short(&r.tenant));
                println!("  new key generation {}: {}", r.generation, r.object);
                println!("  {} old key object(s) replaced", r.replaced.len());
                println!(
                    "data written from now on uses generation {}; existing snapshots keep theirs",
                    r.generation
                );
            }
        }
        TenantCommand::List => {
            let list = repo.tenants().await.flat().context("listing tenants")?;
            if ctx.json {
                println!("{}", serde_json::to_string(&list)?);
            } else {
                for t in list {
                    println!(
                        "{}  {}  epoch {}  generation {}",
                        &t.id[..8],
                        t.name,
                        t.epoch,
                        t.generation
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn shred(ctx: &Ctx, a: ShredArgs) -> Result<ExitCode> {
    let repo = ctx.open_whole().await?;
    if let Some(path) = a.verify_receipt {
        let bytes =
            std::fs::read(&path).with_context(|| format!("reading receipt {}", path.display()))?;
        let r = repo
            .verify_receipt(&bytes)
            .flat()
            .with_context(|| format!("receipt {}", path.display()))?;
        if ctx.json {
            println!(
                "{}",
                serde_json::json!({"valid": true, "tenant": r.tenant, "time": r.time})
            );
        } else {
            println!(
                "receipt valid: tenant {:?} shredded at {} by key {} (authority {})",
                r.tenant,
                r.time,
                short(&r.key),
                short(&r.authority)
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(name) = &ctx.tenant else {
        bail!("which tenant? pass --tenant NAME (or --verify-receipt FILE)");
    };
    if !a.yes {
        confirm(name)?;
    }
    // On an erasure layout the library confirms the keys gone from every child.
    let receipt = repo
        .shred_tenant(name)
        .await
        .flat()
        .with_context(|| format!("shredding tenant {name:?}"))?;
    if !ctx.json && !ctx.quiet {
        summary(&receipt);
    }
    println!("{}", receipt.to_json()?);
    Ok(ExitCode::SUCCESS)
}

fn confirm(name: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("refusing to shred tenant {name:?} without --yes (standard input is not a terminal)");
    }
    eprint!(
        "Shredding destroys tenant {name:?}'s keys: none of its snapshots can ever be \
         restored again. Type the tenant's name to confirm: "
    );
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim_end_matches(['\r', '\n']) != name {
        bail!("not confirmed; nothing was shredded");
    }
    Ok(())
}

fn summary(r: &Receipt) {
    let pending: u64 = r.pending_gc.iter().map(|p| p.objects).sum();
    let bytes: u64 = r.pending_gc.iter().map(|p| p.bytes).sum();
    eprintln!("tenant {:?} shredded:", r.tenant);
    for d in &r.destroyed {
        eprintln!(
            "  destroyed {} (gone from: {})",
            d.object,
            d.confirmed_absent_on.join(", ")
        );
    }
    eprintln!("  {} snapshot(s) forgotten", r.snapshots_forgotten.len());
    eprintln!("  {pending} object(s), {bytes} bytes of its ciphertext left for `cairn prune`");
    eprintln!("the signed receipt follows on standard output; keep it (check it with `cairn shred --verify-receipt FILE`)");
}

fn short(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}
