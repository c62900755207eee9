//! `SnapshotFs`: restic's layout, listings and reads equal to the source,
//! and an inode table that stays under its cap while a tree larger than the
//! cap is walked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn::cas::{BackupOptions, Repository};
use cairn_backends::MemoryBackend;
use cairn_browse::{EntryKind, Error, FsOptions, SnapshotFs, SnapshotNames, ROOT_INODE};
use cairn_testkit::*;
use futures::io::{AsyncReadExt, AsyncSeekExt, SeekFrom};

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    futures::executor::block_on(f)
}

fn make_source(src: &Path) {
    std::fs::create_dir_all(src.join("d/deeper")).unwrap();
    std::fs::create_dir_all(src.join("empty")).unwrap();
    std::fs::write(src.join("big.bin"), random_bytes(7, 3 << 20)).unwrap();
    std::fs::write(src.join("d/small.txt"), b"small\n").unwrap();
    std::fs::write(src.join("d/deeper/nothing"), b"").unwrap();
    std::os::unix::fs::symlink("d/small.txt", src.join("link")).unwrap();
}

fn opts(host: &str, tags: &[&str]) -> BackupOptions {
    let mut o = BackupOptions::default();
    o.host = Some(host.into());
    o.tags = tags.iter().map(|t| t.to_string()).collect();
    o
}

/// The names in the directory `ino`, read a page of `page` at a time.
async fn names(fs: &SnapshotFs, ino: u64, page: usize) -> Vec<(String, EntryKind, u64)> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let got = fs.readdir(ino, at, page).await.unwrap();
        let Some(last) = got.last() else { break };
        at = last.next;
        out.extend(
            got.into_iter()
                .map(|e| (String::from_utf8(e.name).unwrap(), e.kind, e.ino)),
        );
    }
    out
}

/// Every entry below `ino` as (relative path → kind, contents or target),
/// through lookup, getattr, readdir, readlink and read, like a kernel.
async fn walk(
    fs: &SnapshotFs,
    ino: u64,
    at: &Path,
    out: &mut BTreeMap<PathBuf, (EntryKind, Vec<u8>)>,
) {
    for (name, kind, _) in names(fs, ino, 2).await {
        let a = fs.lookup(ino, name.as_bytes()).await.unwrap();
        assert_eq!(a.kind, kind, "{name}: listing and lookup agree");
        assert_eq!(fs.getattr(a.ino).unwrap(), a);
        let path = at.join(&name);
        let body = match kind {
            EntryKind::Dir => {
                Box::pin(walk(fs, a.ino, &path, out)).await;
                Vec::new()
            }
            EntryKind::Symlink => fs.readlink(a.ino).unwrap(),
            EntryKind::File => {
                // In pieces that do not line up with chunks.
                let mut data = Vec::new();
                loop {
                    let got = fs.read(a.ino, data.len() as u64, 700_001).await.unwrap();
                    if got.is_empty() {
                        break;
                    }
                    data.extend(got);
                }
                assert_eq!(data.len() as u64, a.size, "{name}: size");
                data
            }
        };
        out.insert(path, (kind, body));
        fs.forget(a.ino, 1);
    }
}

fn source_listing(src: &Path) -> BTreeMap<PathBuf, (EntryKind, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![src.to_owned()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(src).unwrap().to_owned();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let v = if m.is_symlink() {
                (
                    EntryKind::Symlink,
                    std::fs::read_link(&p)
                        .unwrap()
                        .as_os_str()
                        .as_bytes()
                        .to_vec(),
                )
            } else if m.is_dir() {
                todo.push(p.clone());
                (EntryKind::Dir, Vec::new())
            } else {
                (EntryKind::File, std::fs::read(&p).unwrap())
            };
            out.insert(rel, v);
        }
    }
    out
}

async fn setup() -> (tempfile::TempDir, PathBuf, Arc<Repository>) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_source(&src);
    let repo = Arc::new(init(Arc::new(MemoryBackend::new())).await);
    (tmp, src, repo)
}

#[test]
fn the_view_of_a_snapshot_equals_its_source() {
    block(async {
        let (_tmp, src, repo) = setup().await;
        backup_dir(&repo, &src, &opts("alpha", &["daily"])).await;
        let fs = SnapshotFs::new(Arc::clone(&repo), FsOptions::default())
            .await
            .unwrap();
        let top = Path::new("/snapshots/latest").join(src.strip_prefix("/").unwrap());
        let root = fs.resolve(&top).await.unwrap();
        assert_eq!(root.kind, EntryKind::Dir);
        let mut seen = BTreeMap::new();
        walk(&fs, root.ino, Path::new(""), &mut seen).await;
        assert_eq!(seen, source_listing(&src));

        // A reader from `open`, seeking into the middle of a chunked file.
        let big = fs.resolve(&top.join("big.bin")).await.unwrap();
        let mut r = fs.open(big.ino).await.unwrap();
        r.seek(SeekFrom::Start(1_500_000)).await.unwrap();
        let mut buf = vec![0; 4096];
        r.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, random_bytes(7, 3 << 20)[1_500_000..1_504_096]);
        // Past the end: nothing.
        assert!(fs.read(big.ino, 3 << 20, 10).await.unwrap().is_empty());
    });
}

