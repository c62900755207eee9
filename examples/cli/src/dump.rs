//! `cairn dump SNAPSHOT PATH`: one file of a snapshot to standard output,
//! or a directory as a tar or zip stream (restic's habit), read through the
//! library's verified, seekable file reader.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use cairn::{Node, NodeKind, ReaderOptions, Repository};
use clap::{Args, ValueEnum};

use crate::ctx::{Ctx, Flat};

#[derive(Debug, Args)]
pub(crate) struct DumpArgs {
    /// `latest` or a snapshot id (prefix).
    snapshot: String,
    /// The path in the snapshot (absolute, as backed up; `/` for all).
    path: PathBuf,
    /// The archive format a directory is written in.
    #[arg(long, value_enum, default_value_t = Archive::Tar)]
    archive: Archive,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Archive {
    /// POSIX tar with GNU long names: modes, owners, times, symlinks, hard links.
    Tar,
    /// Zip (deflate, streamed): modes, times, symlinks; no owners, hard
    /// links as copies.
    Zip,
}

pub(crate) async fn run(ctx: &Ctx, a: DumpArgs) -> Result<ExitCode> {
    let repo = Arc::new(ctx.open().await?);
    let (_, snap) = repo
        .snapshot(&crate::backup::query(&a.snapshot)?)
        .await
        .flat()
        .with_context(|| format!("finding snapshot {}", a.snapshot))?;
    let node = repo
        .node_at(&snap, &a.path)
        .await
        .flat()
        .context("looking the path up")?
        .with_context(|| format!("{} is not in the snapshot", a.path.display()))?;
    // Off the executor: the blocking reader and the tar writer run their
    // own small executor per call, which must not nest in this one.
    blocking::unblock(move || {
        let out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
        match &node.kind {
            NodeKind::File { .. } => copy_file(&repo, &a.path, node, out),
            NodeKind::Dir { .. } => match a.archive {
                Archive::Tar => write_tar(&repo, &a.path, node, out),
                Archive::Zip => crate::dump_zip::write_zip(&repo, &a.path, node, out),
            },
            NodeKind::Symlink { .. } => bail!(
                "{} is a symlink: dump the directory holding it",
                a.path.display()
            ),
        }
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

fn copy_file(repo: &Repository, path: &Path, node: Node, mut out: impl Write) -> Result<()> {
    let mut reader = repo
        .file_reader(path, node, ReaderOptions::default())
        .flat()?
        .blocking();
    std::io::copy(&mut reader, &mut out).with_context(|| format!("reading {}", path.display()))?;
    out.flush().context("writing standard output")?;
    Ok(())
}

/// Writes the directory `dir` (at `path` in the snapshot) as a tar stream:
/// entry names relative to it, parents before children.
fn write_tar(repo: &Repository, path: &Path, dir: Node, out: impl Write) -> Result<()> {
    let NodeKind::Dir { subtree } = dir.kind else {
        bail!("{} is not a directory", path.display());
    };
    let mut tar = tar::Builder::new(out);
    // First path of each multiply linked file, by (device, inode): later
    // links become tar hard links to it.
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let walk = repo.inner().walk_nodes(subtree.into());
    for item in futures::executor::block_on_stream(Box::pin(walk)) {
        let (abs, node) = item.context("reading the snapshot's trees")?;
        let rel = abs.strip_prefix("/").unwrap_or(&abs).to_owned();
        let shown = path.join(&rel);
        append(repo, &mut tar, &rel, &shown, node, &mut links)
            .with_context(|| format!("dumping {}", shown.display()))?;
    }
    let mut out = tar.into_inner().context("finishing the tar stream")?;
    out.flush().context("writing standard output")?;
    Ok(())
}

fn append<W: Write>(
    repo: &Repository,
    tar: &mut tar::Builder<W>,
    rel: &Path,
    shown: &Path,
    node: Node,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_mode(node.mode & 0o7777);
    h.set_uid(u64::from(node.uid));
    h.set_gid(u64::from(node.gid));
    h.set_mtime(u64::try_from(node.mtime.sec).unwrap_or(0));
    h.set_size(0);
    match &node.kind {
        NodeKind::Dir { .. } => {
            h.set_entry_type(tar::EntryType::Directory);
            tar.append_data(&mut h, rel, std::io::empty())?;
        }
        NodeKind::Symlink { target } => {
            use std::os::unix::ffi::OsStrExt;
            h.set_entry_type(tar::EntryType::Symlink);
            let target = Path::new(std::ffi::OsStr::from_bytes(target));
            tar.append_link(&mut h, rel, target)?;
        }
        NodeKind::File { .. } => {
            if node.nlink > 1 && node.inode != 0 {
                if let Some(first) = links.get(&(node.dev, node.inode)) {
                    h.set_entry_type(tar::EntryType::Link);
                    tar.append_link(&mut h, rel, first)?;
                    return Ok(());
                }
                links.insert((node.dev, node.inode), rel.to_owned());
            }
            let reader = repo
                .file_reader(shown, node, ReaderOptions::default())
                .flat()?;
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(reader.len());
            tar.append_data(&mut h, rel, reader.blocking())?;
        }
    }
    Ok(())
}
