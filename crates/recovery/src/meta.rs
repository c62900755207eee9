//! Metadata and symlinks in the target: set on open handles, or for links
//! (which cannot be opened for writing) as safely as Linux allows.

use std::ffi::OsStr;
use std::io;
use std::os::fd::BorrowedFd;

use cairn_cas_core::Node;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Timespec, Timestamps};

use crate::target::{rename_over, temp_name};

fn times(node: &Node) -> Timestamps {
    let t = Timespec {
        tv_sec: node.mtime.sec,
        tv_nsec: node.mtime.nsec.into(),
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Set-user-id and set-group-id.
const SET_ID_BITS: u32 = 0o6000;

/// The mode to give an entry: the snapshot's, without set-id bits unless its
/// owner was restored too. A set-id bit means "run as the file's owner"; on a
/// file that kept our owner (root, restoring for someone else) it would turn
/// a user's setuid-to-self program into a setuid-root one. tar and rsync
/// drop them the same way.
pub(crate) fn restored_mode(node: &Node, owner_restored: bool) -> u32 {
    let mode = node.mode & 0o7777;
    if owner_restored {
        mode
    } else {
        mode & !SET_ID_BITS
    }
}

/// Sets owner (when `owners`; first, as `chown` clears set-id bits), mode and
/// times on an open file or directory. Each step is tried even if an earlier
/// one failed; the failures are returned. Set-id bits are set only when the
/// owner was (see [`restored_mode`]): not restoring owners, or a failed
/// `chown`, leaves them off.
pub(crate) fn set_metadata(fd: BorrowedFd<'_>, node: &Node, owners: bool) -> Vec<io::Error> {
    let mut errors = Vec::new();
    let mut owner_restored = false;
    if owners {
        let (uid, gid) = (rfs::Uid::from_raw(node.uid), rfs::Gid::from_raw(node.gid));
        match rfs::fchown(fd, Some(uid), Some(gid)) {
            Ok(()) => owner_restored = true,
            Err(e) => errors.push(e.into()),
        }
    }
    let mode = restored_mode(node, owner_restored);
    if let Err(e) = rfs::fchmod(fd, Mode::from_raw_mode(mode)) {
        errors.push(e.into());
    }
    // After the mode: an ACL attribute carries mode bits of its own.
    for (name, value) in &node.xattrs {
        use std::os::unix::ffi::OsStrExt;
        if let Err(e) = rfs::fsetxattr(fd, OsStr::from_bytes(name), value, rfs::XattrFlags::empty())
        {
            let name = String::from_utf8_lossy(name);
            errors.push(io::Error::new(
                io::Error::from(e).kind(),
                format!("attribute {name}: {e}"),
            ));
        }
    }
    if let Err(e) = rfs::futimens(fd, &times(node)) {
        errors.push(e.into());
    }
    errors
}

/// Creates the symlink `name -> link` in `dir` with the node's owner and
/// times. If something is at `name`, the link is made under a temporary name
/// and renamed over it (when `replace`; otherwise `AlreadyExists`).
///
/// Ownership is set through an `O_PATH` handle checked to be a symlink, so a
/// hard link swapped in under the name cannot be chowned; the times are set
/// by name with `AT_SYMLINK_NOFOLLOW` (Linux has no handle-based call for a
/// link's times), which at worst touches the times of an entry someone else
/// swapped in at that instant.
pub(crate) fn create_symlink(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    link: &OsStr,
    node: &Node,
    owners: bool,
    replace: bool,
) -> io::Result<Vec<io::Error>> {
    let (at, tmp) = match rfs::symlinkat(link, dir, name) {
        Ok(()) => (name.to_owned(), None),
        Err(rustix::io::Errno::EXIST) if replace => {
            let mut attempt = 0;
            loop {
                let tmp = temp_name(name, attempt);
                match rfs::symlinkat(link, dir, &tmp) {
                    Ok(()) => break (tmp.clone(), Some(tmp)),
                    Err(rustix::io::Errno::EXIST) if attempt < 16 => attempt += 1,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Err(e) => return Err(e.into()),
    };
    let mut errors = Vec::new();
    if owners {
        let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let r = rfs::openat(dir, &at, flags, Mode::empty()).and_then(|fd| {
            if FileType::from_raw_mode(rfs::fstat(&fd)?.st_mode) != FileType::Symlink {
                return Err(rustix::io::Errno::PERM);
            }
            let (uid, gid) = (rfs::Uid::from_raw(node.uid), rfs::Gid::from_raw(node.gid));
            rfs::chownat(&fd, "", Some(uid), Some(gid), AtFlags::EMPTY_PATH)
        });
        if let Err(e) = r {
            errors.push(e.into());
        }
    }
    if let Err(e) = rfs::utimensat(dir, &at, &times(node), AtFlags::SYMLINK_NOFOLLOW) {
        errors.push(e.into());
    }
    if let Some(tmp) = tmp {
        rename_over(dir, &tmp, name)?;
    }
    Ok(errors)
}