#[test]
fn the_layout_has_snapshots_hosts_tags_and_latest_links() {
    block(async {
        let (_tmp, src, repo) = setup().await;
        backup_dir(&repo, &src, &opts("alpha", &["daily"])).await;
        std::fs::write(src.join("d/small.txt"), b"changed\n").unwrap();
        backup_dir(&repo, &src, &opts("alpha", &["daily", "daily"])).await;
        std::fs::write(src.join("d/small.txt"), b"beta's\n").unwrap();
        backup_dir(&repo, &src, &opts("be/ta", &["weekly", "daily"])).await;
        let snaps = repo.snapshots().await.unwrap();
        let fs = SnapshotFs::new(Arc::clone(&repo), FsOptions::default())
            .await
            .unwrap();

        let top: Vec<String> = names(&fs, ROOT_INODE, 100)
            .await
            .into_iter()
            .map(|n| n.0)
            .collect();
        assert_eq!(top, ["hosts", "snapshots", "tags"]);
        let hosts = fs.resolve(Path::new("/hosts")).await.unwrap();
        let hosts: Vec<String> = names(&fs, hosts.ino, 1)
            .await
            .into_iter()
            .map(|n| n.0)
            .collect();
        assert_eq!(hosts, ["alpha", "be_ta"], "a / in a host name is no path");
        let tags = fs.resolve(Path::new("/tags")).await.unwrap();
        let tags: Vec<String> = names(&fs, tags.ino, 100)
            .await
            .into_iter()
            .map(|n| n.0)
            .collect();
        assert_eq!(tags, ["daily", "weekly"]);

        // Three snapshot directories named by time (unique, even within one
        // second) and a link to the newest.
        let dir = fs.resolve(Path::new("/snapshots")).await.unwrap();
        let all = names(&fs, dir.ino, 100).await;
        assert_eq!(all.len(), 4);
        assert_eq!(all.iter().filter(|n| n.1 == EntryKind::Dir).count(), 3);
        let latest = fs.lookup(dir.ino, b"latest").await.unwrap();
        assert_eq!(latest.kind, EntryKind::Symlink);
        let target = String::from_utf8(fs.readlink(latest.ino).unwrap()).unwrap();
        assert!(all.iter().any(|n| n.0 == target));
        assert!(
            target.starts_with(&format!("{:.0}", snaps[2].1.time)),
            "{target}"
        );

        // Each group's `latest` shows its own newest snapshot.
        let file = src.strip_prefix("/").unwrap().join("d/small.txt");
        for (group, want) in [
            ("/snapshots/latest", &b"beta's\n"[..]),
            ("/hosts/alpha/latest", b"changed\n"),
            ("/tags/daily/latest", b"beta's\n"),
            ("/tags/weekly/latest", b"beta's\n"),
        ] {
            let a = fs.resolve(&Path::new(group).join(&file)).await.unwrap();
            assert_eq!(fs.read(a.ino, 0, 100).await.unwrap(), want, "{group}");
        }
        let daily = fs.resolve(Path::new("/tags/daily")).await.unwrap();
        assert_eq!(
            names(&fs, daily.ino, 100).await.len(),
            4,
            "a tag given twice lists once"
        );
        assert_eq!(fs.stats().snapshots, 3);

        // By short id instead.
        let fs = SnapshotFs::with_snapshots(
            repo,
            &snaps,
            FsOptions::default().names(SnapshotNames::ShortId),
        );
        let at = format!("/snapshots/{}", snaps[0].0.short());
        let a = fs.resolve(&Path::new(&at).join(&file)).await.unwrap();
        assert_eq!(fs.read(a.ino, 0, 100).await.unwrap(), b"small\n");
    });
}

