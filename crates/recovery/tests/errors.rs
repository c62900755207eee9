//! Damage gets a typed error naming the object, and never silently wrong
//! data on disk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use cairn::cas::{BackupOptions, BlobKind, BlobLocation, NodeKind, PackId, Repository};
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_recovery::{check, plan_restore, CheckOptions, Error, RestoreOptions, RestorePlan};

use common::*;

/// Twelve files of 300 KB random data: with 1 MiB packs they spread over
/// several data packs.
fn make_source(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    (0..12u64)
        .map(|i| {
            let path = dir.join(format!("file-{i:02}"));
            let data = random_bytes(1000 + i, 300_000);
            std::fs::write(&path, &data).unwrap();
            (path, data)
        })
        .collect()
}

/// Each planned file's blobs: (location, offset in the file).
fn file_blobs(repo: &Repository, plan: &RestorePlan) -> HashMap<PathBuf, Vec<(BlobLocation, u64)>> {
    let index = repo.index();
    plan.files
        .iter()
        .map(|f| {
            let NodeKind::File { chunks } = &f.node.kind else {
                unreachable!()
            };
            let mut off = 0;
            let blobs = chunks
                .iter()
                .map(|c| {
                    let loc = index.get(c).unwrap();
                    let at = off;
                    off += u64::from(loc.entry.raw_length);
                    (loc, at)
                })
                .collect();
            (f.path.clone(), blobs)
        })
        .collect()
}

/// A restored file's bytes; a file is created when its first blob arrives,
/// so one whose blobs all failed is absent: read as `len` bytes of holes.
fn read_or_hole(path: &Path, len: usize) -> Vec<u8> {
    match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![0; len],
        Err(e) => panic!("{path:?}: {e}"),
    }
}

struct Fixture {
    store: Arc<MemoryBackend>,
    repo: Repository,
    src: tempfile::TempDir,
    files: Vec<(PathBuf, Vec<u8>)>,
    snapshot: cairn::cas::Snapshot,
}

async fn fixture() -> Fixture {
    let src = tempfile::tempdir().unwrap();
    let files = make_source(src.path());
    let store = Arc::new(MemoryBackend::new());
    let repo = init(store.clone()).await;
    let done = backup_dir(&repo, src.path(), &BackupOptions::default()).await;
    Fixture {
        store,
        repo,
        src,
        files,
        snapshot: done.snapshot,
    }
}

/// A data pack (holding file contents, not trees) and the files touching it.
fn pick_data_pack(
    blobs: &HashMap<PathBuf, Vec<(BlobLocation, u64)>>,
) -> (PackId, BTreeSet<PathBuf>) {
    let mut packs: Vec<PackId> = blobs
        .values()
        .flatten()
        .filter(|(l, _)| l.entry.kind == BlobKind::Data)
        .map(|(l, _)| l.pack)
        .collect();
    packs.sort();
    packs.dedup();
    assert!(
        packs.len() >= 2,
        "the fixture should span several data packs"
    );
    let pack = packs[0];
    let touched = blobs
        .iter()
        .filter(|(_, bs)| bs.iter().any(|(l, _)| l.pack == pack))
        .map(|(p, _)| p.clone())
        .collect();
    (pack, touched)
}

#[test]
fn wrong_password_is_a_typed_error() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        init(store.clone()).await;
        let err = Repository::open(store.clone(), b"not the password")
            .await
            .unwrap_err();
        assert!(matches!(err, cairn::cas::Error::WrongPassword), "{err:?}");
        assert!(Repository::open(store, PW).await.is_ok());
    });
}

