//! `init` and `key list|add|remove|passwd|rotate`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cairn::{
    Compression, InitOptions, Location, NewKey, RemoveOptions, Repository, Role, RotateOptions,
    RotateReport,
};
use clap::{Args, Subcommand};

use crate::ctx::{new_key_kdf, read_password, Ctx, Flat};

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
    let location = Location::parse(loc).flat()?;
    let at = crate::location::open(&location, loc, true)?;
    let repo = Repository::init_in(at, password.bytes(), opts)
        .await
        .flat()
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
    /// List key files: id (as `key remove` takes it), role, created, label, KDF cost.
    List,
    /// Add a key file for another password (from CAIRN_NEW_PASSWORD or
    /// --new-password-file). Admins only.
    Add(AddArgs),
    /// Remove a key file by id or unambiguous id prefix: its password no
    /// longer opens the repository, and a new key epoch starts without it
    /// (its holder may have kept a copy of the master key). Admins only;
    /// never the last admin key.
    Remove(RemoveArgs),
    /// Change the password of the key file this password opens (same role
    /// and label; upgrades a version 1 key file to version 2).
    Passwd(NewPasswordArgs),
    /// Start a new key epoch: new data is sealed under a fresh root granted
    /// to every remaining key file; `prune` then re-encrypts data of older
    /// epochs (`stats` shows what is left under each). Admins only.
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RotateArgs {
    /// Remove key files that cannot receive the new epoch (version 1 and 2
    /// files) instead of refusing; `key passwd` with their password would
    /// upgrade them instead.
    #[arg(long)]
    drop_old_keys: bool,
}

#[derive(Debug, Args)]
pub(crate) struct NewPasswordArgs {
    /// Read the new password from the first line of this file (otherwise
    /// from CAIRN_NEW_PASSWORD).
    #[arg(long)]
    new_password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// What the key may do: `admin` (everything) or `backup` (back up and
    /// read; cannot forget, prune or manage keys).
    #[arg(long, default_value = "admin", value_parser = parse_role)]
    role: Role,
    /// A label for the key (default: user@host of this machine).
    #[arg(long)]
    label: Option<String>,
    #[command(flatten)]
    password: NewPasswordArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RemoveArgs {
    /// The key id (or an unambiguous prefix), as `key list` shows it.
    id: String,
    /// Do not start a new key epoch (a holder who kept the master key could
    /// then still read data written later).
    #[arg(long)]
    no_rotate: bool,
    /// Remove key files that cannot receive the new epoch (version 1 and 2)
    /// instead of refusing.
    #[arg(long)]
    drop_old_keys: bool,
}

fn parse_role(s: &str) -> std::result::Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?} (admin or backup)"))
}

