//! Reading the source without being fooled by it: entries below a directory
//! are stat'ed and opened relative to that directory's handle with
//! `O_NOFOLLOW` (and `O_NONBLOCK`, so a FIFO swapped in cannot block the
//! open), and what was opened is checked to be what was stat'ed (device,
//! inode, type). A file swapped for a link to `/etc/shadow` between the stat
//! and the open is therefore skipped with a warning, never read.

use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use crate::tree::Timestamp;

/// The kind of a source entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
    Symlink,
    /// FIFO, socket or device.
    Special,
}

/// What the walker needs of a `stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) kind: Kind,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) mtime: Timestamp,
    pub(crate) ctime: Timestamp,
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) size: u64,
    pub(crate) nlink: u32,
}

pub(crate) fn ts(sec: i64, nsec: i64) -> Timestamp {
    Timestamp {
        sec,
        nsec: nsec.clamp(0, 999_999_999) as u32,
    }
}

fn kind(mode: u32) -> Kind {
    match FileType::from_raw_mode(mode) {
        FileType::Directory => Kind::Dir,
        FileType::RegularFile => Kind::File,
        FileType::Symlink => Kind::Symlink,
        _ => Kind::Special,
    }
}

impl Meta {
    pub(crate) fn from_std(m: &Metadata) -> Self {
        Meta {
            kind: kind(m.mode()),
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            mtime: ts(m.mtime(), m.mtime_nsec()),
            ctime: ts(m.ctime(), m.ctime_nsec()),
            dev: m.dev(),
            ino: m.ino(),
            size: if m.is_dir() { 0 } else { m.len() },
            nlink: u32::try_from(m.nlink()).unwrap_or(u32::MAX),
        }
    }

    // `Stat`'s field types differ between architectures; some conversions
    // are identities on some of them.
    #[allow(clippy::useless_conversion)]
    fn from_stat(st: &rfs::Stat) -> Self {
        let k = kind(st.st_mode);
        Meta {
            kind: k,
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
            mtime: ts(
                i64::from(st.st_mtime),
                i64::try_from(st.st_mtime_nsec).unwrap_or(0),
            ),
            ctime: ts(
                i64::from(st.st_ctime),
                i64::try_from(st.st_ctime_nsec).unwrap_or(0),
            ),
            dev: u64::from(st.st_dev),
            ino: u64::from(st.st_ino),
            size: if k == Kind::Dir {
                0
            } else {
                u64::try_from(st.st_size).unwrap_or(0)
            },
            nlink: u32::try_from(st.st_nlink).unwrap_or(u32::MAX),
        }
    }

    /// Whether `other` is the same object (a content change keeps this true).
    fn same_object(&self, other: &Meta) -> bool {
        (self.dev, self.ino, self.kind) == (other.dev, other.ino, other.kind)
    }
}

/// Where an entry is: `name` in the directory `dir`, or `path` when no
/// directory handle is held (the paths given to the backup).
#[derive(Clone, Copy)]
pub(crate) struct At<'a> {
    pub(crate) dir: Option<BorrowedFd<'a>>,
    pub(crate) path: &'a Path,
    pub(crate) name: &'a OsStr,
}

impl At<'_> {
    fn dirfd(&self) -> BorrowedFd<'_> {
        self.dir.unwrap_or(rfs::CWD)
    }
    /// What the `*at` calls name: the entry's name under its directory's
    /// handle, or its path.
    fn rel(&self) -> &OsStr {
        if self.dir.is_some() {
            self.name
        } else {
            self.path.as_os_str()
        }
    }
}

/// `lstat` of the entry.
pub(crate) fn lstat(at: At<'_>) -> io::Result<Meta> {
    Ok(Meta::from_stat(&rfs::statat(
        at.dirfd(),
        at.rel(),
        AtFlags::SYMLINK_NOFOLLOW,
    )?))
}

/// The target of the symlink.
pub(crate) fn readlink(at: At<'_>) -> io::Result<Vec<u8>> {
    Ok(rfs::readlinkat(at.dirfd(), at.rel(), Vec::new())?.into_bytes())
}

/// Why an entry could not be opened as what it was stat'ed as.
pub(crate) enum OpenError {
    /// It was replaced between the stat and the open (by a link, a FIFO,
    /// another file): described.
    Replaced(String),
    /// Any other error.
    Io(io::Error),
}

