//! `cairn mount DIR`: every snapshot as a read-only FUSE file system
//! (restic's layout: `snapshots/`, `hosts/`, `tags/`, `latest` links).
//!
//! Thin glue: each FUSE request is one call of the library's
//! [`SnapshotFs`] (blocked on, on FUSE's thread); open files keep their
//! [`FileReader`] for the cache and read-ahead. SIGINT, SIGTERM and SIGHUP
//! unmount and end the command cleanly. A watcher thread asks the kernel to
//! forget the oldest entries it holds when it holds more than the inode
//! table's cap (`notify_inval_entry` may not be sent from a request), so a
//! walk of any size does not grow memory without bound.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use cairn::{Attr, EntryKind, FileReader, FsOptions, SnapshotFs, SnapshotNames};
use clap::Args;
use fuser::{
    FileAttr, FileType, Filesystem, MountOption, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, Request,
};
use futures::executor::block_on;
use futures::io::{AsyncReadExt, AsyncSeekExt, SeekFrom};

use crate::ctx::{Ctx, Flat};

/// How long the kernel may cache an answer: snapshots never change.
const TTL: Duration = Duration::from_secs(300);

#[derive(Debug, Args)]
pub(crate) struct MountArgs {
    /// The (empty) directory to mount on.
    dir: PathBuf,
    /// Let other users than the one mounting see the files (FUSE's
    /// `allow_other`; a non-root user needs `user_allow_other` in
    /// /etc/fuse.conf). Off by default: the snapshots hold everyone's files.
    #[arg(long)]
    allow_other: bool,
    /// Name snapshot directories by short id instead of time.
    #[arg(long)]
    short_ids: bool,
    /// Entries inside snapshots kept in memory (the inode table's cap).
    #[arg(long, default_value_t = 65_536)]
    max_inodes: usize,
}

pub(crate) async fn run(ctx: &Ctx, a: MountArgs) -> Result<ExitCode> {
    let repo = ctx.open().await?;
    let names = match a.short_ids {
        true => SnapshotNames::ShortId,
        false => SnapshotNames::Time,
    };
    let opts = FsOptions::default().max_inodes(a.max_inodes).names(names);
    let fs = Arc::new(repo.snapshot_fs(opts).await.flat()?);
    let quiet = ctx.quiet;
    // Off the executor: the FUSE loop blocks on the library's futures.
    blocking::unblock(move || serve(fs, &a, quiet)).await?;
    Ok(ExitCode::SUCCESS)
}

fn serve(fs: Arc<SnapshotFs>, a: &MountArgs, quiet: bool) -> Result<()> {
    let mut options = vec![
        MountOption::RO,
        MountOption::NoDev,
        MountOption::NoSuid,
        MountOption::DefaultPermissions,
        MountOption::FSName("cairn".into()),
        MountOption::Subtype("cairn".into()),
    ];
    if a.allow_other {
        options.push(MountOption::AllowOther);
    }
    let glue = Glue {
        fs: Arc::clone(&fs),
        files: HashMap::new(),
        next_fh: 1,
    };
    let mut session = fuser::Session::new(glue, &a.dir, &options)
        .with_context(|| format!("mounting on {}", a.dir.display()))?;
    let mut unmounter = session.unmount_callable();
    ctrlc::set_handler(move || {
        if let Err(e) = unmounter.unmount() {
            eprintln!("unmounting: {e}");
        }
    })
    .context("installing the signal handler")?;
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (done, notifier, fs) = (Arc::clone(&done), session.notifier(), Arc::clone(&fs));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                for (parent, name) in fs.over_cap(4096) {
                    // An entry gone meanwhile is not an error.
                    let _ = notifier.inval_entry(parent, OsStr::from_bytes(&name));
                }
            }
        })
    };
    if !quiet {
        let s = fs.stats();
        eprintln!(
            "{} snapshot(s) mounted read-only on {}; Ctrl-C or SIGTERM unmounts",
            s.snapshots,
            a.dir.display()
        );
    }
    let ran = session.run();
    done.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    ran.context("serving the FUSE mount")?;
    if !quiet {
        eprintln!("unmounted {}", a.dir.display());
    }
    Ok(())
}