pub(crate) async fn key(ctx: &Ctx, cmd: KeyCommand) -> Result<ExitCode> {
    let new_args = match &cmd {
        KeyCommand::Add(a) => Some(&a.password),
        KeyCommand::Passwd(a) => Some(a),
        KeyCommand::List | KeyCommand::Remove(_) | KeyCommand::Rotate(_) => None,
    };
    // Read the new password before the (slow) open, so a missing one fails fast.
    let new = match new_args {
        Some(a) => Some(read_password(
            a.new_password_file.as_ref(),
            "CAIRN_NEW_PASSWORD",
            "--new-password-file",
        )?),
        None => None,
    };
    let mut repo = ctx.open().await?;
    let (name, verb) = match (cmd, new) {
        (KeyCommand::List, _) => return list(ctx, &repo).await,
        (KeyCommand::Add(a), Some(new)) => {
            let mut spec = NewKey::new(a.role).kdf(new_key_kdf());
            if let Some(l) = a.label {
                spec = spec.label(l);
            }
            let name = repo
                .add_key(new.bytes(), &spec)
                .await
                .flat()
                .context("adding a key file")?;
            (name, "added")
        }
        (KeyCommand::Passwd(_), Some(new)) => (
            repo.change_password(new.bytes(), new_key_kdf())
                .await
                .flat()
                .context("changing the password")?,
            "saved new",
        ),
        (KeyCommand::Remove(a), _) => {
            let opts = RemoveOptions::default()
                .rotate(!a.no_rotate)
                .drop_old_keys(a.drop_old_keys);
            let r = repo
                .remove_key(&a.id, &opts)
                .await
                .flat()
                .with_context(|| format!("removing key {}", a.id))?;
            if ctx.json {
                println!(
                    "{}",
                    serde_json::json!({"key": r.key, "action": "removed", "rotation": r.rotation,
                        "authority": r.authority})
                );
            } else if !ctx.quiet {
                println!("removed key {}", r.key);
                if let Some(rot) = &r.rotation {
                    print_rotation(rot);
                }
                if let Some(a) = &r.authority {
                    println!(
                        "started admin authority {} ({}), granted to {} admin key files; \
                         {} objects signed by the old one stay valid",
                        a.authority,
                        a.object,
                        a.granted.len(),
                        a.pinned
                    );
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        (KeyCommand::Rotate(a), _) => {
            let opts = RotateOptions::default().drop_old_keys(a.drop_old_keys);
            let r = repo
                .rotate_keys(&opts)
                .await
                .flat()
                .context("rotating the key epoch")?;
            if ctx.json {
                println!("{}", serde_json::to_string(&r)?);
            } else if !ctx.quiet {
                print_rotation(&r);
            }
            return Ok(ExitCode::SUCCESS);
        }
        _ => anyhow::bail!("no new password"),
    };
    if ctx.json {
        println!("{}", serde_json::json!({"key": name, "action": verb}));
    } else if !ctx.quiet {
        println!("{verb} key {name}");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_rotation(r: &RotateReport) {
    println!(
        "started key epoch {} ({}), granted to {} key files",
        r.epoch,
        r.object,
        r.granted.len()
    );
    for id in &r.dropped {
        println!("  dropped (could not receive the epoch): {id}");
    }
    for id in &r.not_trusted {
        println!("  not granted (not endorsed by the admin authority): {id}");
    }
    println!("run `cairn prune` to re-encrypt data still under older epochs");
}

async fn list(ctx: &Ctx, repo: &Repository) -> Result<ExitCode> {
    let keys = repo.list_keys().await.flat().context("listing key files")?;
    if ctx.json {
        println!("{}", serde_json::to_string(&keys)?);
        return Ok(ExitCode::SUCCESS);
    }
    match repo.authority_chain() {
        Some(c) if c.link() > 0 => println!(
            "admin authority: {} (authorities/{:010}; {} retired)",
            c.current().to_hex(),
            c.link(),
            c.retired().len()
        ),
        Some(c) => println!(
            "admin authority (from this key file): {}",
            c.current().to_hex()
        ),
        None => println!("admin authority: none (opened with a version 1 key file)"),
    }
    println!(
        "{:<64}  {:<6}  {:<20}  {:<24}  {:<14}  notes",
        "ID", "ROLE", "CREATED", "LABEL", "KDF"
    );
    for k in &keys {
        let mut notes = Vec::new();
        if k.current {
            notes.push("current".to_owned());
        }
        if k.version == 1 {
            notes.push("version 1 (no authority; `key passwd` upgrades it)".into());
        } else if k.version == 2 {
            notes.push("version 2 (cannot receive key epochs; `key passwd` upgrades it)".into());
        }
        if k.endorsed == Some(false) {
            notes.push("NOT ENDORSED by this repository's admin authority".into());
        }
        if k.revoked {
            notes.push("revoked".into());
        }
        if let Some(p) = &k.problem {
            notes.push(format!("unreadable: {p}"));
        }
        let kdf = k
            .kdf
            .map(|[m, t, p]| format!("{}MiB t{t} p{p}", m / 1024))
            .unwrap_or_default();
        println!(
            "{:<64}  {:<6}  {:<20}  {:<24}  {:<14}  {}",
            k.id,
            k.role.map_or("?", Role::as_str),
            k.created.as_deref().unwrap_or("-"),
            k.label.as_deref().unwrap_or("-"),
            kdf,
            notes.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