#[test]
fn missing_pack_restores_the_rest_and_names_the_pack() {
    futures::executor::block_on(async {
        let fx = fixture().await;
        let target = tempfile::tempdir().unwrap();
        let ropts = RestoreOptions::new(target.path());
        let plan = plan_restore(&fx.repo, &fx.snapshot, &ropts).await.unwrap();
        let blobs = file_blobs(&fx.repo, &plan);
        let (pack, touched) = pick_data_pack(&blobs);
        fx.store.delete(&pack.key()).await.unwrap();

        let err = cairn_recovery::restore(
            &fx.repo,
            &plan,
            &ropts,
            Arc::new(cairn_recovery::NoProgress),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, Error::Incomplete { failed: 1, .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(&pack.key()),
            "error does not name {}: {err}",
            pack.key()
        );

        for (src_path, data) in &fx.files {
            let out = restored(target.path(), src_path);
            let got = read_or_hole(&out, data.len());
            assert_eq!(got.len(), data.len(), "{out:?} has the wrong size");
            for (loc, at) in &blobs[&out] {
                let range = *at as usize..(*at + u64::from(loc.entry.raw_length)) as usize;
                if loc.pack == pack {
                    // Never written: a hole of zeros, not stale or made-up bytes.
                    assert!(
                        got[range.clone()].iter().all(|&b| b == 0),
                        "{out:?} {range:?}"
                    );
                } else {
                    assert!(
                        got[range.clone()] == data[range.clone()],
                        "{out:?} {range:?}"
                    );
                }
            }
            if !touched.contains(&out) {
                assert!(got == *data, "{out:?} should be whole");
            }
        }
        assert!(!touched.is_empty());
        assert!(touched.len() < fx.files.len(), "some files must be intact");

        // check (structure only) names the missing pack too.
        let report = check(&fx.repo, &CheckOptions::default()).await.unwrap();
        assert!(!report.is_ok());
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.to_string().contains(&pack.key())),
            "{:?}",
            report.errors
        );
        drop(fx.src);
    });
}