struct Glue {
    fs: Arc<SnapshotFs>,
    files: HashMap<u64, FileReader>,
    next_fh: u64,
}

fn file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: a.ino,
        size: a.size,
        blocks: a.size.div_ceil(512),
        atime: a.mtime,
        mtime: a.mtime,
        ctime: a.ctime,
        crtime: a.mtime,
        kind: file_type(a.kind),
        perm: u16::try_from(a.perm & 0o7777).unwrap_or(0),
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

fn file_type(k: EntryKind) -> FileType {
    match k {
        EntryKind::Dir => FileType::Directory,
        EntryKind::File => FileType::RegularFile,
        EntryKind::Symlink => FileType::Symlink,
    }
}

impl Filesystem for Glue {
    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        match block_on(self.fs.lookup(parent, name.as_bytes())) {
            Ok(a) => reply.entry(&TTL, &file_attr(&a), 0),
            Err(e) => reply.error(e.errno()),
        }
    }

    fn forget(&mut self, _req: &Request<'_>, ino: u64, nlookup: u64) {
        self.fs.forget(ino, nlookup);
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        match self.fs.getattr(ino) {
            Ok(a) => reply.attr(&TTL, &file_attr(&a)),
            Err(e) => reply.error(e.errno()),
        }
    }

    fn readlink(&mut self, _req: &Request<'_>, ino: u64, reply: ReplyData) {
        match self.fs.readlink(ino) {
            Ok(target) => reply.data(&target),
            Err(e) => reply.error(e.errno()),
        }
    }

    fn open(&mut self, _req: &Request<'_>, ino: u64, flags: i32, reply: ReplyOpen) {
        if flags & libc_accmode() != 0 {
            return reply.error(EROFS);
        }
        match block_on(self.fs.open(ino)) {
            Ok(reader) => {
                let fh = self.next_fh;
                self.next_fh += 1;
                self.files.insert(fh, reader);
                reply.opened(fh, fuser::consts::FOPEN_KEEP_CACHE);
            }
            Err(e) => reply.error(e.errno()),
        }
    }

    fn read(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        fh: u64,
        offset: i64,
        size: u32,
        _flags: i32,
        _lock: Option<u64>,
        reply: ReplyData,
    ) {
        let Some(reader) = self.files.get_mut(&fh) else {
            return reply.error(EBADF);
        };
        let Ok(offset) = u64::try_from(offset) else {
            return reply.error(EINVAL);
        };
        let read = block_on(async {
            reader.seek(SeekFrom::Start(offset)).await?;
            let mut buf = Vec::with_capacity(size as usize);
            reader.take(u64::from(size)).read_to_end(&mut buf).await?;
            Ok::<_, std::io::Error>(buf)
        });
        match read {
            Ok(buf) => reply.data(&buf),
            Err(e) => {
                eprintln!("reading {}: {e}", reader.path().display());
                reply.error(e.raw_os_error().unwrap_or(EIO));
            }
        }
    }

    fn release(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        fh: u64,
        _flags: i32,
        _lock: Option<u64>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.files.remove(&fh);
        reply.ok();
    }

    fn readdir(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        mut reply: ReplyDirectory,
    ) {
        // FUSE offsets: 1 after `.`, 2 after `..`, then 2 + the library's.
        let mut at = u64::try_from(offset).unwrap_or(0);
        for (n, name) in [(1, "."), (2, "..")] {
            if at < n {
                if reply.add(ino, n as i64, FileType::Directory, name) {
                    return reply.ok();
                }
                at = n;
            }
        }
        loop {
            let page = match block_on(self.fs.readdir(ino, at - 2, 128)) {
                Ok(page) => page,
                Err(e) => return reply.error(e.errno()),
            };
            if page.is_empty() {
                return reply.ok();
            }
            for e in page {
                let next = e.next + 2;
                let name = OsStr::from_bytes(&e.name);
                if reply.add(e.ino, next as i64, file_type(e.kind), name) {
                    return reply.ok();
                }
                at = next;
            }
        }
    }
}

const EROFS: i32 = 30;
const EBADF: i32 = 9;
const EINVAL: i32 = 22;
const EIO: i32 = 5;

/// `O_ACCMODE`: an open for writing asks for 1 or 2 in these bits.
fn libc_accmode() -> i32 {
    0o3
}