impl From<rustix::io::Errno> for OpenError {
    fn from(e: rustix::io::Errno) -> Self {
        OpenError::Io(e.into())
    }
}

fn open_checked(at: At<'_>, flags: OFlags, expect: &Meta) -> Result<(OwnedFd, Meta), OpenError> {
    let flags = flags | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rfs::openat(at.dirfd(), at.rel(), flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::LOOP) => {
            return Err(OpenError::Replaced("replaced by a symlink".into()))
        }
        Err(rustix::io::Errno::NOTDIR) if expect.kind == Kind::Dir => {
            return Err(OpenError::Replaced("no longer a directory".into()))
        }
        Err(e) => return Err(e.into()),
    };
    let now = Meta::from_stat(&rfs::fstat(&fd)?);
    if !now.same_object(expect) {
        return Err(OpenError::Replaced(format!(
            "replaced between stat and open (now a {:?}, inode {})",
            now.kind, now.ino
        )));
    }
    Ok((fd, now))
}

/// Opens the regular file stat'ed as `expect`, for reading.
pub(crate) fn open_file(at: At<'_>, expect: &Meta) -> Result<(File, Meta), OpenError> {
    let (fd, now) = open_checked(at, OFlags::RDONLY, expect)?;
    Ok((File::from(fd), now))
}

/// Opens the directory stat'ed as `expect`.
pub(crate) fn open_dir(at: At<'_>, expect: &Meta) -> Result<OwnedFd, OpenError> {
    Ok(open_checked(at, OFlags::RDONLY | OFlags::DIRECTORY, expect)?.0)
}

/// The names in the directory (without `.` and `..`).
pub(crate) fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut d = rfs::Dir::read_from(dir)?;
    while let Some(e) = d.read() {
        let name = e?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            out.push(name);
        }
    }
    Ok(out)
}

/// The current `fstat` of an open file.
pub(crate) fn fstat(f: &File) -> io::Result<Meta> {
    Ok(Meta::from_stat(&rfs::fstat(f.as_fd())?))
}

/// Whether `name` exists in `dir` (not following a link).
pub(crate) fn exists(dir: BorrowedFd<'_>, name: &OsStr) -> bool {
    rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok()
}

/// The first `n` bytes of the regular file `name` in `dir` (fewer if it is
/// shorter); `None` if it is not a readable regular file.
pub(crate) fn read_prefix(dir: BorrowedFd<'_>, name: &OsStr, n: usize) -> Option<Vec<u8>> {
    use std::io::Read;
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rfs::openat(dir, name, flags, Mode::empty()).ok()?;
    if kind(rfs::fstat(&fd).ok()?.st_mode) != Kind::File {
        return None;
    }
    let mut buf = Vec::with_capacity(n);
    File::from(fd).take(n as u64).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// Extended attributes beyond this many bytes in all (names and values) are
/// not kept: the walker's memory per entry stays bounded.
const XATTR_BUDGET: usize = 256 << 10;

/// The extended attributes of an open file or directory, sorted by name.
/// Unsupported file systems (and attributes that vanish meanwhile) give none.
pub(crate) fn xattrs(fd: BorrowedFd<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
    // Most files have no attributes: ask with a small buffer on the stack
    // first. Two zeroed 64 KiB buffers per file were ~3% of a backup of
    // 300 000 small files (`perf`: memset).
    let mut small = [0u8; 256];
    let mut big = Vec::new();
    let names: &[u8] = match rfs::flistxattr(fd, &mut small[..]) {
        Ok(0) => return Vec::new(),
        Ok(n) => &small[..n],
        Err(rustix::io::Errno::RANGE) => {
            big.resize(64 << 10, 0);
            match rfs::flistxattr(fd, &mut big[..]) {
                Ok(n) => &big[..n],
                Err(_) => return Vec::new(),
            }
        }
        Err(_) => return Vec::new(),
    };
    let mut out = Vec::new();
    let mut used = 0;
    let mut value = vec![0u8; 64 << 10];
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let Ok(len) = rfs::fgetxattr(fd, OsStr::from_bytes(name), &mut value[..]) else {
            continue;
        };
        used += name.len() + len;
        if used > XATTR_BUDGET {
            break;
        }
        out.push((name.to_vec(), value[..len].to_vec()));
    }
    out.sort();
    out
}
