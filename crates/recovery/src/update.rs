//! `Overwrite::IfChanged` updates, without writing into the old inode.
//!
//! The file already in the target may have been open elsewhere while it had
//! a wider mode or another owner: a descriptor opened then keeps reading the
//! inode, whatever its mode becomes. So the restored contents never go into
//! that inode. A fresh private file is created next to it, the chunks that
//! are already right are copied over from the old file (each one hashed
//! again on the way: the plan compared them, but the old file may have
//! changed since), the rest arrive from the packs, and the new file is
//! renamed over the old one like any replacement (restic's and rsync's habit).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileExt;

use cairn_cas_core::{ChunkHasher, NodeKind, Repository};
use cairn_crypto::ChunkId;

use crate::plan::{Action, PlannedEntry};
use crate::target;

/// A chunk of the old file to copy into the new one: (offset, length, id).
pub(crate) type Kept = (u64, u32, ChunkId);

/// Records, for every file to update, the chunks `in_place` says are already
/// right (by file number, one flag per chunk), so the restore can copy them.
pub(crate) fn record_kept(
    repo: &Repository,
    files: &mut [PlannedEntry],
    in_place: &HashMap<usize, Vec<bool>>,
) {
    for (&n, mask) in in_place {
        let Some(f) = files.get_mut(n) else { continue };
        let (Action::Update { .. }, NodeKind::File { chunks }) = (f.action, &f.node.kind) else {
            continue;
        };
        let mut offset = 0u64;
        let mut kept = Vec::new();
        for ((id, loc), same) in chunks.iter().zip(repo.locate(chunks)).zip(mask) {
            // A chunk in no index makes the file unrestorable anyway.
            let Some(loc) = loc else { break };
            let len = loc.entry.raw_length;
            if *same {
                kept.push((offset, len, *id));
            }
            offset += u64::from(len);
        }
        f.kept = kept;
    }
}

/// Starts the update of `name` in `dir`: a new temporary file holding the
/// `kept` chunks of the old one (which must still be the file compared,
/// `existing`, and still hold those chunks). Returns it with its name.
pub(crate) fn start(
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    existing: Option<(u64, u64)>,
    kept: &[Kept],
    hasher: &ChunkHasher,
) -> io::Result<(File, std::ffi::OsString)> {
    let changed = || io::Error::other("changed since the restore was planned; run it again");
    let old = target::open_in_place(dir, name, false)?
        .filter(|f| target::identity(f.as_fd()).ok() == existing)
        .ok_or_else(changed)?;
    let (new, tmp) = target::create_temp(dir, name)?;
    let copied =
        copy_kept(&old, &new, kept, hasher).and_then(
            |same| {
                if same {
                    Ok(())
                } else {
                    Err(changed())
                }
            },
        );
    if let Err(e) = copied {
        let _ = rustix::fs::unlinkat(dir, &tmp, rustix::fs::AtFlags::empty());
        return Err(e);
    }
    Ok((new, tmp))
}

/// Copies the `kept` chunks from `old` to `new`, at the same offsets, each
/// checked against its id first. `Ok(false)`: one no longer matches.
fn copy_kept(old: &File, new: &File, kept: &[Kept], hasher: &ChunkHasher) -> io::Result<bool> {
    let mut buf = Vec::new();
    for &(offset, len, id) in kept {
        buf.resize(len as usize, 0);
        match old.read_exact_at(&mut buf, offset) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(e),
        }
        if !hasher.matches(&buf, &id) {
            return Ok(false);
        }
        new.write_all_at(&buf, offset)?;
    }
    Ok(true)
}
