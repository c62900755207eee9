//! `cairn dump --archive zip`: a directory of a snapshot as a zip stream
//! (restic's `dump --archive zip`), written without seeking so it can go to
//! a pipe: each entry's sizes and CRC follow its data (data descriptors).
//!
//! What zip keeps of a node: the name, Unix permissions, the modification
//! time (exact seconds in the extended-timestamp field, two-second DOS time
//! for readers that know only that), symlinks as links. Owners are not kept
//! (zip has no portable field for them) and a hard link becomes a second
//! copy of its content, as in restic's zip dumps.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use cairn::{Node, NodeKind, ReaderOptions, Repository};

use crate::ctx::Flat;
use zip::write::{FullFileOptions, StreamWriter, ZipWriter};
use zip::{CompressionMethod, DateTime};

type Zip<W> = ZipWriter<StreamWriter<W>>;

/// Writes the directory `dir` (at `path` in the snapshot) as a zip stream:
/// entry names relative to it, parents before children.
pub(crate) fn write_zip(repo: &Repository, path: &Path, dir: Node, out: impl Write) -> Result<()> {
    let NodeKind::Dir { subtree } = dir.kind else {
        bail!("{} is not a directory", path.display());
    };
    let mut zip = ZipWriter::new_stream(out);
    let walk = repo.inner().walk_nodes(subtree.into());
    for item in futures::executor::block_on_stream(Box::pin(walk)) {
        let (abs, node) = item.context("reading the snapshot's trees")?;
        let rel = abs.strip_prefix("/").unwrap_or(&abs).to_owned();
        let shown = path.join(&rel);
        add(repo, &mut zip, &rel, &shown, node)
            .with_context(|| format!("dumping {}", shown.display()))?;
    }
    let mut out = zip
        .finish()
        .context("finishing the zip stream")?
        .into_inner();
    out.flush().context("writing standard output")?;
    Ok(())
}

fn add<W: Write>(
    repo: &Repository,
    zip: &mut Zip<W>,
    rel: &Path,
    shown: &Path,
    node: Node,
) -> Result<()> {
    let name = rel.as_os_str().as_bytes();
    let lossy = String::from_utf8_lossy(name);
    let opts = options(&node)?;
    match &node.kind {
        NodeKind::Dir { .. } => zip.add_directory(lossy, opts)?,
        NodeKind::Symlink { target } => {
            zip.add_symlink(lossy, String::from_utf8_lossy(target), opts)?;
        }
        NodeKind::File { .. } => {
            // The name's bytes as they are: zip names need not be UTF-8.
            zip.start_file_with_options(opts.name(name))?;
            let reader = repo
                .file_reader(shown, node, ReaderOptions::default())
                .flat()?;
            std::io::copy(&mut reader.blocking(), zip)?;
        }
    }
    Ok(())
}

/// Permissions, times and compression of one entry.
fn options(node: &Node) -> Result<FullFileOptions<'static, 'static>> {
    let opts = FullFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .unix_permissions(node.mode & 0o7777)
        .last_modified_time(dos_time(node.mtime.sec))
        // Zip64 sizes only where the 32-bit fields cannot hold them.
        .large_file(node.size >= u64::from(u32::MAX));
    Ok(match u32::try_from(node.mtime.sec) {
        Ok(secs) => opts.with_extended_timestamp(Some(secs), None, None)?,
        Err(_) => opts,
    })
}

/// `secs` (Unix, UTC) as a DOS date and time; outside DOS's 1980–2107 the
/// nearest end of it (the extended timestamp carries the exact time).
fn dos_time(secs: i64) -> DateTime {
    let clamped = secs.clamp(315_532_800, 4_354_819_198);
    let civil = cairn::jiff::Timestamp::from_second(clamped).map(|t| {
        t.to_zoned_datetime(cairn::jiff::tz::TimeZone::UTC)
            .datetime()
    });
    let Ok(c) = civil else {
        return DateTime::default();
    };
    let parts = (
        u16::try_from(c.year()),
        u8::try_from(c.month()),
        u8::try_from(c.day()),
        u8::try_from(c.hour()),
        u8::try_from(c.minute()),
        u8::try_from(c.second()),
    );
    match parts {
        (Ok(y), Ok(mo), Ok(d), Ok(h), Ok(mi), Ok(s)) => {
            DateTime::from_date_and_time(y, mo, d, h, mi, s).unwrap_or_default()
        }
        _ => DateTime::default(),
    }
}