#[test]
fn corrupt_byte_in_a_pack_is_named_and_never_written() {
    futures::executor::block_on(async {
        let fx = fixture().await;
        let target = tempfile::tempdir().unwrap();
        let ropts = RestoreOptions::new(target.path());
        let plan = plan_restore(&fx.repo, &fx.snapshot, &ropts).await.unwrap();
        let blobs = file_blobs(&fx.repo, &plan);
        let (pack, _) = pick_data_pack(&blobs);

        // Flip one byte in the middle of the first blob of that pack.
        let (victim_file, victim) = blobs
            .iter()
            .flat_map(|(p, bs)| bs.iter().map(move |b| (p.clone(), *b)))
            .filter(|(_, (l, _))| l.pack == pack)
            .min_by_key(|(_, (l, _))| l.entry.offset)
            .unwrap();
        let mut bytes = fx.store.get(&pack.key()).await.unwrap().to_vec();
        let at = victim.0.entry.offset as usize + victim.0.entry.length as usize / 2;
        bytes[at] ^= 0x40;
        fx.store
            .put(&pack.key(), Bytes::from(bytes), PutMode::Overwrite)
            .await
            .unwrap();

        let err = cairn_recovery::restore(
            &fx.repo,
            &plan,
            &ropts,
            Arc::new(cairn_recovery::NoProgress),
        )
        .await
        .unwrap_err();
        let Error::Incomplete {
            failed: 1, first, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert!(
            matches!(
                &**first,
                Error::Repository(
                    cairn::cas::Error::Authentication { object }
                    | cairn::cas::Error::ChunkIdMismatch { object, .. }
                ) if object.starts_with(&pack.key())
            ),
            "{first:?}"
        );
        assert!(err.to_string().contains(&pack.key()), "{err}");

        let (loc, off) = victim;
        let got = read_or_hole(
            &victim_file,
            (off + u64::from(loc.entry.raw_length)) as usize,
        );
        let range = off as usize..(off + u64::from(loc.entry.raw_length)) as usize;
        assert!(
            got[range.clone()].iter().all(|&b| b == 0),
            "the corrupted blob's region of {victim_file:?} must stay unwritten"
        );
        // Whatever was written anywhere is the original data.
        for (src_path, data) in &fx.files {
            let out = restored(target.path(), src_path);
            let got = read_or_hole(&out, data.len());
            for (loc, at) in &blobs[&out] {
                let r = *at as usize..(*at + u64::from(loc.entry.raw_length)) as usize;
                let region = &got[r.clone()];
                assert!(
                    region == &data[r.clone()] || region.iter().all(|&b| b == 0),
                    "{out:?} {r:?} holds bytes that are neither the original nor a hole"
                );
                if loc.pack != pack {
                    assert!(region == &data[r.clone()], "{out:?} {r:?} intact pack");
                }
            }
        }

        // check: structure alone cannot see it; reading the data names the pack.
        let quick = check(&fx.repo, &CheckOptions::default()).await.unwrap();
        assert!(quick.is_ok(), "{:?}", quick.errors);
        let full = check(&fx.repo, &CheckOptions::default().read_data(1.0))
            .await
            .unwrap();
        assert_eq!(full.packs_read, full.packs);
        assert_eq!(full.errors.len(), 1, "{:?}", full.errors);
        assert!(
            full.errors[0].to_string().contains(&pack.key()),
            "{:?}",
            full.errors
        );
        drop(fx.src);
    });
}

#[test]
fn damaged_snapshot_objects_are_named() {
    futures::executor::block_on(async {
        let fx = fixture().await;
        let ids = keys_under(&*fx.store, "snapshots/").await;
        assert_eq!(ids.len(), 1);
        let key = ids[0].clone();
        let id: cairn::cas::SnapshotId = key.trim_start_matches("snapshots/").parse().unwrap();
        let good = fx.store.get(&key).await.unwrap();

        // Truncated in place: the contents no longer match the name.
        fx.store
            .put(&key, good.slice(..good.len() / 2), PutMode::Overwrite)
            .await
            .unwrap();
        let err = fx.repo.load_snapshot(&id).await.unwrap_err();
        assert!(
            matches!(&err, cairn::cas::Error::Corrupt { object, .. } if *object == key),
            "{err:?}"
        );
        let err = fx
            .repo
            .find_snapshot(&Default::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains(&key), "{err}");

        // Garbage stored under its own hash: passes the name check, fails to parse.
        fx.store.put(&key, good, PutMode::Overwrite).await.unwrap();
        let garbage = Bytes::from_static(b"this is not a snapshot record at all");
        let gid = blake3_hex(&garbage);
        let gkey = format!("snapshots/{gid}");
        fx.store
            .put(&gkey, garbage, PutMode::CreateOnly)
            .await
            .unwrap();
        let err = fx.repo.load_snapshot(&gid).await.unwrap_err();
        assert!(
            matches!(&err, cairn::cas::Error::Corrupt { object, .. } if *object == gkey),
            "{err:?}"
        );

        // A sealed record with one flipped byte, stored under its new hash:
        // fails authentication, naming the object.
        let mut forged = fx.store.get(&key).await.unwrap().to_vec();
        let mid = forged.len() / 2;
        forged[mid] ^= 1;
        let fid = blake3_hex(&forged);
        let fkey = format!("snapshots/{fid}");
        fx.store
            .put(&fkey, Bytes::from(forged), PutMode::CreateOnly)
            .await
            .unwrap();
        let err = fx.repo.load_snapshot(&fid).await.unwrap_err();
        assert!(
            matches!(&err, cairn::cas::Error::Authentication { object } if *object == fkey),
            "{err:?}"
        );
        // The intact one still loads.
        assert!(fx.repo.load_snapshot(&id).await.is_ok());
    });
}

/// BLAKE3 of `bytes`, hex: how snapshot objects are named (a pack id is the
/// same hash).
fn blake3_hex(bytes: &[u8]) -> cairn::cas::SnapshotId {
    cairn::cas::SnapshotId::of(bytes)
}

/// A restore that loses one pack still restores everything else whole:
/// symlinks, and the modes and times of intact files and directories.
#[test]
fn partial_restore_still_creates_symlinks_and_metadata() {
    futures::executor::block_on(async {
        let src = tempfile::tempdir().unwrap();
        let files = make_source(src.path());
        std::os::unix::fs::symlink("file-00", src.path().join("link")).unwrap();
        for (i, (p, _)) in files.iter().enumerate() {
            let mode = if i % 2 == 0 { 0o600 } else { 0o640 };
            std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .unwrap();
            filetime::set_file_mtime(
                p,
                filetime::FileTime::from_unix_time(1_000_000 + i as i64, 7),
            )
            .unwrap();
        }
        let store = Arc::new(MemoryBackend::new());
        let repo = init(store.clone()).await;
        let done = backup_dir(&repo, src.path(), &BackupOptions::default()).await;
        let target = tempfile::tempdir().unwrap();
        let ropts = RestoreOptions::new(target.path());
        let plan = plan_restore(&repo, &done.snapshot, &ropts).await.unwrap();
        let blobs = file_blobs(&repo, &plan);
        let (pack, touched) = pick_data_pack(&blobs);
        store.delete(&pack.key()).await.unwrap();
        let r = cairn_recovery::restore(&repo, &plan, &ropts, Arc::new(cairn_recovery::NoProgress))
            .await;
        assert!(matches!(r, Err(Error::Incomplete { .. })));

        let out = restored(target.path(), src.path());
        assert_eq!(
            std::fs::read_link(out.join("link")).ok(),
            Some(PathBuf::from("file-00")),
            "the symlink was not restored"
        );
        let want = listing(src.path());
        let got = listing(&out);
        for (rel, entry) in &want {
            if touched.contains(&out.join(rel)) {
                continue;
            }
            assert_eq!(got.get(rel), Some(entry), "{rel:?}");
        }
    });
}

/// A stream that fails part way must fail the backup: a snapshot of a
/// truncated stream would be silently wrong data.
#[test]
fn stream_read_error_fails_the_backup() {
    struct Failing {
        left: usize,
    }
    impl futures::io::AsyncRead for Failing {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            if self.left == 0 {
                return std::task::Poll::Ready(Err(std::io::Error::other("disk on fire")));
            }
            let n = buf.len().min(self.left);
            buf[..n].fill(0x5a);
            self.left -= n;
            std::task::Poll::Ready(Ok(n))
        }
    }
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let repo = init(store.clone()).await;
        let r = cairn::cas::backup_stream(
            &repo,
            Failing { left: 3 << 20 },
            "dump",
            &BackupOptions::default(),
            Arc::new(cairn::cas::NoProgress),
        )
        .await;
        let err = r.unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");
        assert!(keys_under(&*store, "snapshots/").await.is_empty());
    });
}