#[test]
fn failures_are_typed_with_their_errno() {
    block(async {
        let (_tmp, src, repo) = setup().await;
        backup_dir(&repo, &src, &BackupOptions::default()).await;
        let fs = SnapshotFs::new(repo, FsOptions::default()).await.unwrap();
        let top = Path::new("/snapshots/latest").join(src.strip_prefix("/").unwrap());
        let file = fs.resolve(&top.join("d/small.txt")).await.unwrap();
        let dir = fs.resolve(&top.join("d")).await.unwrap();
        let link = fs.resolve(&top.join("link")).await.unwrap();

        let e = fs.lookup(dir.ino, b"missing").await.unwrap_err();
        assert!(matches!(e, Error::NoEntry { .. }), "{e}");
        assert_eq!(e.errno(), 2); // ENOENT
        let e = fs.readdir(file.ino, 0, 10).await.unwrap_err();
        assert_eq!(e.errno(), 20, "{e}"); // ENOTDIR
        let e = fs.lookup(file.ino, b"x").await.unwrap_err();
        assert_eq!(e.errno(), 20, "{e}");
        let e = fs.open(dir.ino).await.unwrap_err();
        assert_eq!(e.errno(), 21, "{e}"); // EISDIR
        let e = fs.readlink(file.ino).unwrap_err();
        assert_eq!(e.errno(), 22, "{e}"); // EINVAL
        let e = fs.read(link.ino, 0, 1).await.unwrap_err();
        assert_eq!(e.errno(), 22, "{e}");
        let e = fs.getattr(u64::MAX).unwrap_err();
        assert!(matches!(e, Error::StaleInode { ino: u64::MAX }), "{e}");
        assert_eq!(e.errno(), 116); // ESTALE
        assert!(fs.resolve(&top.join("../src")).await.is_err(), "no ..");
    });
}

/// 40 directories of 25 files (1 040 entries) walked with a cap of 64.
#[test]
fn the_inode_table_stays_under_its_cap_on_a_tree_larger_than_the_cap() {
    block(async {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        for d in 0..40 {
            let dir = src.join(format!("dir{d:02}"));
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..25 {
                std::fs::write(dir.join(format!("f{f:02}")), format!("{d}/{f}")).unwrap();
            }
        }
        let repo = Arc::new(init(Arc::new(MemoryBackend::new())).await);
        backup_dir(&repo, &src, &BackupOptions::default()).await;
        let cap = 64;
        let fs = SnapshotFs::new(repo, FsOptions::default().max_inodes(cap))
            .await
            .unwrap();
        let top = Path::new("/snapshots/latest").join(src.strip_prefix("/").unwrap());
        let root = fs.resolve(&top).await.unwrap();

        // A kernel's walk: list, look up (held), read, forget the leaves.
        let mut files = 0;
        let mut most = 0;
        for (d, _, _) in names(&fs, root.ino, 7).await {
            let dir = fs.lookup(root.ino, d.as_bytes()).await.unwrap();
            for (f, _, _) in names(&fs, dir.ino, 7).await {
                let a = fs.lookup(dir.ino, f.as_bytes()).await.unwrap();
                let want = format!(
                    "{}/{}",
                    d[3..].parse::<u32>().unwrap(),
                    f[1..].parse::<u32>().unwrap()
                );
                assert_eq!(fs.read(a.ino, 0, 100).await.unwrap(), want.as_bytes());
                fs.forget(a.ino, 1);
                files += 1;
                most = most.max(fs.stats().inodes);
            }
            fs.forget(dir.ino, 1);
        }
        assert_eq!(files, 1000);
        let s = fs.stats();
        assert!(most <= cap, "at most {most} inodes for a cap of {cap}");
        assert_eq!(s.held, 0);
        assert!(s.evicted >= 1040 - cap as u64, "{s:?}");

        // An evicted inode is stale, never another file.
        let e = fs.getattr(root.ino + 1).unwrap_err();
        assert!(matches!(e, Error::StaleInode { .. }), "{e}");

        // Held beyond the cap: named for the kernel to forget; forgetting
        // them brings the table back under the cap.
        let dir = fs.lookup(root.ino, b"dir00").await.unwrap();
        let mut held = Vec::new();
        for d in 1..40 {
            held.push(
                fs.lookup(root.ino, format!("dir{d:02}").as_bytes())
                    .await
                    .unwrap(),
            );
        }
        for (f, _, _) in names(&fs, dir.ino, 100).await {
            held.push(fs.lookup(dir.ino, f.as_bytes()).await.unwrap());
        }
        assert_eq!(fs.stats().held, 65);
        let over = fs.over_cap(1000);
        assert_eq!(over.len(), 1);
        // The least recently used: dir00 was used by its children's lookups.
        assert_eq!(over[0], (root.ino, b"dir01".to_vec()));
        for a in held {
            fs.forget(a.ino, 1);
        }
        fs.forget(dir.ino, 1);
        assert!(fs.stats().inodes <= cap);
        assert!(fs.over_cap(1000).is_empty());
    });
}