/// One unreadable snapshot object (damaged, or written by a newer version)
/// must not stop `check` from reporting it and checking everything else.
#[test]
fn check_reports_a_damaged_snapshot_and_goes_on() {
    futures::executor::block_on(async {
        let fx = fixture().await;
        let garbage = Bytes::from_static(b"CRNS\x01 not a sealed record");
        let gkey = format!("snapshots/{}", blake3_hex(&garbage));
        fx.store
            .put(&gkey, garbage, PutMode::CreateOnly)
            .await
            .unwrap();
        let report = check(&fx.repo, &CheckOptions::default())
            .await
            .expect("check should report, not fail");
        assert_eq!(report.snapshots, 1, "the intact snapshot is still checked");
        assert!(
            report.errors.iter().any(|e| e.to_string().contains(&gkey)),
            "{:?}",
            report.errors
        );
        drop(fx.src);
    });
}

/// One unreadable snapshot object must not stop new backups (they list
/// snapshots only to find a parent) or the selection of intact snapshots.
#[test]
fn damaged_snapshot_does_not_block_backups() {
    futures::executor::block_on(async {
        let fx = fixture().await;
        let garbage = Bytes::from_static(b"CRNS\x01 not a sealed record");
        let gkey = format!("snapshots/{}", blake3_hex(&garbage));
        fx.store
            .put(&gkey, garbage, PutMode::CreateOnly)
            .await
            .unwrap();
        let r = cairn::cas::backup(
            &fx.repo,
            &[fx.src.path().to_owned()],
            &BackupOptions::default(),
            Arc::new(cairn::cas::NoProgress),
        )
        .await;
        assert!(r.is_ok(), "{:?}", r.err());
        let picked = fx.repo.find_snapshot(&Default::default()).await;
        assert!(picked.is_ok(), "{:?}", picked.err());
    });
}
